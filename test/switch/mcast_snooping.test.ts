import assert from "node:assert/strict";
import { McastSnooping, PortList } from "../../src/switch/mcast_snooping.ts";
import { CHAIN_MAX, GroupTable } from "../../src/switch/mcast_group_table.ts";
import { SwitchEngine } from "../../src/switch/engine.ts";
import { internetChecksum, transportChecksum } from "../../src/wire/checksum.ts";
import { buildIgmpQuery, parseGroupMessage } from "../../src/wire/igmp.ts";
import { buildMldQuery } from "../../src/wire/igmp.ts";
import {
  HBH_PADN_ONLY,
  igmp,
  igmpQueryFrom,
  mldv1,
  mldv2,
  parseIpv6Address,
  udp6ToGroup,
} from "../helpers/igmp.ts";

const MAC = new Uint8Array([0, 0xff, 1, 2, 3, 4]);

/** A UDP datagram to `group` as an Ethernet frame. */
function udpTo(group: number[]): Uint8Array {
  const f = new Uint8Array(60);
  f.set([1, 0, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!, 2, 0, 0, 0, 0, 1, 8, 0], 0);
  f.set([0x45, 0, 0, 38, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, ...group], 14);
  const c = internetChecksum(f, 14, 20);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  return f;
}

function rig() {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 8 }, (port) => sent.push(port));
  for (const p of [1, 2, 3, 4]) engine.activatePort(p);
  const snoop = new McastSnooping(MAC);
  engine.snooping = snoop;
  const send = (port: number, frame: Uint8Array) => {
    sent.length = 0;
    engine.input(port, frame);
    return [...sent];
  };
  return { engine, snoop, send };
}

const G = [239, 1, 1, 1];

/** The rig with our querier on and governing forwarding (one response interval after its start). */
function queried() {
  const r = rig();
  r.snoop.setQuerier(true);
  r.engine.tick(1000);
  r.engine.tick(11_500);
  return r;
}

/** Where `route` sends `frame` on VLAN 0, as a fresh array (null: flood). */
function routed(snoop: McastSnooping, frame: Uint8Array): number[] | null {
  const list = snoop.route(frame, 0, new PortList());
  return list === null ? null : list.ports.slice(0, list.length);
}

Deno.test("snooping floods multicast while no querier is active, as the kernel does", () => {
  const { send } = rig();
  assert.deepEqual(send(2, igmp(0x16, G)), [1, 3, 4]); // the report itself is flooded
  assert.deepEqual(send(1, udpTo(G)), [2, 3, 4]);
});

Deno.test("with our querier active, a group goes to its members only, and a leave ends that", () => {
  const { engine, snoop, send } = queried();
  send(2, igmp(0x16, G));
  assert.deepEqual(send(1, udpTo(G)), [2]);
  assert.deepEqual(send(1, udpTo([239, 9, 9, 9])), [], "unregistered: router ports only (none)");
  assert.deepEqual(send(1, udpTo([224, 0, 0, 251])), [2, 3, 4], "224.0.0.0/24 is always flooded");
  send(2, igmp(0x17, G));
  assert.equal(snoop.groups().length, 1);
  engine.tick(14_000);
  assert.equal(snoop.groups().length, 0, "gone after the last-member queries");
  assert.deepEqual(send(1, udpTo(G)), []);
});

/**
 * An IPv6 packet to `group` whose payload is `next` (58 ICMPv6, 17 UDP) starting with `first` (an ICMPv6
 * type), behind `hbh` (a hop-by-hop header, 8 bytes: its next header, length 0, a router alert) when given.
 */
function ipv6To(group: string, next: number, first: number, hbh?: number[]): Uint8Array {
  const g = parseIpv6Address(group);
  const ext = hbh ?? [];
  const f = new Uint8Array(14 + 40 + ext.length + 8);
  f.set([0x33, 0x33, ...g.subarray(12), 2, 0, 0, 0, 0, 1, 0x86, 0xdd], 0);
  f.set([0x60, 0, 0, 0, 0, ext.length + 8, hbh === undefined ? next : 0, 64], 14);
  f.set(parseIpv6Address("fe80::1"), 22);
  f.set(g, 38);
  f.set(ext, 54);
  f[54 + ext.length] = first;
  // ICMPv6 right behind the headers gets its checksum, which the kernel checks behind a hop-by-hop header.
  if ((hbh?.[0] ?? next) === 58) {
    const c = transportChecksum(f.subarray(22, 38), g, 58, f, 54 + ext.length, 8);
    f[56 + ext.length] = c >> 8;
    f[57 + ext.length] = c & 0xff;
  }
  return f;
}

/** A hop-by-hop header with a router alert (MLD's) in front of `next`. */
const routerAlert = (next: number) => [next, 0, 5, 2, 0, 0, 1, 0];

Deno.test("with our querier active, an ICMPv6 echo to a routable IPv6 group (ping -6 ff0e::1:2) goes to its members only, as UDP does; MLD is still flooded", () => {
  const { send } = queried();
  assert.deepEqual(send(2, mldv2(4, "ff0e::1:2")), [1, 3, 4], "the report itself is flooded");
  assert.deepEqual(send(1, ipv6To("ff0e::1:2", 17, 0)), [2], "UDP");
  assert.deepEqual(send(1, ipv6To("ff0e::1:2", 58, 128)), [2], "an echo request");
  assert.deepEqual(send(1, ipv6To("ff0e::9:9", 58, 128)), [], "unregistered: router ports only (none)");
  assert.deepEqual(send(1, ipv6To("ff02::1", 58, 128)), [2, 3, 4], "ff02::/16 is always flooded");
});

Deno.test("with our querier active, an echo or UDP behind a hop-by-hop router alert goes to the group's members only, as the Linux bridge sends it; an MLDv1 report behind one goes to the router ports, an MLD type without one is data; other extension headers are walked as the kernel walks them", () => {
  const { snoop, send } = queried();
  send(2, mldv2(4, "ff0e::1:2"));
  assert.deepEqual(send(1, ipv6To("ff0e::1:2", 58, 128, routerAlert(58))), [2], "an echo");
  assert.deepEqual(send(1, ipv6To("ff0e::1:2", 17, 0, routerAlert(17))), [2], "UDP");
  // MLD types (these ones, unchecked, the engine would drop as malformed MLD), as route sends them.
  assert.deepEqual(
    routed(snoop, ipv6To("ff0e::1:2", 58, 131, routerAlert(58))),
    [],
    "a report: routers (none)",
  );
  assert.equal(
    routed(snoop, ipv6To("ff0e::1:2", 58, 143, routerAlert(58))),
    null,
    "an MLDv2 report: flooded",
  );
  assert.deepEqual(routed(snoop, ipv6To("ff0e::1:2", 58, 143)), [2], "MLD without the header: data");
  // Destination options behind it, then no ICMPv6 (128 is no header): data.
  assert.deepEqual(send(1, ipv6To("ff0e::1:2", 58, 128, routerAlert(60))), [2], "then destination options");
  const echo = ipv6To("ff0e::1:2", 58, 128, routerAlert(58));
  echo[14 + 40 + 8 + 2]! ^= 1;
  assert.deepEqual(send(1, echo), [], "an echo behind one whose ICMPv6 checksum fails: dropped");
  assert.deepEqual(
    send(1, ipv6To("ff0e::1:2", 58, 128, [59, 0, 1, 4, 0, 0, 0, 0])),
    [],
    "then no next header",
  );
  // A hop-by-hop header cut short, or claiming more than the frame holds: never read past the frame (and
  // the engine drops both as malformed IPv6, as the kernel bridge does).
  const cut = ipv6To("ff0e::1:2", 58, 128, routerAlert(58)).subarray(0, 14 + 40 + 4);
  assert.deepEqual(routed(snoop, cut), [2]);
  assert.deepEqual(send(1, cut), []);
  const long = ipv6To("ff0e::1:2", 58, 128, routerAlert(58));
  long[14 + 40 + 1] = 255;
  assert.deepEqual(routed(snoop, long), [2], "no ICMPv6 type within the frame: data");
});

Deno.test("a port that sent a query becomes a router port and receives every group", () => {
  const { engine, snoop, send } = rig();
  engine.tick(1000);
  send(4, buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 4]), null, 100));
  send(2, igmp(0x16, G));
  engine.tick(11_000);
  assert.deepEqual(snoop.routers().map((r) => r.port), [4]);
  assert.deepEqual(send(1, udpTo(G)), [2, 4]);
});

Deno.test("our querier sends general queries at start-up that parse back as queries", () => {
  const sent: Uint8Array[] = [];
  const engine = new SwitchEngine({ numPorts: 4 }, (_, frame) => sent.push(frame.slice()));
  engine.activatePort(1);
  const snoop = new McastSnooping(MAC);
  engine.snooping = snoop;
  snoop.setQuerier(true);
  engine.tick(1000);
  assert.equal(sent.length, 2);
  for (const frame of sent) {
    const msg = parseGroupMessage(frame);
    assert.equal(msg.type, "ok");
    if (msg.type === "ok") assert.equal(msg.events[0]!.kind, "query");
  }
});

Deno.test("hostile IGMP is counted and dropped: bad checksum, lying lengths", () => {
  const { engine, snoop, send } = rig();
  const bad = igmp(0x16, G);
  bad[34 + 2]! ^= 0xff;
  assert.deepEqual(send(2, bad), []);
  const lying = igmp(0x16, G);
  lying[14 + 3] = 200; // total length past the frame
  assert.deepEqual(send(2, lying), []);
  assert.equal(snoop.counters.igmp.bad, 2);
  assert.equal(engine.counters.snoopDropped, 2);
  assert.equal(snoop.groups().length, 0);
});

Deno.test("counters: queries, reports and leaves seen and queries sent, per family and per message, as the Linux bridge counts", () => {
  const { engine, snoop, send } = rig();
  send(2, igmp(0x16, G));
  send(3, igmp(0x16, G));
  send(4, igmp(0x12, [239, 1, 1, 2])); // IGMPv1
  send(2, igmp(0x17, G));
  // Another querier's general query, from port 1.
  send(1, buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), null, 100));
  const bad = igmp(0x16, G);
  bad[34 + 2]! ^= 0xff;
  send(2, bad);
  assert.deepEqual({ ...snoop.counters.igmp }, {
    queriesIn: 1,
    queriesOut: 0,
    reports: 3,
    leaves: 1,
    bad: 1,
  });
  assert.deepEqual({ ...snoop.counters.mld }, { queriesIn: 0, queriesOut: 0, reports: 0, leaves: 0, bad: 0 });
  // Our querier: a general query per family at start-up, but none for IPv4 while the other querier is
  // heard (255 s), and a leave then is the other's to answer, as the kernel's querier (checked beside one).
  snoop.setQuerier(true);
  engine.tick(1000);
  assert.equal(snoop.counters.igmp.queriesOut, 0);
  assert.equal(snoop.counters.mld.queriesOut, 1);
  send(3, igmp(0x17, G));
  engine.tick(1001);
  engine.tick(2500);
  assert.equal(snoop.counters.igmp.queriesOut, 0);
  // Gone: ours queries, and answers a leave with two group-specific queries.
  engine.tick(256_000);
  assert.equal(snoop.counters.igmp.queriesOut, 1);
  assert.equal(snoop.counters.mld.queriesOut, 2);
  send(3, igmp(0x16, G));
  send(3, igmp(0x17, G));
  engine.tick(256_001);
  engine.tick(257_500);
  assert.equal(snoop.counters.igmp.queriesOut, 3);
  assert.equal(snoop.counters.igmp.leaves, 3);
  // Seen, both families: what the switch thread watches to copy a frame to the console's machine.
  assert.equal(snoop.counters.counted, 9);
});

Deno.test("our querier is silent while another querier is heard, and leaves it the leaves, as the kernel's querier", () => {
  const sent: Uint8Array[] = [];
  const engine = new SwitchEngine({ numPorts: 4 }, (_, frame) => sent.push(frame.slice()));
  for (const p of [1, 2]) engine.activatePort(p);
  const snoop = new McastSnooping(MAC);
  engine.snooping = snoop;
  snoop.setQuerier(true);
  engine.tick(1000);
  engine.input(1, buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), null, 100));
  engine.input(1, buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), parseIpv6Address("fe80::9"), null, 1000));
  engine.input(2, igmp(0x16, G));
  sent.length = 0;
  engine.input(2, igmp(0x17, G));
  // Start-up's second general queries and a leave's group-specific ones are all due by now.
  for (let t = 2000; t <= 40_000; t += 1000) engine.tick(t);
  assert.deepEqual(
    sent.map((f) => parseGroupMessage(f).type === "ok"),
    [true],
    "the leave, flooded; no query",
  );
  assert.deepEqual(snoop.groups().map((g) => g.port), [2], "the membership stands");
});

Deno.test("our querier wins the MLD election against a higher address and loses to a lower one, as the kernel's", () => {
  const sent: Uint8Array[] = [];
  const engine = new SwitchEngine({ numPorts: 4 }, (_, frame) => sent.push(frame.slice()));
  for (const p of [1, 2]) engine.activatePort(p);
  const snoop = new McastSnooping(MAC); // fe80::2ff:1ff:fe02:304
  engine.snooping = snoop;
  snoop.setQuerier(true);
  engine.tick(1000);
  const mldQueries = () => sent.filter((f) => f[12] === 0x86 && parseGroupMessage(f).type === "ok").length;
  const other = (src: string) =>
    buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), parseIpv6Address(src), null, 1000);
  engine.input(1, other("fe80::ffff:ffff:ffff:fff0"));
  sent.length = 0;
  engine.tick(40_000); // start-up's second query is due
  assert.equal(mldQueries(), 2, "a higher address lost: ours queries on (to each port)");
  assert.deepEqual(snoop.routers(), [], "nor is its port a router port");
  engine.input(1, other("fe80::1"));
  sent.length = 0;
  engine.tick(170_000); // the next is due
  assert.equal(mldQueries(), 0, "a lower address won: ours is silent");
  assert.deepEqual(snoop.routers().map((r) => r.port), [1]);
});

Deno.test("100,000 groups reported: the table stays bounded and the overflow is counted", () => {
  const { snoop, send } = rig();
  for (let i = 0; i < 100_000; i++) send(2, igmp(0x16, [239, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]));
  assert.equal(snoop.groups().length, 4096);
  assert.equal(snoop.counters.tableFull, 100_000 - 4096);
});

Deno.test("a port going down forgets its learned router status but stays a permanent router port, as a bridge port", () => {
  const { engine, snoop, send } = rig();
  engine.tick(1000);
  send(4, buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 4]), null, 100));
  snoop.setRouter(3, true);
  engine.deactivatePort(4);
  engine.deactivatePort(3);
  assert.deepEqual(snoop.routers(), [{ port: 3, expiresIn: null }]);
});

/** The rig with a querier of both families on port 4 (another switch's or a router's): port 4 is a router port. */
function rigWithRouter() {
  const r = rig();
  r.engine.tick(1000);
  const mac = new Uint8Array([2, 0, 0, 0, 0, 4]);
  r.send(4, buildIgmpQuery(mac, null, 100));
  r.send(4, buildMldQuery(mac, parseIpv6Address("fe80::4"), null, 1000));
  assert.deepEqual(r.snoop.routers().map((x) => x.port), [4]);
  // The queries' max response delays (10 s and 1 s) passed: the new querier governs forwarding.
  r.engine.tick(11_000);
  return r;
}

Deno.test("with a querier active, IGMPv1/v2 and MLDv1 reports go to the router ports only, as the Linux bridge sends them; IGMPv3 and MLDv2 reports, leaves and queries are flooded", () => {
  const { send } = rigWithRouter();
  assert.deepEqual(send(2, igmp(0x16, G)), [4], "IGMPv2 report");
  assert.deepEqual(send(2, igmp(0x12, [239, 1, 1, 2])), [4], "IGMPv1 report");
  assert.deepEqual(send(2, igmp(0x16, [224, 0, 0, 251])), [4], "a report for a link-local group too");
  assert.deepEqual(send(2, mldv1(131, "ff0e::1:2")), [4], "MLDv1 report");
  assert.deepEqual(send(2, mldv1(131, "ff02::1:ff00:2")), [4], "an MLDv1 report for a link-local group too");
  assert.deepEqual(send(4, mldv1(131, "ff0e::1:3")), [], "from the router port itself: nowhere");
  assert.deepEqual(send(2, mldv2(4, "ff0e::1:2")), [1, 3, 4], "MLDv2 report (to ff02::16)");
  assert.deepEqual(send(2, igmp(0x17, G)), [1, 3, 4], "IGMPv2 leave");
  assert.deepEqual(send(2, mldv1(132, "ff0e::1:2")), [1, 3, 4], "MLDv1 done");
  assert.deepEqual(
    send(1, udpTo(G)),
    [2, 4],
    "the reports were read: data goes to the member and the router",
  );
});

Deno.test("without a querier, an MLDv1 report is flooded, as the kernel floods everything then", () => {
  const { send } = rig();
  assert.deepEqual(send(2, mldv1(131, "ff0e::1:2")), [1, 3, 4]);
});

Deno.test("an MLD message without a hop-by-hop header first is data to its destination group, neither read nor counted, as the Linux bridge takes it; behind a hop-by-hop header without the router alert it is MLD", () => {
  const { snoop, send } = rigWithRouter();
  send(2, mldv2(4, "ff0e::1:2"));
  const reports = snoop.counters.mld.reports;
  assert.deepEqual(send(1, mldv1(131, "ff0e::1:2", null)), [2, 4], "to the group's member and the router");
  assert.deepEqual(send(1, mldv1(131, "ff0e::1:7", null)), [4], "unregistered: the router only");
  assert.deepEqual(send(1, mldv1(131, "ff02::1:ff00:1", null)), [2, 3, 4], "link-local: flooded, as any");
  assert.equal(snoop.counters.mld.reports, reports);
  assert.deepEqual(snoop.groups().map((g) => [g.group, g.port]), [["ff0e::1:2", 2]], "nothing learned");
  assert.deepEqual(send(3, mldv1(131, "ff0e::1:2", HBH_PADN_ONLY)), [4], "PadN alone: a report still");
  assert.deepEqual(snoop.groups().map((g) => g.port), [2, 3]);
});

Deno.test("an IPv6 multicast packet whose payload length is 0 or past the frame, not version 6, or cut short is dropped and counted as malformed MLD, as the Linux bridge drops it; to ff02::1 too", () => {
  const { engine, snoop, send } = rig();
  send(2, mldv2(4, "ff0e::1:2"));
  assert.deepEqual(send(1, udp6ToGroup("ff0e::1:2")), [2, 3, 4], "a sound one, no querier: flooded");
  const version5 = udp6ToGroup("ff0e::1:2");
  version5[14] = 0x50;
  const cut = udp6ToGroup("ff0e::1:2").subarray(0, 14 + 39);
  for (
    const [what, frame] of [
      ["payload length 0", udp6ToGroup("ff0e::1:2", 0)],
      ["payload length 0 to ff02::1", udp6ToGroup("ff02::1", 0)],
      ["payload length past the frame", udp6ToGroup("ff0e::1:2", 13)],
      ["version 5", version5],
      ["a fixed header cut short", cut],
    ] as const
  ) {
    assert.deepEqual(send(1, frame), [], what);
  }
  assert.equal(snoop.counters.mld.bad, 5);
  assert.equal(engine.counters.snoopDropped, 5);
  assert.equal(engine.portStats(1).dropsIn, 5, "counted on the port it came in by");
  const unicast = udp6ToGroup("fe80::2", 0);
  unicast.set([2, 0, 0, 0, 0, 0x22], 0);
  assert.deepEqual(send(1, unicast), [2, 3, 4], "unicast is no snooping's business (unknown: flooded)");
});

Deno.test("with snooping off, an IPv6 multicast packet of payload length 0 is flooded as any frame: nothing is read", () => {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 8 }, (port) => sent.push(port));
  for (const p of [1, 2, 3]) engine.activatePort(p);
  engine.input(1, udp6ToGroup("ff0e::1:2", 0));
  assert.deepEqual(sent, [2, 3]);
});

Deno.test("an IPv4 multicast packet with a bad header checksum or a total length past the frame is dropped and counted as malformed IGMP, as the Linux bridge drops it; broadcast is neither read nor checked", () => {
  const { engine, snoop, send } = rig();
  const badSum = udpTo(G);
  badSum[24]! ^= 0xff;
  assert.deepEqual(send(1, badSum), [], "bad header checksum");
  const long = udpTo(G);
  long[16] = 1; // total length 294 (and so a bad checksum too)
  assert.deepEqual(send(1, long), [], "total length past the frame");
  assert.deepEqual(send(1, udpTo(G).subarray(0, 14 + 19)), [], "a header cut short");
  assert.equal(snoop.counters.igmp.bad, 3);
  assert.equal(engine.counters.snoopDropped, 3);
  const bcast = udpTo([255, 255, 255, 255]);
  bcast.fill(0xff, 0, 6);
  bcast[24]! ^= 0xff;
  assert.deepEqual(send(1, bcast), [2, 3, 4], "broadcast with a bad checksum: flooded");
  const v6 = udp6ToGroup("ff0e::1:2", 0);
  v6.fill(0xff, 0, 6);
  assert.deepEqual(send(1, v6), [2, 3, 4], "IPv6 of payload length 0 to the broadcast MAC: flooded");
  const report = igmp(0x16, G);
  report.fill(0xff, 0, 6);
  send(2, report);
  assert.equal(snoop.groups().length, 0, "an IGMP report to the broadcast MAC is not read");
  assert.equal(snoop.counters.igmp.bad, 3);
});

Deno.test("route refills the list its caller owns: the same object and array for every frame, a registered group or not, IPv4 and IPv6", () => {
  const { snoop, send } = queried();
  send(2, igmp(0x16, G));
  send(3, mldv1(131, "ff0e::1:2"));
  const list = new PortList();
  const array = list.ports;
  const frames = [udpTo(G), udpTo([239, 9, 9, 9]), ipv6To("ff0e::1:2", 17, 0), ipv6To("ff0e::9:9", 17, 0)];
  const want = [[2], [], [3], []];
  for (let round = 0; round < 3; round++) {
    frames.forEach((f, i) => {
      assert.equal(snoop.route(f, 0, list), list);
      assert.equal(list.ports, array, "no new array");
      assert.deepEqual(list.ports.slice(0, list.length), want[i]);
    });
  }
});

Deno.test("4,000 IPv6 groups on two VLANs, looked up in place by hash: each frame reaches its own group's member, none another's", () => {
  const snoop = new McastSnooping(MAC, { maxGroups: 8192 });
  snoop.setQuerier(true);
  snoop.tick(11_000);
  const group = (i: number) => `ff0e::${(i >> 8).toString(16)}:${(i & 0xff).toString(16)}`;
  for (let i = 0; i < 2000; i++) {
    for (const vlan of [0, 5]) snoop.observe(1 + (i % 7) + (vlan === 5 ? 10 : 0), vlan, mldv1(131, group(i)));
  }
  assert.equal(snoop.groups().length, 4000);
  const list = new PortList();
  for (let i = 0; i < 2000; i++) {
    const f = ipv6To(group(i), 17, 0);
    snoop.route(f, 0, list);
    assert.deepEqual(list.ports.slice(0, list.length), [1 + (i % 7)], group(i));
    snoop.route(f, 5, list);
    assert.deepEqual(list.ports.slice(0, list.length), [11 + (i % 7)], `${group(i)} on VLAN 5`);
  }
  snoop.route(ipv6To("ff0e::ffff:1", 17, 0), 0, list);
  assert.equal(list.length, 0, "unregistered");
  // Expiry and a port going down take entries out of their hash chains.
  snoop.forgetPort(1);
  snoop.route(ipv6To(group(0), 17, 0), 0, list);
  assert.equal(list.length, 0, "port 1 forgot its groups");
  snoop.route(ipv6To(group(1), 17, 0), 0, list);
  assert.deepEqual(list.ports.slice(0, list.length), [2]);
  snoop.tick(11_000 + 260_000);
  assert.equal(snoop.groups().length, 0);
});

/** A general MLDv1 query from `src`. */
const mldQueryFrom = (src: string) =>
  buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), parseIpv6Address(src), null, 1000);

for (
  const [family, low, high, lowest, query] of [
    [4, "10.0.0.5", "10.0.0.9", "10.0.0.1", (a: string) => igmpQueryFrom(a.split(".").map(Number))],
    [6, "fe80::5", "fe80::9", "fe80::1", mldQueryFrom],
  ] as const
) {
  Deno.test(`IPv${family} querier election as the kernel's: the lowest address stays querier, a higher one's queries neither keep the other-querier timer alive nor make a router port, and take over once it ran out`, () => {
    const snoop = new McastSnooping(MAC);
    const current = () =>
      snoop.queriers().filter((q) => q.family === family).map((q) => `${q.address} ${q.port}`);
    const active = () => family === 4 ? snoop.querierState().ipv4 : snoop.querierState().ipv6;
    snoop.tick(1000);
    snoop.observe(1, 0, query(low));
    assert.deepEqual(current(), [`${low} 1`], "the first query is taken: no querier was known");
    snoop.tick(100_000);
    snoop.observe(2, 0, query(high));
    assert.deepEqual(current(), [`${low} 1`], "a higher address loses");
    assert.deepEqual(snoop.routers().map((r) => r.port), [1], "and its port is no router port");
    assert.equal(snoop.queriers()[0]!.expiresIn, 156, "nor is the timer restarted");
    // The lower one falls silent; the higher one queries on, and is not taken while the timer runs.
    for (let t = 120_000; t < 256_000; t += 20_000) {
      snoop.tick(t);
      snoop.observe(2, 0, query(high));
    }
    assert.deepEqual(current(), [`${low} 1`]);
    snoop.tick(256_000);
    assert.equal(active(), false, "the lower querier's timer ran out: no querier, multicast is flooded");
    assert.deepEqual(current(), []);
    snoop.observe(2, 0, query(high));
    assert.deepEqual(current(), [`${high} 2`], "with none known, the higher one is taken");
    assert.equal(active(), false, "but governs forwarding only after its max response delay");
    snoop.tick(256_000 + (family === 4 ? 10_000 : 1000));
    assert.equal(active(), true);
    snoop.tick(267_000);
    snoop.observe(3, 0, query(lowest));
    assert.deepEqual(current(), [`${lowest} 3`], "a lower address wins at once");
    snoop.observe(3, 0, query(lowest));
    assert.deepEqual(current(), [`${lowest} 3`], "and so does the same one again");
  });
}

Deno.test("a group-specific query elects nobody: it neither keeps the other-querier timer alive nor makes a router port, as the kernel's", () => {
  const snoop = new McastSnooping(MAC);
  snoop.tick(1000);
  snoop.observe(1, 0, igmpQueryFrom([10, 0, 0, 5]));
  const specific = buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 5]), 0xef010101, 10);
  snoop.tick(200_000);
  snoop.observe(2, 0, specific);
  assert.deepEqual(snoop.routers().map((r) => r.port), [1]);
  snoop.tick(256_000);
  assert.equal(snoop.querierState().ipv4, false);
});

Deno.test("an IGMPv1 query naming a group elects its sender as a general query does, as the kernel's bridge reads max response 0", () => {
  const snoop = new McastSnooping(MAC);
  snoop.tick(1000);
  // From 10.0.0.5 to 239.1.1.1 with the group in its field, 8 bytes, code 0.
  assert.ok(snoop.observe(2, 0, igmp(0x11, G, 5)));
  assert.deepEqual(snoop.routers().map((r) => r.port), [2]);
  assert.deepEqual(snoop.queriers().map((q) => `${q.address} ${q.port}`), ["10.0.0.5 2"]);
  // IGMPv1's 10 s of response delay pass before it governs forwarding.
  snoop.tick(10_999);
  assert.equal(snoop.querierState().ipv4, false);
  snoop.tick(11_000);
  assert.equal(snoop.querierState().ipv4, true);
});

Deno.test("our querier is the current one until a query is taken: from 0.0.0.0 ours yields to any IPv4 querier, to a lower MLD address only", () => {
  const snoop = new McastSnooping(MAC); // fe80::2ff:1ff:fe02:304
  snoop.setQuerier(true);
  snoop.tick(1000);
  assert.deepEqual(snoop.queriers(), [
    { family: 4, address: "0.0.0.0", port: null, expiresIn: null },
    { family: 6, address: "fe80::2ff:1ff:fe02:304", port: null, expiresIn: null },
  ]);
  snoop.observe(1, 0, igmpQueryFrom([10, 0, 0, 200]));
  snoop.observe(1, 0, mldQueryFrom("fe80::ffff:ffff:ffff:fff0"));
  assert.deepEqual(snoop.queriers().map((q) => `${q.address} ${q.port}`), [
    "10.0.0.200 1",
    "fe80::2ff:1ff:fe02:304 null",
  ]);
  snoop.observe(2, 0, mldQueryFrom("fe80::1"));
  assert.deepEqual(snoop.queriers().map((q) => `${q.address} ${q.port}`), ["10.0.0.200 1", "fe80::1 2"]);
});

Deno.test("once the other querier's timer ran out, ours starts over at once with its start-up queries, as br_multicast_querier_expired restarts the kernel's", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setQuerier(true);
  const families = (nowMs: number) => snoop.tick(nowMs).map((q) => q.frame[12] === 0x86 ? "mld" : "igmp");
  assert.deepEqual(families(1000), ["igmp", "mld"]);
  snoop.observe(1, 0, igmpQueryFrom([10, 0, 0, 5]));
  snoop.observe(1, 0, mldQueryFrom("fe80::1"));
  for (let t = 2000; t < 256_000; t += 1000) assert.deepEqual(families(t), [], `silent at ${t}`);
  assert.deepEqual(families(256_000), ["igmp", "mld"], "the other's 255 s ran out: ours at once");
  assert.deepEqual(families(256_000 + 31_249), []);
  assert.deepEqual(families(256_000 + 31_250), ["igmp", "mld"], "the second start-up query");
  assert.deepEqual(families(256_000 + 31_250 + 124_999), []);
  assert.deepEqual(families(256_000 + 31_250 + 125_000), ["igmp", "mld"], "then every query interval");
});

Deno.test("a guest reporting IPv6 groups crafted to one hash bucket: past CHAIN_MAX they are refused as a full table, the same by a copy made with its settings (the data-plane thread's), and a port going down or expiry frees the chain for others", () => {
  const seed = 1234;
  const snoop = new McastSnooping(MAC, { hashSeed: seed });
  const copy = new McastSnooping(snoop.settings.mac, snoop.settings.options);
  // The bucket count follows maxGroups (4096 by default), so a table of the same seed and size shares buckets.
  const probe = new GroupTable(4096, seed);
  const target = probe.bucketOf(6, 0, parseIpv6Address("ff0e::"), 0);
  const groups: string[] = [];
  for (let n = 0; groups.length < CHAIN_MAX + 12; n++) {
    const text = `ff0e::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
    if (probe.bucketOf(6, 0, parseIpv6Address(text), 0) === target) groups.push(text);
  }
  for (const s of [snoop, copy]) {
    s.tick(1000);
    for (const g of groups) s.observe(1, 0, mldv1(131, g));
    assert.equal(s.groups().length, CHAIN_MAX);
    assert.equal(s.counters.tableFull, 12);
  }
  assert.deepEqual(copy.groups(), snoop.groups());
  snoop.forgetPort(1);
  assert.equal(snoop.groups().length, 0);
  for (const g of groups.slice(12)) snoop.observe(2, 0, mldv1(131, g));
  assert.deepEqual(
    snoop.groups().map((r) => r.group).sort(),
    groups.slice(12).sort(),
    "others take the room",
  );
  snoop.tick(1000 + 260_000);
  assert.equal(snoop.groups().length, 0);
  for (const g of groups.slice(0, CHAIN_MAX)) snoop.observe(3, 0, mldv1(131, g));
  assert.equal(snoop.groups().length, CHAIN_MAX, "expiry freed it too");
  assert.equal(snoop.counters.tableFull, 12);
});

for (const vlans of [false, true]) {
  Deno.test(
    `an output callback that switches a multicast frame of its own does not cut short the group frame being sent (${
      vlans ? "a VLAN configured" : "one flat LAN"
    }): the outer frame still reaches every member`,
    () => {
      const seen: { port: number; group: number }[] = [];
      let armed = false;
      const engine: SwitchEngine = new SwitchEngine({ numPorts: 8 }, (port, frame) => {
        seen.push({ port, group: frame[33]! });
        if (port === 2 && armed) {
          armed = false;
          engine.input(4, udpTo([239, 2, 2, 2]));
        }
      });
      for (const p of [1, 2, 3, 4, 5]) engine.activatePort(p);
      if (vlans) {
        // Not one flat LAN any more (port 6 tagged in VLAN 10); ports 1-5 stay untagged in VLAN 0.
        engine.activatePort(6);
        engine.createVlan(10);
        engine.addVlanPort(10, 6);
      }
      const snoop = new McastSnooping(MAC);
      engine.snooping = snoop;
      snoop.setQuerier(true);
      engine.tick(1000);
      engine.tick(11_500);
      for (const p of [2, 3, 5]) engine.input(p, igmp(0x16, G));
      engine.input(1, igmp(0x16, [239, 2, 2, 2]));
      seen.length = 0;
      armed = true;
      engine.input(1, udpTo(G));
      assert.deepEqual(
        seen.filter((s) => s.group === 1).map((s) => s.port),
        [2, 3, 5],
        "the outer frame, to G",
      );
      assert.deepEqual(
        seen.filter((s) => s.group === 2).map((s) => s.port),
        [1],
        "the nested one, to 239.2.2.2",
      );
    },
  );
}

Deno.test("our own general queries heard back (a hub or a loop between two of our ports) elect nobody: ours stays the querier and goes on sending, their port is no router port; another bridge's query from 0.0.0.0 or our MLD address is still taken", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setQuerier(true);
  const ours = snoop.tick(1000).map((q) => q.frame);
  assert.equal(ours.length, 2);
  for (const f of ours) snoop.observe(3, 0, f);
  assert.deepEqual(snoop.queriers().map((q) => q.port), [null, null]);
  assert.deepEqual(snoop.routers(), []);
  assert.equal(snoop.tick(1000 + 31_250).length, 2, "the second start-up queries still go out");
  // The same queries from another bridge's MAC: taken, as the kernel takes an equal address.
  for (const f of ours) {
    const theirs = f.slice();
    theirs[11] = theirs[11]! ^ 0x40;
    snoop.observe(4, 0, theirs);
  }
  assert.deepEqual(snoop.queriers().map((q) => q.port), [4, 4]);
  assert.deepEqual(snoop.routers().map((r) => r.port), [4]);
});

Deno.test("a guest repeating a leave: its membership is answered by one round of two group-specific queries, not two per leave; a join and a leave again start a new round", () => {
  const { engine, snoop, send } = queried();
  send(2, igmp(0x16, G));
  const specific = () => snoop.counters.igmp.queriesOut;
  const before = specific();
  for (let i = 0; i < 1000; i++) send(2, igmp(0x17, G));
  engine.tick(12_000);
  engine.tick(13_000);
  engine.tick(14_000);
  assert.equal(specific() - before, 2);
  assert.equal(snoop.groups().length, 0);
  send(2, igmp(0x16, G));
  send(2, igmp(0x17, G));
  send(2, igmp(0x17, G));
  engine.tick(15_000);
  engine.tick(16_000);
  assert.equal(specific() - before, 4);
});

Deno.test("a new querier governs forwarding only once its query's max response delay passed, as the kernel's delay timer holds it: flooded until then; one lower than the current one follows on at once", () => {
  const { engine, snoop, send } = rig();
  engine.tick(1000);
  send(2, igmp(0x16, G));
  // 2.5 s of max response (25 tenths): multicast stays flooded that long, reports coming in meanwhile.
  send(4, igmpQueryFrom([10, 0, 0, 5], 25));
  assert.deepEqual(send(1, udpTo(G)), [2, 3, 4], "just elected: flooded");
  engine.tick(3499);
  assert.equal(snoop.querierState().ipv4, false);
  engine.tick(3500);
  assert.equal(snoop.querierState().ipv4, true);
  assert.deepEqual(send(1, udpTo(G)), [2, 4], "its delay passed: to the member and the router port");
  // A lower querier while this one is current: taken, and no new delay (the other-querier timer ran on).
  send(3, igmpQueryFrom([10, 0, 0, 1], 100));
  assert.deepEqual(snoop.queriers().map((q) => `${q.address} ${q.port}`), ["10.0.0.1 3"]);
  assert.equal(snoop.querierState().ipv4, true);
});

Deno.test("ours running, another querier appearing (a lower MLD address) holds forwarding for its max response delay, as the kernel's; ours taking over when that one's timer ran out governs at once", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setQuerier(true);
  snoop.tick(1000);
  assert.equal(snoop.querierState().ipv6, false, "ours just started: one response interval first");
  snoop.tick(10_000);
  assert.equal(snoop.querierState().ipv6, true);
  snoop.observe(
    1,
    0,
    buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), parseIpv6Address("fe80::1"), null, 2000),
  );
  assert.equal(snoop.querierState().ipv6, false, "a new querier: its 2 s first");
  snoop.tick(12_000);
  assert.equal(snoop.querierState().ipv6, true);
  snoop.tick(10_000 + 255_000);
  assert.deepEqual(snoop.queriers().map((q) => q.port), [null, null], "its timer ran out: ours");
  assert.equal(snoop.querierState().ipv6, true, "and ours governs at once, as br_multicast_querier_expired");
  // An MLDv1 query of max delay 0 is no general query to the kernel: nobody is elected.
  const other = new McastSnooping(MAC);
  other.tick(1000);
  other.observe(
    1,
    0,
    buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 9]), parseIpv6Address("fe80::1"), null, 0),
  );
  assert.deepEqual(other.queriers(), []);
});

Deno.test("a port whose client left: the querier heard there stays current with its timer, on no port, and the port is no router port any more, as a Linux bridge keeps a deleted port's querier", () => {
  const { engine, snoop, send } = rig();
  engine.tick(1000);
  send(4, igmpQueryFrom([10, 0, 0, 5]));
  send(4, buildMldQuery(new Uint8Array([2, 0, 0, 0, 0, 4]), parseIpv6Address("fe80::4"), null, 1000));
  engine.tick(20_000);
  assert.deepEqual(snoop.queriers().map((q) => `${q.address} ${q.port}`), ["10.0.0.5 4", "fe80::4 4"]);
  engine.deactivatePort(4);
  assert.deepEqual(snoop.queriers(), [
    { family: 4, address: "10.0.0.5", port: null, expiresIn: 236 },
    { family: 6, address: "fe80::4", port: null, expiresIn: 236 },
  ]);
  assert.deepEqual(snoop.routers(), []);
  assert.deepEqual(snoop.querierState(), { ipv4: true, ipv6: true }, "still a querier: snooping goes on");
  // Another client on port 4 later is not taken for that querier.
  engine.activatePort(4);
  assert.deepEqual(snoop.queriers().map((q) => q.port), [null, null]);
  engine.tick(1000 + 255_000);
  assert.deepEqual(snoop.queriers(), [], "its timer ran out as it would have");
});

Deno.test("a copy made with the settings of a machine whose mcast_hash_max was raised then lowered has its buckets: it refuses no group the original takes", () => {
  const seed = 99;
  const snoop = new McastSnooping(MAC, { hashSeed: seed });
  snoop.setOption("maxGroups", 65_536);
  snoop.setOption("maxGroups", 4096);
  assert.equal(snoop.settings.options.tableCapacity, 65_536);
  const copy = new McastSnooping(snoop.settings.mac, snoop.settings.options);
  // Groups sharing one bucket of a 4096-group table (8192 buckets), each in a bucket of its own at 65,536.
  const small = new GroupTable(4096, seed), large = new GroupTable(65_536, seed);
  const target = small.bucketOf(6, 0, parseIpv6Address("ff0e::"), 0);
  const groups: string[] = [];
  const taken = new Set<number>();
  for (let n = 0; groups.length < CHAIN_MAX + 4; n++) {
    const a = parseIpv6Address(`ff0e::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`);
    const big = large.bucketOf(6, 0, a, 0);
    if (small.bucketOf(6, 0, a, 0) !== target || taken.has(big)) continue;
    taken.add(big);
    groups.push(`ff0e::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`);
  }
  for (const s of [snoop, copy]) {
    s.tick(1000);
    for (const g of groups) s.observe(1, 0, mldv1(131, g));
    assert.equal(s.groups().length, CHAIN_MAX + 4);
    assert.equal(s.counters.tableFull, 0);
  }
  const fresh = new McastSnooping(MAC, { hashSeed: seed });
  fresh.tick(1000);
  for (const g of groups) fresh.observe(1, 0, mldv1(131, g));
  assert.equal(
    fresh.counters.tableFull,
    4,
    "a table never raised refuses past CHAIN_MAX: the groups do collide there",
  );
});

Deno.test("a group's ports, kept between frames, follow every change: a member joining, leaving fast, expiring or forgotten, a router port learned, set, expiring or dropped", () => {
  const snoop = new McastSnooping(MAC);
  snoop.setQuerier(true);
  snoop.tick(1000);
  snoop.tick(11_000);
  const data = udpTo(G);
  const to = () => routed(snoop, data)!.slice().sort((a, b) => a - b);
  snoop.observe(2, 0, igmp(0x16, G));
  assert.deepEqual(to(), [2]);
  snoop.observe(3, 0, igmp(0x16, G));
  assert.deepEqual(to(), [2, 3], "a member joined");
  snoop.setRouter(5, true);
  assert.deepEqual(to(), [2, 3, 5], "a permanent router port");
  snoop.setRouter(3, true);
  assert.deepEqual(to(), [2, 3, 5], "a member that is a router port too, once");
  snoop.observe(6, 0, igmpQueryFrom([0, 0, 0, 0]));
  assert.equal(routed(snoop, data), null, "another querier: flooded for its max response delay");
  snoop.tick(21_000);
  assert.deepEqual(to(), [2, 3, 5, 6], "a router port learned from a query");
  snoop.setFastLeave(2, true);
  snoop.observe(2, 0, igmp(0x17, G));
  assert.deepEqual(to(), [3, 5, 6], "a fast-leave member left");
  snoop.forgetPort(3);
  assert.deepEqual(to(), [3, 5, 6], "its member status forgotten, its permanent router status kept");
  snoop.setRouter(3, false);
  assert.deepEqual(to(), [5, 6], "router status dropped");
  snoop.observe(4, 0, igmp(0x16, G));
  assert.deepEqual(to(), [4, 5, 6]);
  snoop.tick(11_000 + 255_000);
  assert.deepEqual(to(), [4, 5], "the learned router port expired (255 s)");
  snoop.tick(21_000 + 260_000);
  assert.deepEqual(
    to(),
    [5],
    "the member expired (260 s): the group is unregistered, to the router port only",
  );
});

Deno.test("snooping turned on while the switch has run a while takes the switch's clock: a querier started at once still floods for its response interval, as a bridge's does", () => {
  const sent: number[] = [];
  const engine = new SwitchEngine({ numPorts: 8 }, (port) => sent.push(port));
  for (const p of [1, 2, 3]) engine.activatePort(p);
  engine.tick(60_000);
  const snoop = new McastSnooping(MAC);
  engine.snooping = snoop;
  snoop.setQuerier(true);
  engine.tick(61_000);
  sent.length = 0;
  engine.input(1, udpTo(G));
  assert.deepEqual(sent.filter((p) => p !== 1).sort(), [2, 3], "flooded: no reports answered its query yet");
  engine.tick(71_000);
  sent.length = 0;
  engine.input(1, udpTo(G));
  assert.deepEqual(sent, [], "an unregistered group, with no router port, goes nowhere once it governs");
});

/** A general IGMPv3 query from 10.0.0.`host` listing `sources` sources, checksums right. */
function igmpv3QueryWithSources(host: number, sources: number): Uint8Array {
  const len = 12 + 4 * sources;
  const f = new Uint8Array(14 + 24 + len);
  f.set([1, 0, 0x5e, 0, 0, 1, 2, 0, 0, 0, 0, host, 8, 0], 0);
  f.set([0x46, 0, 0, 24 + len, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, host, 224, 0, 0, 1, 0x94, 4, 0, 0], 14);
  const ipSum = internetChecksum(f, 14, 24);
  f[24] = ipSum >> 8;
  f[25] = ipSum & 0xff;
  f.set([0x11, 100, 0, 0, 0, 0, 0, 0, 0, 125, sources >> 8, sources & 0xff], 38);
  for (let i = 0; i < sources; i++) f.set([10, 0, 0, 9], 50 + 4 * i);
  const sum = internetChecksum(f, 38, len);
  f[40] = sum >> 8;
  f[41] = sum & 0xff;
  return f;
}

Deno.test("a general IGMPv3 query that lists sources elects no querier and makes no router port, as a Linux bridge ignores one (checked beside one)", () => {
  const snoop = new McastSnooping(MAC);
  assert.equal(parseGroupMessage(igmpv3QueryWithSources(5, 1)).type, "ok");
  snoop.observe(3, 0, igmpv3QueryWithSources(5, 1));
  assert.deepEqual(snoop.queriers(), []);
  assert.deepEqual(snoop.routers(), []);
  snoop.observe(3, 0, igmpv3QueryWithSources(7, 0));
  assert.deepEqual(snoop.queriers().map((q) => q.address), ["10.0.0.7"], "the same without sources is taken");
});

Deno.test("a copy that takes our querier before the machine it follows ticked says it is active when that machine routes by it", () => {
  // The switch thread's machine, made while the switch has run 20 s: it takes that clock at once.
  const thread = new McastSnooping(MAC);
  thread.tick(20_000);
  // The console's copy: snooping and our querier turned on together, before that tick reached it.
  const copy = new McastSnooping(MAC);
  copy.setQuerierLater(true);
  assert.equal(copy.querier, true, "the console reads our querier on at once");
  assert.deepEqual(copy.querierState(), { ipv4: false, ipv6: false }, "not active before it started");
  // The thread applies the command after its tick; the copy replays both in that order.
  thread.setQuerier(true);
  copy.tick(20_000);
  copy.querierStarted(true);
  const both = (ms: number) => {
    thread.tick(ms);
    copy.tick(ms);
    return [copy.querierState().ipv4, routed(thread, udpTo([239, 9, 9, 9])) !== null];
  };
  for (let ms = 21_000; ms < 30_000; ms += 1000) {
    assert.deepEqual(both(ms), [false, false], `at ${ms} ms both flood`);
  }
  assert.deepEqual(
    both(30_000),
    [true, true],
    "a response interval after the thread started it, both route by it",
  );
  assert.deepEqual(copy.queriers(), thread.queriers());
  // Off: the copy reads it at once and counts it off where the thread did.
  copy.setQuerierLater(false);
  assert.equal(copy.querier, false);
  thread.setQuerier(false);
  copy.querierStarted(false);
  assert.deepEqual(both(31_000), [false, false]);
});

Deno.test("started on its own clock, a copy would have said our querier was active 10 s before the machine it follows", () => {
  const thread = new McastSnooping(MAC);
  thread.tick(20_000);
  const copy = new McastSnooping(MAC);
  copy.setQuerier(true);
  thread.setQuerier(true);
  copy.tick(20_000);
  thread.tick(21_000);
  copy.tick(21_000);
  assert.deepEqual([copy.querierState().ipv4, thread.querierState().ipv4], [true, false]);
});

Deno.test("another querier's group-specific query cuts the group's memberships to last member count x its max response, as the kernel's bridge does; a report renews one", () => {
  const snoop = new McastSnooping(MAC);
  snoop.tick(1000);
  // A Linux bridge across port 1 is the querier; hosts on ports 2 and 3 joined 239.1.1.1.
  snoop.observe(1, 0, igmpQueryFrom([10, 0, 0, 254]));
  snoop.observe(2, 0, igmp(0x16, G, 2));
  snoop.observe(3, 0, igmp(0x16, G, 3));
  // Port 2's host leaves; the querier asks about the group (max response 1 s, the kernel's last member interval).
  snoop.observe(2, 0, igmp(0x17, G, 2));
  snoop.tick(2000);
  snoop.observe(1, 0, buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 0xfe]), 0xef010101, 10));
  // Port 3's host answers; port 2's does not.
  snoop.tick(2500);
  snoop.observe(3, 0, igmp(0x16, G, 3));
  const members = () => snoop.groups().filter((g) => g.group === "239.1.1.1").map((g) => g.port);
  assert.deepEqual(members().sort(), [2, 3]);
  // 2 x 1 s after the query, port 2 is no member: the kernel's bridge let it go then, not 260 s later.
  snoop.tick(4001);
  assert.deepEqual(members(), [3]);
});

Deno.test("our own group-specific query heard back (a hub or a loop) cuts no membership: only another querier's does", () => {
  const snoop = new McastSnooping(MAC);
  snoop.tick(1000);
  snoop.observe(1, 0, igmpQueryFrom([10, 0, 0, 254]));
  snoop.observe(2, 0, igmp(0x16, G, 2));
  snoop.tick(2000);
  // Ours (our MAC as its source) with a max response of 0.1 s, back on port 3: nobody answers it.
  snoop.observe(3, 0, buildIgmpQuery(MAC, 0xef010101, 1));
  snoop.tick(5000);
  assert.deepEqual(snoop.groups().filter((g) => g.group === "239.1.1.1").map((g) => g.port), [2]);
});
