/**
 * A program for dgram_fuzz.test.ts, run inside a namespace with multicast
 * on lo: it opens a vxlan://, a vxvde:// and a udp:// link and sends each,
 * from several ports, random datagrams and mutated valid ones (VXLAN header
 * flags and VNI changed, frames cut short, lengthened, past the largest
 * frame), as anyone on the network may. Each link must keep running, count
 * what it drops or ignores, hand on only frames of a sane length, and then
 * deliver a clean frame. Prints one summary line and "ok" last; any failed
 * check throws.
 */
import assert from "node:assert/strict";
import { openVxlanLink } from "../../src/link/vxlan_link.ts";
import { openVxvdeLink } from "../../src/link/vxvde_link.ts";
import { openUdpLink } from "../../src/link/udp_link.ts";
import { InetDgramSocket } from "../../src/io/inet_dgram.ts";
import { encodeSockaddr } from "../../src/io/sockaddr.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";
import { vxlanHeader } from "../../src/wire/vxlan.ts";
import { VDE_MAX_FRAME } from "../../src/wire/ethernet.ts";
import { poller } from "../../src/io/poller.ts";
import type { Link } from "../../src/link/link.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = Number(Deno.args[0] ?? 20_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lo = ipLiteral("127.0.0.1");
const rnd = prng(0xd6a11);

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 250 && !ok(); i++) await sleep(20);
  assert.ok(ok(), what);
}

/** A frame from 02:00:00:00:00:{src} tagged `tag` (byte 20), of `size` bytes. */
function frame(src: number, tag: number, size = 60): Uint8Array {
  const f = new Uint8Array(size);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, src, 0x88, 0xb5]);
  f[20] = tag;
  return f;
}

/** Counts what `link` hands on and checks each frame's length; returns the tags of frames from host 0x77. */
function watch(link: Link, bad: string[]): { clean: number[]; count: () => number } {
  const clean: number[] = [];
  let count = 0;
  link.onFrame = (f) => {
    count++;
    if (f.length < 14 || f.length > VDE_MAX_FRAME) bad.push(`${link.description}: a ${f.length}-byte frame`);
    if (f.length === 60 && f[11] === 0x77) clean.push(f[20]!);
  };
  return { clean, count: () => count };
}

const senders = Array.from({ length: 4 }, () => {
  const s = InetDgramSocket.create(4);
  s.bind(lo, 0);
  return s;
});

/** Sends N fuzzed datagrams built from `template` to `to`, pausing now and then so the links drain. */
async function blast(to: Uint8Array, template: Uint8Array, headerBytes: number): Promise<void> {
  for (let i = 0; i < N; i++) {
    // Junk now and then past the largest frame; a valid one cut, lengthened (maybe past the largest frame too),
    // and changed mostly in its header and the frame's.
    const d = rnd() < 0.25 ? junk(rnd, rnd() < 0.05 ? 12_000 : 1600) : mutate(template, rnd, {
      cut: 0.2,
      growBy: rnd() < 0.3 ? VDE_MAX_FRAME + 200 : 200,
      minFlips: 0,
      maxFlips: 3,
      at: (length) => Math.floor(rnd() * (rnd() < 0.6 ? Math.min(length, headerBytes + 14) : length)),
    });
    senders[Math.floor(rnd() * senders.length)]!.sendTo(d, to);
    if (i % 100 === 99) await sleep(0);
  }
}

const bad: string[] = [];
const vx = await openVxlanLink("239.199.7.1/vni=7/port=4797");
const vv = await openVxvdeLink("239.199.7.2/vni=8/port=14797");
const udpPort = 20000 + Math.floor(Math.random() * 20000);
const ud = await openUdpLink(`127.0.0.1:${udpPort}->127.0.0.1:9`);
try {
  const wx = watch(vx, bad), wv = watch(vv, bad), wu = watch(ud, bad);
  const vxTemplate = new Uint8Array([...vxlanHeader(7), ...frame(1, 1)]);
  const vvTemplate = new Uint8Array([...vxlanHeader(8), ...frame(2, 2)]);
  const started = performance.now();
  await blast(encodeSockaddr(lo, 4797), vxTemplate, 8);
  await blast(encodeSockaddr(ipLiteral("239.199.7.2"), 14797), vvTemplate, 8);
  await blast(encodeSockaddr(lo, vv.localPort), vvTemplate, 8);
  await blast(encodeSockaddr(lo, udpPort), frame(3, 3), 0);
  await sleep(200);
  const seconds = (performance.now() - started) / 1000;

  // The clean exchange: one frame each, from a new port.
  const clean = InetDgramSocket.create(4);
  clean.bind(lo, 0);
  clean.sendTo(new Uint8Array([...vxlanHeader(7), ...frame(0x77, 71)]), encodeSockaddr(lo, 4797));
  clean.sendTo(
    new Uint8Array([...vxlanHeader(8), ...frame(0x77, 72)]),
    encodeSockaddr(ipLiteral("239.199.7.2"), 14797),
  );
  clean.sendTo(frame(0x77, 73), encodeSockaddr(lo, udpPort));
  await until("the clean vxlan frame", () => wx.clean.includes(71));
  await until("the clean vxvde frame", () => wv.clean.includes(72));
  await until("the clean udp frame", () => wu.clean.includes(73));
  clean.close();

  console.log(
    `dgram fuzz: ${4 * N} datagrams in ${
      seconds.toFixed(1)
    } s; vxlan ${wx.count()} in, ${vx.stats.dropsIn} ` +
      `dropped; vxvde ${wv.count()} in, ${vv.stats.dropsIn} dropped, ${vv.foreign} foreign; udp ${wu.count()} ` +
      `in, ${ud.stats.dropsIn} dropped`,
  );
  assert.deepEqual(bad.slice(0, 5), []);
  assert.ok(vx.stats.dropsIn > 0 && vv.stats.dropsIn > 0 && ud.stats.dropsIn > 0, "drops are counted");
  assert.ok(vv.foreign > 0, "foreign headers are counted");
  assert.ok(wx.count() > 0 && wv.count() > 0 && wu.count() > 0);
} finally {
  vx.close();
  vv.close();
  ud.close();
  for (const s of senders) s.close();
  await poller().stop();
}
console.log("ok");
