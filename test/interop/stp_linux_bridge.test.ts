/**
 * Spanning tree against the Linux kernel's bridge (802.1D) in a network
 * namespace: our switch (running in the same namespace) opens two taps that
 * are enslaved to a `stp_state 1` bridge with fast timers (forward delay
 * 2 s, hello 1 s, max age 6 s), so the two form a loop. A host namespace
 * hangs off the kernel bridge, a raw client off our switch.
 *
 * (a) The kernel bridge has priority 4096: we agree it is root and block
 * exactly one of our two tap ports. (b) We have priority 4096: the kernel's
 * sysfs `bridge/root_id` is our bridge id and exactly one of its ports is
 * blocking (state 4). In both, a broadcast from the host arrives once, and
 * when the forwarding link is cut the blocked port forwards within max age
 * + 2 x forward delay. The kernel's state is read from sysfs (Debian 12's
 * `ip -d link` prints a wrong designated root). tcpdump and tshark must
 * decode the BPDUs we send as well-formed STP (config, to the kernel) and
 * RSTP (to a port that speaks RSTP).
 */
import assert from "node:assert/strict";
import type { MgmtClient } from "../../src/console/client.ts";
import { isBpduDestination } from "../../src/wire/stp.ts";
import { tagOf, testFrame } from "../helpers/framed_peers.ts";
import { type Lab, labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, run, skipUnless, waitFor } from "../helpers/processes.ts";
import { RawClient, sleep } from "../helpers/vde_clients.ts";
import { startStpSwitchIn, type StpRow, stpRows } from "./_stp.ts";

const MAX_AGE = 6;
const FORWARD_DELAY = 2;

interface Rig {
  k: Netns;
  host: Netns;
  console: MgmtClient;
  client: RawClient;
  dir: string;
}

async function sysfs(ns: Netns, path: string): Promise<string> {
  return (await ns.run(["cat", `/sys/class/net/${path}`])).stdout.trim();
}

/** The kernel bridge's ports t1 and t2: sysfs brport/state (3 forwarding, 4 blocking). */
async function kernelStates(k: Netns): Promise<number[]> {
  return [Number(await sysfs(k, "t1/brport/state")), Number(await sysfs(k, "t2/brport/state"))];
}

async function setup(lab: Lab, kernelPriority: number, ourPriority: number): Promise<Rig> {
  const k = await lab.namespace("k");
  const host = await lab.namespace("h");
  await k.run([
    "ip",
    "link",
    "add",
    "br0",
    "type",
    "bridge",
    "stp_state",
    "1",
    "priority",
    String(kernelPriority),
    "forward_delay",
    String(FORWARD_DELAY * 100),
    "hello_time",
    "100",
    "max_age",
    String(MAX_AGE * 100),
  ]);
  await k.run(["ip", "link", "set", "br0", "up"]);
  await lab.veth(host, "eth0", k, "vh");
  await k.run(["ip", "link", "set", "vh", "master", "br0", "up"]);
  await host.run(["ip", "link", "set", "eth0", "up"]);
  const tmp = await lab.tempDir();
  const dir = `${tmp}/sw`;
  const rc = `${tmp}/rc`;
  await Deno.writeTextFile(rc, `stp/settimers 1 ${MAX_AGE} ${FORWARD_DELAY}\n`);
  const console = await startStpSwitchIn(lab, k, tmp, ["--priority", String(ourPriority), "-f", rc]);
  for (const tap of ["t1", "t2"]) await k.run(["ip", "link", "set", tap, "master", "br0", "up"]);
  const client = await RawClient.open(dir, 5);
  lab.defer(() => client.close());
  return { k, host, console, client, dir };
}

/** Sends broadcast test frame `tag` from the host namespace through the kernel bridge. */
async function hostBroadcast(host: Netns, tag: number): Promise<void> {
  const hex = Array.from(testFrame(tag), (b) => b.toString(16).padStart(2, "0")).join("");
  await host.run([
    "python3",
    "-c",
    "import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('eth0', 0)); " +
    "s.send(bytes.fromhex(sys.argv[1]))",
    hex,
  ]);
}

/** Sends `tag` from the host; returns how many copies the raw client on our switch got. */
async function copiesSeen(rig: Rig, tag: number): Promise<number> {
  await hostBroadcast(rig.host, tag);
  await sleep(1000);
  rig.client.poll();
  return rig.client.frames.filter((f) => tagOf(f) === tag).length;
}

/**
 * Sends a broadcast from the host every 100 ms until the raw client on our switch gets the one sent
 * last; ms from `since`. Throws after `timeoutMs` naming `why`.
 */
async function waitTraffic(rig: Rig, since: number, firstTag: number, timeoutMs: number, why: string) {
  let tag = firstTag - 1;
  const { ms } = await waitFor(async () => {
    rig.client.poll();
    if (tag >= firstTag && rig.client.frames.some((f) => tagOf(f) === tag)) return { ms: Date.now() - since };
    await hostBroadcast(rig.host, ++tag);
    return false;
  }, { timeoutMs, intervalMs: 100, what: `a broadcast from the host to reach our raw client ${why}` });
  return ms;
}

function tapRows(rows: StpRow[]): StpRow[] {
  return rows.filter((r) => r.port === 1 || r.port === 2);
}

async function missing(): Promise<string | null> {
  return (await labMissing(["python3", "tcpdump", "tshark"])) ??
    ((await hasCommand("deno")) ? null : "deno is not on PATH");
}

Deno.test("Linux bridge as root (priority 4096): we block one of two links; a broadcast arrives once; failover", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const rig = await setup(lab, 4096, 32768);
    const kernelId = await sysfs(rig.k, "br0/bridge/bridge_id");
    assert.match(kernelId, /^1000\./);
    let rows: StpRow[] = [];
    await waitFor(async () => {
      rows = await stpRows(rig.console);
      const taps = tapRows(rows);
      const states = await kernelStates(rig.k);
      return taps.length === 2 && taps.filter((r) => r.state === "forwarding").length === 1 &&
        taps.some((r) => r.role === "root") && states.every((s) => s === 3) &&
        rows.find((r) => r.port === 5)?.state === "forwarding";
    }, { timeoutMs: 40_000, what: `convergence with the kernel as root (ours: ${JSON.stringify(rows)})` });
    const stp = (await rig.console.command("stp")).lines ?? [];
    assert.ok(stp.some((l) => l.startsWith("designated root") && l.includes(kernelId)), stp.join("\n"));
    const blocked = tapRows(rows).find((r) => r.state !== "forwarding")!;
    assert.equal(blocked.role, "alternate");
    // The kernel's word for it: the port fell back to 802.1D (RSTP's discarding is for a port speaking RSTP).
    assert.equal(blocked.state, "blocking");
    // Both our tap ports fell back to 802.1D: the kernel ignores RST BPDUs.
    assert.ok(stp.filter((l) => /^\s+[12]\s.*\sstp\s/.test(l)).length === 2, stp.join("\n"));
    assert.equal(await copiesSeen(rig, 1), 1);

    // Cut our forwarding link (the root port's tap) on the kernel's side.
    const rootPort = tapRows(rows).find((r) => r.role === "root")!.port;
    await rig.k.run(["ip", "link", "set", `t${rootPort}`, "down"]);
    const ms = await waitTraffic(rig, Date.now(), 100, 20_000, "after our root port's link went down");
    console.log(`  traffic restored ${ms} ms after the link went down`);
    assert.ok(ms <= (MAX_AGE + 2 * FORWARD_DELAY) * 1000, `restored after ${ms} ms`);
    const after = await stpRows(rig.console);
    assert.equal(after.find((r) => r.role === "root")?.port, rootPort === 1 ? 2 : 1);
  });
});

Deno.test("our switch as root (priority 4096): the kernel bridge adopts our id and blocks one link; failover; tcpdump and tshark decode our BPDUs", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const rig = await setup(lab, 32768, 4096);
    const showinfo = (await rig.console.command("fstp/showinfo")).lines ?? [];
    const mac = /^MAC (\S+)/.exec(showinfo[0] ?? "")![1]!.replaceAll(":", "");
    const ourId = `1000.${mac}`;
    await waitFor(async () => {
      const states = await kernelStates(rig.k);
      return (await sysfs(rig.k, "br0/bridge/root_id")) === ourId && states.filter((s) =>
            s === 4
          ).length === 1 &&
        states.filter((s) => s === 3).length === 1;
    }, { timeoutMs: 40_000, what: "the kernel bridge to take us as root and block one port" });
    assert.notEqual(await sysfs(rig.k, "br0/bridge/root_port"), "0");
    for (const tap of ["t1", "t2"]) {
      assert.equal(await sysfs(rig.k, `${tap}/brport/designated_bridge`), ourId);
    }
    const rows = await stpRows(rig.console);
    await waitFor(async () => tapRows(await stpRows(rig.console)).every((r) => r.state === "forwarding"), {
      timeoutMs: 20_000,
      what: `our designated ports to forward (${JSON.stringify(rows)})`,
    });
    assert.equal(await copiesSeen(rig, 1), 1);

    // The wire: the kernel hears config BPDUs from us; tcpdump and tshark decode them without complaint.
    const dump = await rig.k.run(
      ["timeout", "5", "tcpdump", "-c", "2", "-nevvi", "t1", "ether", "dst", "01:80:c2:00:00:00"],
      { check: false, timeoutMs: 10_000 },
    );
    assert.match(dump.stdout, /STP 802\.1d, Config, Flags \[[^\]]*\], bridge-id 1000\.[0-9a-f:.]+\.8001/);
    assert.match(
      dump.stdout,
      new RegExp(`root-id 1000\\.${mac.replace(/(..)(?!$)/g, "$1:")}, root-pathcost 0`),
    );
    assert.match(dump.stdout, /max-age 6\.00s, hello-time 1\.00s, forwarding-delay 2\.00s/);
    const shark = await rig.k.run(["timeout", "8", "tshark", "-i", "t1", "-c", "2", "-V", "-f", "stp"], {
      check: false,
      timeoutMs: 15_000,
    });
    assert.match(shark.stdout, /Spanning Tree Protocol/);
    assert.match(shark.stdout, /Protocol Version Identifier: Spanning Tree \(0\)/);
    assert.doesNotMatch(shark.stdout, /Malformed|Expert Info \(Error/);
    // The raw client's port speaks RSTP: the RST BPDUs it got decode as such.
    const rst = rig.client.frames.filter(isBpduDestination);
    assert.ok(rst.length > 0, "the raw client got our BPDUs");
    const pcap = `${await lab.tempDir()}/rst.pcap`;
    await Deno.writeFile(pcap, pcapOf(rst.slice(-3)));
    const read = await run(["tshark", "-r", pcap, "-V"], { check: false });
    assert.match(read.stdout, /Rapid Spanning Tree \(2\)/);
    assert.match(read.stdout, /BPDU Type: Rapid\/Multiple Spanning Tree \(0x02\)/);
    assert.match(read.stdout, /Port Role: Designated/);
    assert.doesNotMatch(read.stdout, /Malformed|Expert Info \(Error/);
    const td = await run(["tcpdump", "-nevvr", pcap], { check: false });
    assert.match(td.stdout, /STP 802\.1w, Rapid STP, Flags \[[^\]]*Forward[^\]]*\]/);

    // Cut the kernel's forwarding link: its blocked port forwards within max age + 2 x forward delay.
    const states = await kernelStates(rig.k);
    const forwarding = states.indexOf(3) + 1;
    const blocked = states.indexOf(4) + 1;
    const since = Date.now();
    await rig.k.run(["ip", "link", "set", `t${forwarding}`, "down"]);
    await waitFor(async () => Number(await sysfs(rig.k, `t${blocked}/brport/state`)) === 3, {
      timeoutMs: 30_000,
      what: "the kernel's blocked port to forward",
    });
    const ms = Date.now() - since;
    console.log(`  kernel port forwarding ${ms} ms after the link went down`);
    assert.ok(ms <= (MAX_AGE + 2 * FORWARD_DELAY) * 1000 + 1000, `${ms} ms`);
    // Traffic flows again (waitTraffic throws if it does not).
    await waitTraffic(rig, Date.now(), 200, 10_000, "after the kernel's forwarding link went down");
  });
});

/** A pcap file (Ethernet link type) holding `frames`. */
function pcapOf(frames: Uint8Array[]): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xa1b2c3d4, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 65535, true);
  view.setUint32(20, 1, true);
  let at = 24;
  for (const f of frames) {
    view.setUint32(at + 8, f.length, true);
    view.setUint32(at + 12, f.length, true);
    out.set(f, at + 16);
    at += 16 + f.length;
  }
  return out;
}
