/**
 * Namespaces for the datagram cable tests and the bench: two namespaces
 * joined by a veth, addressed, with a route for multicast on the veth (so a
 * group never leaves the pair), and stdio plugs (Debian's `vde_plug` or
 * ours) running inside them, or reached as in-process links (cmd://) for the
 * Link conformance suite. Multicast TTL stays 1 (the VNLs' default).
 */
import assert from "node:assert/strict";
import { openLink } from "../../src/link/registry.ts";
import type { Link } from "../../src/link/link.ts";
import { canNetns, Lab, type Netns } from "./netns.ts";
import { hasCommand, registerCleanup } from "./processes.ts";
import { BROADCAST, ethFrame, mac, ourCli, StdioClient, tagOf } from "./vde_clients.ts";

/** Two namespaces on one veth. */
export interface Pair {
  a: Netns;
  b: Netns;
  addrA: string;
  addrB: string;
}

let subnet = 0;

/** Makes namespaces a and b joined by veth v0 (10.2xx.N.1 and .2), multicast routed onto it. */
export async function vethPair(lab: Lab): Promise<Pair> {
  const net = `10.${230 + (subnet++ % 20)}.${Deno.pid % 250}`;
  const a = await lab.namespace("a");
  const b = await lab.namespace("b");
  await lab.veth(a, "v0", b, "v0");
  await a.addr("v0", `${net}.1/24`);
  await b.addr("v0", `${net}.2/24`);
  for (const ns of [a, b]) await ns.run(["ip", "route", "add", "224.0.0.0/4", "dev", "v0"]);
  return { a, b, addrA: `${net}.1`, addrB: `${net}.2` };
}

/** Turns multicast on for lo in `ns` and routes groups there (members on one host). */
export async function loopbackMulticast(ns: Netns): Promise<void> {
  await ns.run(["ip", "link", "set", "lo", "multicast", "on"]);
  await ns.run(["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]);
}

/** Who runs a plug. */
export type Side = "debian" | "ours";

/** A stdio plug on `vnl` inside `ns`: Debian's vde_plug or ours. */
export function plugIn(ns: Netns, side: Side, vnl: string): StdioClient {
  const cmd = side === "debian" ? ["vde_plug", vnl] : [...ourCli(), "plug", vnl];
  return new StdioClient(ns.exec(cmd), `${side} ${vnl} in ${ns.short}`);
}

/** null when namespaces and (for Debian) vde_plug are available, else why not. */
export async function missing(needVdePlug: boolean): Promise<string | null> {
  const n = await canNetns();
  if (n !== null) return n;
  if (needVdePlug && !(await hasCommand("vde_plug"))) return "vde_plug is not installed";
  return null;
}

/**
 * Sends frames between two started plugs until the first crosses (the
 * plugs take a moment to join), then checks a broadcast each way and, when
 * `unicastFrom` allows it, unicast frames to MACs the far side learnt.
 */
export async function exchange(
  x: StdioClient,
  y: StdioClient,
  opts: { unicastFromX?: boolean; unicastFromY?: boolean; tagBase?: number } = {},
): Promise<void> {
  const base = opts.tagBase ?? 1000;
  const macX = mac(0x100 + base % 256);
  const macY = mac(0x200 + base % 256);
  // Start-up: repeat a broadcast until it crosses.
  let tag = base;
  const deadline = Date.now() + 20_000;
  for (;;) {
    await x.send(ethFrame(BROADCAST, macX, tag, 100));
    try {
      await y.waitTag(tag, 300);
      break;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`no frame crossed from ${x.name} to ${y.name}\n${x.stderr}\n${y.stderr}`);
      }
      tag++;
    }
  }
  await y.send(ethFrame(BROADCAST, macY, base + 100, 1500));
  assert.equal(tagOf(await x.waitTag(base + 100, 5000)), base + 100);
  if (opts.unicastFromX ?? true) {
    const f = ethFrame(macY, macX, base + 200, 1514);
    await x.send(f);
    const got = await y.waitTag(base + 200, 5000);
    assert.deepEqual(got, f, "unicast frame intact");
  }
  if (opts.unicastFromY ?? true) {
    const f = ethFrame(macX, macY, base + 300, 60);
    await y.send(f);
    assert.deepEqual(await x.waitTag(base + 300, 5000), f, "unicast frame intact");
  }
  // A burst in order.
  await x.send(...Array.from({ length: 20 }, (_, i) => ethFrame(BROADCAST, macX, base + 400 + i, 200)));
  await y.waitTag(base + 419, 5000);
  const burst = y.frames.map(tagOf).filter((t) => t >= base + 400 && t < base + 420);
  assert.deepEqual(burst, Array.from({ length: 20 }, (_, i) => base + 400 + i));
}

/** Two in-process links and how to take them down (the conformance suite's pair). */
export interface NetnsLinks {
  a: Link;
  b: Link;
  closePropagates: boolean;
  cleanup(): Promise<void>;
}

/**
 * Our `vde plug VNL -` in each namespace of a fresh veth pair, reached from
 * this process as cmd:// links, returned once a frame crosses each way (the
 * plugs take a moment to join) and the start-up frames have drained.
 *
 * Drained is proven, not guessed from a quiet spell: each way is a FIFO
 * (pipe, plug, one UDP flow, plug, pipe), so once a fence frame sent after
 * the last start-up frame has arrived, nothing sent before it is still on
 * its way. (A quiet spell of 300 ms was not enough on a loaded machine: a
 * plug descheduled longer let a start-up frame arrive inside a test.)
 */
export async function netnsLinks(vnl: string): Promise<NetnsLinks> {
  const lab = new Lab();
  const unregister = registerCleanup(() => lab.teardown());
  const links: Link[] = [];
  const down = async () => {
    for (const l of links) l.close();
    await Promise.all(links.map((l) => l.closed));
    await lab.teardown();
    unregister();
  };
  try {
    const p = await vethPair(lab);
    for (const ns of [p.a, p.b]) {
      links.push(await openLink(`cmd://${ns.exec([...ourCli(), "plug", vnl, "-"]).join(" ")}`));
    }
    const [a, b] = links as [Link, Link];
    await crossOnce(a, b, 1);
    await crossOnce(b, a, 2);
    await fence(a, b, 3);
    await fence(b, a, 4);
    a.onFrame = b.onFrame = () => {};
    return { a, b, closePropagates: false, cleanup: down };
  } catch (err) {
    await down();
    throw err;
  }
}

/**
 * Sends a fence frame from `from` and waits until it reaches `to`; a fence
 * that does not come within 2 s is replaced by a new one and only the
 * newest counts (an older one arriving late proves nothing about the frames
 * sent after it). 30 s at most.
 */
async function fence(from: Link, to: Link, n: number): Promise<void> {
  let latest = -1;
  let arrived = false;
  to.onFrame = (f) => {
    if (tagOf(f) === latest) arrived = true;
  };
  const deadline = Date.now() + 30_000;
  for (let i = 0; !arrived; i++) {
    if (Date.now() > deadline) throw new Error(`no fence frame crossed from ${from.description} in 30 s`);
    latest = 0xff000 + n * 0x100 + i;
    from.send(ethFrame(BROADCAST, mac(0x300 + n), latest, 60));
    const until = Date.now() + 2000;
    while (!arrived && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends start-up frames from `from` until one reaches `to` (20 s at most). */
async function crossOnce(from: Link, to: Link, n: number): Promise<void> {
  let arrived = false;
  to.onFrame = () => (arrived = true);
  const deadline = Date.now() + 20_000;
  while (!arrived) {
    if (Date.now() > deadline) throw new Error(`no frame crossed from ${from.description} in 20 s`);
    from.send(ethFrame(BROADCAST, mac(0x300 + n), 0xfff0 + n, 60));
    await new Promise((r) => setTimeout(r, 200));
  }
}
