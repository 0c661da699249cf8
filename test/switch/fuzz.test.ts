/**
 * Fuzz: the switch engine with every feature that reads frames turned on
 * (VLANs, RSTP, IGMP/MLD snooping with our querier) takes random and
 * mutated frames on its ports: 802.1Q and QinQ tags, BPDUs of every kind,
 * IGMP/MLD messages, ARP, NDP, truncated frames and frames past its MTU.
 * It must never throw, keep its tables bounded, send only frames of sane
 * length to active ports, count what it drops, and afterwards (its clock
 * moved on, so the fuzzed BPDUs and memberships expire) switch a clean
 * exchange as it would have before.
 */
import assert from "node:assert/strict";
import { SwitchEngine } from "../../src/switch/engine.ts";
import { McastSnooping } from "../../src/switch/mcast_snooping.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { type Bpdu, buildBpdu } from "../../src/wire/stp.ts";
import { buildIgmpQuery, buildMldQuery } from "../../src/wire/igmp.ts";
import { writeSolicitFrame } from "../../src/wire/ndp.ts";
import { ARP_REQUEST, writeArp } from "../../src/wire/arp.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { igmp } from "../helpers/igmp.ts";
import { junk, mutate, prng } from "../helpers/random.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";

const FRAMES = 100_000;
const MAX_FRAME = 1518;
const ACTIVE = [1, 2, 3, 4, 5];
const A = "02:00:00:00:00:0a";
const B = "02:00:00:00:00:0b";
const BRIDGE = new Uint8Array([2, 0, 0, 0, 1, 1]);

const RST: Bpdu = {
  kind: "rst",
  version: 2,
  flags: 0x7c,
  rootId: "1000.020000000009",
  rootPathCost: 0,
  bridgeId: "1000.020000000009",
  portId: 0x8001,
  messageAge: 0,
  maxAge: 6 * 256,
  helloTime: 1 * 256,
  forwardDelay: 4 * 256,
};

/** `frame` with an 802.1Q tag (or another TPID) for `vid` after the MACs. */
function tag(frame: Uint8Array, vid: number, tpid = 0x8100): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12));
  out.set([tpid >> 8, tpid & 0xff, vid >> 8, vid & 0xff], 12);
  out.set(frame.subarray(12), 16);
  return out;
}

function templates(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const arp = new Uint8Array(28);
  writeArp(
    arp,
    0,
    ARP_REQUEST,
    new Uint8Array([2, 0, 0, 0, 0, 0x0a]),
    0x0a000001,
    new Uint8Array(6),
    0x0a000002,
  );
  out.push(buildFrame({ src: A, type: 0x0806, payload: arp }));
  out.push(buildFrame({ src: A, dst: B, payload: 46 }));
  out.push(buildFrame({ src: B, dst: A, vlan: 10, payload: 46 }));
  out.push(tag(buildFrame({ src: A, dst: B, vlan: 10, payload: 46 }), 20, 0x88a8)); // QinQ
  out.push(tag(buildFrame({ src: A, dst: B, vlan: 10, payload: 46 }), 20)); // two 802.1Q tags
  out.push(buildFrame({ src: A, dst: B, vlan: 0, payload: 46 })); // priority tag
  const rst = buildBpdu(RST, new Uint8Array([2, 0, 0, 0, 0, 9]));
  out.push(rst, tag(rst, 10), tag(rst, 0));
  out.push(buildBpdu({ ...RST, kind: "config", version: 0, flags: 0 }, new Uint8Array([2, 0, 0, 0, 0, 8])));
  out.push(buildBpdu({ ...RST, kind: "tcn", version: 0, flags: 0 }, new Uint8Array([2, 0, 0, 0, 0, 7])));
  const g = [239, 1, 2, 3];
  out.push(igmp(0x16, g), igmp(0x17, g), tag(igmp(0x16, g), 10));
  out.push(buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 5]), null, 100));
  out.push(buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 5]), 0xef010203, 10));
  out.push(igmpv3Report([239, 4, 4, 4], [239, 5, 5, 5]));
  const ll = ipLiteral("fe80::5");
  out.push(buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 5]), ll, null, 1000));
  out.push(buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 5]), ll, ipLiteral("ff05::1:3"), 1000));
  const ns = new Uint8Array(86);
  out.push(
    ns.subarray(0, writeSolicitFrame(ns, new Uint8Array([2, 0, 0, 0, 0, 0x0b]), ll, ipLiteral("fe80::a"))),
  );
  // A multicast UDP datagram to a snooped group.
  const data = new Uint8Array(60);
  data.set([
    1,
    0,
    0x5e,
    1,
    2,
    3,
    2,
    0,
    0,
    0,
    0,
    1,
    8,
    0,
    0x45,
    0,
    0,
    46,
    0,
    0,
    0,
    0,
    1,
    17,
    0,
    0,
    10,
    0,
    0,
    1,
  ]);
  data.set(g, 30);
  out.push(data);
  out.push(buildFrame({ src: A, dst: B, payload: MAX_FRAME - 14 })); // exactly the MTU
  return out;
}

/** An IGMPv3 report joining `groups` (EXCLUDE {}), checksums filled. */
function igmpv3Report(...groups: number[][]): Uint8Array {
  const n = groups.length;
  const f = new Uint8Array(14 + 20 + 8 + 8 * n);
  f.set([1, 0, 0x5e, 0, 0, 0x16, 2, 0, 0, 0, 0, 3, 8, 0]);
  f.set([0x45, 0, 0, 28 + 8 * n, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 3, 224, 0, 0, 22], 14);
  f.set([0x22, 0, 0, 0, 0, 0, 0, n], 34);
  groups.forEach((g, i) => f.set([2, 0, 0, 0, ...g], 42 + 8 * i));
  fixChecksums(f);
  return f;
}

/** Refills an untagged IPv4 frame's header checksum and, for IGMP, the message's, so a lie goes deeper. */
function fixChecksums(f: Uint8Array): void {
  if (f.length < 34 || f[12] !== 8 || f[13] !== 0) return;
  const hl = (f[14]! & 0x0f) * 4;
  if (hl < 20 || 14 + hl > f.length) return;
  f[24] = f[25] = 0;
  const c = internetChecksum(f, 14, hl);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  const total = (f[16]! << 8) | f[17]!;
  const at = 14 + hl;
  if (f[23] !== 2 || total < hl + 8 || 14 + total > f.length) return;
  f[at + 2] = f[at + 3] = 0;
  const d = internetChecksum(f, at, total - hl);
  f[at + 2] = d >> 8;
  f[at + 3] = d & 0xff;
}

/** A template changed: mostly the headers (tags, lengths, LLC, IP), sometimes the MACs or anywhere. */
function mutated(t: Uint8Array, rnd: () => number): Uint8Array {
  const f = mutate(t, rnd, {
    growBy: 128,
    at: (length) => {
      const r = rnd();
      return r < 0.1
        ? Math.floor(rnd() * Math.min(12, length))
        : r < 0.8
        ? 12 + Math.floor(rnd() * 60)
        : Math.floor(rnd() * length);
    },
  });
  if (rnd() < 0.5) fixChecksums(f);
  return f;
}

function rig() {
  let outCount = 0;
  const bad: string[] = [];
  const sent: { port: number; frame: Uint8Array }[] = [];
  let record = false;
  const engine = new SwitchEngine({ numPorts: 8, maxFrame: MAX_FRAME, maxMacs: 1024 }, (port, frame) => {
    outCount++;
    if (!engine.isActive(port)) bad.push(`sent to inactive port ${port}`);
    if (frame.length < 14 || frame.length > MAX_FRAME + 4) bad.push(`sent ${frame.length} bytes to ${port}`);
    if (record) sent.push({ port, frame: frame.slice() });
  });
  for (const p of ACTIVE) engine.activatePort(p);
  assert.equal(engine.createVlan(10), "ok");
  assert.equal(engine.createVlan(20), "ok");
  for (const p of [2, 3]) assert.equal(engine.addVlanPort(10, p), "ok");
  assert.equal(engine.addVlanPort(20, 4), "ok");
  assert.equal(engine.setPortVlan(3, 20), "ok");
  const snoop = new McastSnooping(BRIDGE, { maxGroups: 256 });
  snoop.setQuerier(true);
  engine.snooping = snoop;
  return {
    engine,
    snoop,
    bad,
    sent,
    outCount: () => outCount,
    record: (on: boolean) => {
      record = on;
      sent.length = 0;
    },
  };
}

Deno.test("switch fuzz: 100,000 random and mutated frames, then a clean exchange still works", () => {
  const r = rig();
  const { engine, snoop } = r;
  const rnd = prng(0x5717c4);
  const tpl = templates();
  let now = 1000;
  engine.tick(now);
  const started = performance.now();
  let mostMacs = 0;
  for (let i = 0; i < FRAMES; i++) {
    let f: Uint8Array;
    const k = rnd();
    if (k < 0.2) {
      f = junk(rnd, MAX_FRAME + 200);
      // Half of them to the bridge group address or a multicast group, where the parsers are.
      if (f.length >= 6 && rnd() < 0.5) f.set(rnd() < 0.5 ? [1, 0x80, 0xc2, 0, 0, 0] : [1, 0, 0x5e, 1, 2, 3]);
    } else f = mutated(tpl[Math.floor(rnd() * tpl.length)]!, rnd);
    // Ports 0, 6 and 7 are inactive and 9 is out of range: a few frames go there too.
    const port = rnd() < 0.02
      ? [0, 6, 7, 9][Math.floor(rnd() * 4)]!
      : ACTIVE[Math.floor(rnd() * ACTIVE.length)]!;
    // The first half without spanning tree, so frames get past it to switching and snooping; the second with.
    if (i === FRAMES / 2) engine.enableStp({ mac: BRIDGE, helloTime: 1, maxAge: 6, forwardDelay: 4 });
    engine.input(port, f);
    if (i % 100 === 99) {
      engine.tick(now += 50);
      mostMacs = Math.max(mostMacs, engine.macTable.size);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const c = engine.counters;
  console.log(
    `switch fuzz: ${FRAMES} frames in ${seconds.toFixed(1)} s, ${r.outCount()} out; short ${c.short}, ` +
      `oversize ${c.oversize}, bad port ${c.badPort}, VLAN dropped ${c.vlanDropped}, snoop dropped ` +
      `${c.snoopDropped}, STP dropped ${c.stpDropped}, bad BPDUs ${engine.stp!.badBpdus}, most MACs ` +
      `${mostMacs}, groups ${snoop.groups().length}`,
  );
  assert.deepEqual(r.bad.slice(0, 5), []);
  assert.ok(c.short > 0 && c.oversize > 0 && c.badPort > 0 && c.vlanDropped > 0, "drops are counted");
  assert.ok(c.snoopDropped > 0 && engine.stp!.badBpdus > 0, "bad IGMP/MLD and BPDUs are counted");
  assert.ok(mostMacs > 0 && mostMacs <= 1024, "the MAC table learns, within its bound");
  assert.ok(snoop.groups().length <= 256);

  // Let everything the fuzz taught expire: BPDU information (max age 6 s), memberships, MAC entries.
  for (let s = 0; s < 400; s++) engine.tick(now += 1000);
  assert.equal(engine.stp!.rootId, engine.stp!.bridgeId, "this bridge is root again");
  for (const p of ACTIVE) assert.ok(engine.stp!.isForwarding(p), `port ${p} forwards again`);

  // A broadcast from A (port 1, untagged default VLAN) floods to the default VLAN's ports 2, 4, 5.
  r.record(true);
  engine.input(1, buildFrame({ src: A, payload: 46 }));
  assert.deepEqual(r.sent.map((s) => s.port), [2, 4, 5]);
  // B answers from port 5: unicast to port 1 only.
  r.record(true);
  engine.input(5, buildFrame({ src: B, dst: A, payload: 46 }));
  assert.deepEqual(r.sent.map((s) => s.port), [1]);
  // VLAN 10 tagged from port 2 reaches port 3, still tagged (its untagged VLAN is 20).
  r.record(true);
  engine.input(2, buildFrame({ src: "02:00:00:00:00:0c", vlan: 10, payload: 46 }));
  assert.deepEqual(r.sent.map((s) => s.port), [3]);
  assert.equal(r.sent[0]!.frame[12], 0x81, "tagged on a port that carries VLAN 10 tagged");
  r.record(false);
});
