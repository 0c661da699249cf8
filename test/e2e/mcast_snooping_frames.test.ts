/**
 * Crafted IGMP/MLD and IPv6 frames into our snooping switch and into a
 * Linux bridge (mcast_snooping 1), the same frames in the same order: the
 * same hosts receive each. Four hosts: a sends the cases, b is a member of
 * ff0e::1:2 and 239.1.1.2, c a member of nothing, r a router (its queries,
 * one per family, make a querier present and its port a router port, in
 * both switches). Each case carries a tag (the IPv6 flow label, the IPv4
 * identification) read back from tcpdump's captures at b, c and r. Pins
 * what the kernel does and we do alike: IGMPv1/v2 and MLDv1 reports go to
 * the router alone, IGMPv3/MLDv2 reports are flooded, an MLD type without a
 * hop-by-hop header is data to its group, an IPv6 multicast packet of
 * payload length 0 or past the frame reaches nobody (ff02::1 included),
 * nor does an IPv4 multicast packet with a bad header checksum or total
 * length; broadcast is not checked; an IGMPv2 report in a fragment, first
 * or later, is a report (the kernel reads IGMP by its own checksum, never
 * the fragment fields), and an IGMPv2 leave is flooded; behind a hop-by-hop
 * header, MLD behind destination options or a first fragment's header is
 * MLD, a later fragment's is data, no next header or an ICMPv6 checksum
 * that fails (an echo's too) reaches nobody; a query whose length or
 * addresses the kernel refuses (a general one not to 224.0.0.1 or ff02::1,
 * an MLD one from a global address) reaches nobody either. The bridge's netns has br_netfilter
 * off (its own header checks would drop broadcast and unicast too).
 * The hosts' own IPv6 is off, so no stack of theirs reports groups. Root
 * only; runs in CI.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { startTcpdump, tapHost } from "../helpers/tap_hosts.ts";
import { pcapFrames, quietHosts, sendFrames, snoopingBridge } from "../helpers/mcast_hosts.ts";
import { buildIgmpQuery, buildMldQuery } from "../../src/wire/igmp.ts";
import { internetChecksum, transportChecksum } from "../../src/wire/checksum.ts";
import {
  HBH_PADN_ONLY,
  igmp,
  igmpv3,
  mldv1,
  mldv2,
  parseIpv6Address,
  udp6ToGroup,
  udpToGroup,
} from "../helpers/igmp.ts";

const A_MAC = [2, 0, 0, 0, 0, 1];

/** `frame` carrying `tag`: in its flow label (IPv6) or its identification (IPv4, checksum redone). */
function tagged(frame: Uint8Array, tag: number): Uint8Array {
  const f = frame.slice();
  if (f[12] === 0x86) {
    f[15] = (f[15]! & 0xf0) | (tag >> 16);
    f[16] = (tag >> 8) & 0xff;
    f[17] = tag & 0xff;
  } else {
    f[18] = tag >> 8;
    f[19] = tag & 0xff;
    f[24] = f[25] = 0;
    const c = internetChecksum(f, 14, (f[14]! & 0x0f) * 4);
    f[24] = c >> 8;
    f[25] = c & 0xff;
  }
  return f;
}

/** `frame` (IPv4) claiming 256 bytes more than it holds (its checksum is redone by `tagged`). */
function longer(frame: Uint8Array): Uint8Array {
  frame[16]! += 1;
  return frame;
}

/** `frame` (IPv4) as a fragment: more fragments follow (`more`), at `offset` 8-byte units (checksum redone by `tagged`). */
function fragment(frame: Uint8Array, more: boolean, offset: number): Uint8Array {
  frame[20] = (more ? 0x20 : 0) | (offset >> 8);
  frame[21] = offset & 0xff;
  return frame;
}

/** `frame` (IPv4) sent to 224.0.0.`last` instead (its header checksum redone by `tagged`). */
function toLocal(frame: Uint8Array, last: number): Uint8Array {
  frame.set([1, 0, 0x5e, 0, 0, last], 0);
  frame.set([224, 0, 0, last], 30);
  return frame;
}

/** `frame` (`mldv1`'s) with its ICMPv6 checksum broken. */
function badIcmpv6(frame: Uint8Array): Uint8Array {
  frame[frame.length - 22]! ^= 1;
  return frame;
}

/** `frame` (`igmp`'s) with its IGMP checksum broken. */
function badIgmp(frame: Uint8Array): Uint8Array {
  frame[36]! ^= 1;
  return frame;
}

/** A hop-by-hop header with the router alert, in front of `next`. */
const hbh = (next: number) => [next, 0, 5, 2, 0, 0, 1, 0];

/** A fragment header in front of ICMPv6, at `offset` bytes, more to come or not. */
const FRAG = (
  offset: number,
  more: boolean,
) => [58, 0, offset >> 8, (offset & 0xf8) | (more ? 1 : 0), 0, 0, 0, 1];

/** a's general IGMP query (`buildIgmpQuery`'s). */
const IGMP_GENERAL = buildIgmpQuery(new Uint8Array(A_MAC), null, 1);

/** a's general MLD query (`buildMldQuery`'s) from `src` to `dst`, `extra` zero bytes longer, checksummed. */
function mldQueryAs(src: string, dst: string, extra = 0): Uint8Array {
  const frame = buildMldQuery(new Uint8Array(A_MAC), parseIpv6Address("fe80::1"), null, 100);
  const f = new Uint8Array(frame.length + extra);
  f.set(frame);
  const d = parseIpv6Address(dst);
  f.set(d.subarray(12), 2);
  f.set(parseIpv6Address(src), 22);
  f.set(d, 38);
  f[19]! += extra;
  f[64] = f[65] = 0;
  const c = transportChecksum(f.subarray(22, 38), d, 58, f, 62, f.length - 62);
  f[64] = c >> 8;
  f[65] = c & 0xff;
  return f;
}

/** An IGMP query (`buildIgmpQuery`'s) to `dst`, `extra` zero bytes longer, checksummed again (header: `tagged`). */
function igmpQueryAs(frame: Uint8Array, dst: number[], extra = 0): Uint8Array {
  const f = new Uint8Array(frame.length + extra);
  f.set(frame);
  f.set([1, 0, 0x5e, dst[1]! & 0x7f, dst[2]!, dst[3]!], 0);
  f.set(dst, 30);
  f[17]! += extra;
  f[40] = f[41] = 0;
  const c = internetChecksum(f, 38, f.length - 38);
  f[40] = c >> 8;
  f[41] = c & 0xff;
  return f;
}

/** `frame` sent to ff:ff:ff:ff:ff:ff. */
function broadcast(frame: Uint8Array): Uint8Array {
  frame.fill(0xff, 0, 6);
  return frame;
}

/** The cases a sends, each with its tag and the hosts (of b, c, r) the Linux bridge delivers it to. */
const CASES: {
  what: string;
  tag: number;
  frame: Uint8Array;
  to: string[];
  /** Its IPv4 header checksum broken after tagging. */
  badChecksum?: boolean;
}[] = [
  { what: "MLDv1 report", tag: 1, frame: mldv1(131, "ff0e::1:9"), to: ["r"] },
  { what: "MLDv2 report", tag: 2, frame: mldv2(4, "ff0e::1:9"), to: ["b", "c", "r"] },
  {
    what: "MLDv1 report without hop-by-hop, b's group",
    tag: 3,
    frame: mldv1(131, "ff0e::1:2", null),
    to: ["b", "r"],
  },
  {
    what: "MLDv1 report without hop-by-hop, no member",
    tag: 4,
    frame: mldv1(131, "ff0e::1:7", null),
    to: ["r"],
  },
  {
    what: "MLDv1 report behind PadN alone",
    tag: 5,
    frame: mldv1(131, "ff0e::1:5", HBH_PADN_ONLY),
    to: ["r"],
  },
  { what: "MLDv1 done", tag: 6, frame: mldv1(132, "ff0e::1:9"), to: ["b", "c", "r"] },
  { what: "UDP to b's group", tag: 7, frame: udp6ToGroup("ff0e::1:2"), to: ["b", "r"] },
  { what: "UDP, payload length 0", tag: 8, frame: udp6ToGroup("ff0e::1:2", 0), to: [] },
  { what: "UDP, payload length past the frame", tag: 9, frame: udp6ToGroup("ff0e::1:2", 200), to: [] },
  { what: "UDP to ff02::1, payload length 0", tag: 10, frame: udp6ToGroup("ff02::1", 0), to: [] },
  { what: "UDP to ff02::1", tag: 11, frame: udp6ToGroup("ff02::1"), to: ["b", "c", "r"] },
  { what: "IGMPv2 report", tag: 101, frame: igmp(0x16, [239, 1, 1, 9], 1), to: ["r"] },
  { what: "IGMPv3 report", tag: 102, frame: igmpv3([[4, [239, 1, 1, 9], 0]]), to: ["b", "c", "r"] },
  {
    what: "UDP to b's IPv4 group",
    tag: 103,
    frame: udpToGroup([239, 1, 1, 2], 0, new Uint8Array(A_MAC)),
    to: ["b", "r"],
  },
  {
    what: "UDP to b's IPv4 group, bad header checksum",
    tag: 104,
    frame: udpToGroup([239, 1, 1, 2], 0, new Uint8Array(A_MAC)),
    to: [],
    badChecksum: true,
  },
  {
    what: "UDP to b's IPv4 group, total length past the frame",
    tag: 105,
    frame: longer(udpToGroup([239, 1, 1, 2], 0, new Uint8Array(A_MAC))),
    to: [],
  },
  {
    what: "IPv4 broadcast, bad header checksum (not multicast: not checked)",
    tag: 106,
    frame: broadcast(udpToGroup([255, 255, 255, 255], 0, new Uint8Array(A_MAC))),
    to: ["b", "c", "r"],
    badChecksum: true,
  },
  { what: "MLDv1 report, bad checksum", tag: 13, frame: badIcmpv6(mldv1(131, "ff0e::1:9")), to: [] },
  { what: "ICMPv6 echo behind hop-by-hop", tag: 20, frame: mldv1(128, "ff0e::1:2"), to: ["b", "r"] },
  {
    what: "ICMPv6 echo behind hop-by-hop, bad checksum",
    tag: 18,
    frame: badIcmpv6(mldv1(128, "ff0e::1:2")),
    to: [],
  },
  {
    what: "MLDv1 report behind hop-by-hop and a first fragment's header",
    tag: 14,
    frame: mldv1(131, "ff0e::1:9", [...hbh(44), ...FRAG(0, true)]),
    to: ["r"],
  },
  {
    what: "MLDv1 report behind hop-by-hop and destination options",
    tag: 15,
    frame: mldv1(131, "ff0e::1:9", [...hbh(60), 58, 0, 1, 4, 0, 0, 0, 0]),
    to: ["r"],
  },
  {
    what: "MLDv1 report behind a later fragment's header: data",
    tag: 16,
    frame: mldv1(131, "ff0e::1:2", [...hbh(44), ...FRAG(8, false)]),
    to: ["b", "r"],
  },
  {
    what: "hop-by-hop, then no next header",
    tag: 17,
    frame: mldv1(131, "ff0e::1:2", [59, 0, 1, 4, 0, 0, 0, 0]),
    to: [],
  },
  {
    what: "IGMPv2 report, bad IGMP checksum",
    tag: 111,
    frame: badIgmp(igmp(0x16, [239, 1, 1, 2], 1)),
    to: [],
  },
  {
    what: "IGMPv2 leave to 224.0.0.2",
    tag: 107,
    frame: toLocal(igmp(0x17, [239, 1, 1, 9], 1), 2),
    to: ["b", "c", "r"],
  },
  {
    what: "IGMPv2 report in a first fragment (more to come; its IGMP checksum holds)",
    tag: 108,
    frame: fragment(igmp(0x16, [239, 1, 1, 9], 1), true, 0),
    to: ["r"],
  },
  {
    what: "IGMPv2 report in a later fragment (its IGMP checksum holds)",
    tag: 109,
    frame: fragment(igmp(0x16, [239, 1, 1, 9], 1), false, 1),
    to: ["r"],
  },
  {
    what: "UDP to b's IPv4 group in a first fragment",
    tag: 110,
    frame: fragment(udpToGroup([239, 1, 1, 2], 0, new Uint8Array(A_MAC)), true, 0),
    to: ["b", "r"],
  },
  // Queries from a (a makes itself a router port with each that holds, which no host here sees).
  {
    what: "IGMP general query not to 224.0.0.1",
    tag: 120,
    frame: igmpQueryAs(IGMP_GENERAL, [239, 1, 1, 9]),
    to: [],
  },
  { what: "IGMP query of 10 bytes", tag: 121, frame: igmpQueryAs(IGMP_GENERAL, [224, 0, 0, 1], 2), to: [] },
  {
    what: "IGMP query of 12 bytes (v3)",
    tag: 122,
    frame: igmpQueryAs(IGMP_GENERAL, [224, 0, 0, 1], 4),
    to: ["b", "c", "r"],
  },
  { what: "MLD general query not to ff02::1", tag: 30, frame: mldQueryAs("fe80::1", "ff0e::1:9"), to: [] },
  {
    what: "MLD general query from a global address",
    tag: 31,
    frame: mldQueryAs("2001:db8::1", "ff02::1"),
    to: [],
  },
  { what: "MLD query of 26 bytes", tag: 32, frame: mldQueryAs("fe80::1", "ff02::1", 2), to: [] },
  {
    what: "MLD query of 28 bytes (v2)",
    tag: 33,
    frame: mldQueryAs("fe80::1", "ff02::1", 4),
    to: ["b", "c", "r"],
  },
  {
    what: "IPv6 to a broadcast MAC, payload length 0 (not checked)",
    tag: 12,
    frame: broadcast(udp6ToGroup("ff0e::1:2", 0)),
    to: ["b", "c", "r"],
  },
];

/** The tags of a's frames in a pcap file (IPv6 flow labels, IPv4 identifications). */
function tagsIn(pcap: Uint8Array): number[] {
  const tags: number[] = [];
  for (const f of pcapFrames(pcap)) {
    if (f.length < 34 || !A_MAC.every((b, i) => f[6 + i] === b)) continue;
    const v6 = f[12] === 0x86 && f[13] === 0xdd;
    const tag = v6 ? ((f[15]! & 0x0f) << 16) | (f[16]! << 8) | f[17]! : (f[18]! << 8) | f[19]!;
    if (tag !== 0) tags.push(tag);
  }
  return tags;
}

/**
 * The scenario on hosts a, b, c, r (their interface `dev`, up): r's queries, b's reports, then a's cases;
 * returns, per case, the hosts that received it.
 */
async function receivers(
  lab: Lab,
  hosts: Record<string, Netns>,
  dev: string,
): Promise<Map<number, string[]>> {
  const send = (ns: Netns, frames: Uint8Array[]) => sendFrames(ns, dev, frames);
  const r = new Uint8Array([2, 0, 0, 0, 0, 4]);
  // Max response 0.1 s: the kernel counts another querier present once that delay has passed.
  await send(hosts.r!, [
    buildIgmpQuery(r, null, 1),
    buildMldQuery(r, parseIpv6Address("fe80::4"), null, 100),
  ]);
  await sleep(1_500);
  await send(hosts.b!, [mldv1(131, "ff0e::1:2", undefined, 2), igmp(0x16, [239, 1, 1, 2], 2)]);
  await sleep(500);
  const tmp = await lab.tempDir();
  const dumps = [];
  for (const name of ["b", "c", "r"]) {
    dumps.push(await startTcpdump(hosts[name]!, dev, `${tmp}/${name}.pcap`, "ip or ip6"));
  }
  await send(
    hosts.a!,
    CASES.map((c) => {
      const f = tagged(c.frame, c.tag);
      if (c.badChecksum) f[24]! ^= 0xff;
      return f;
    }),
  );
  await sleep(700);
  for (const d of dumps) d.kill("SIGINT");
  await Promise.all(dumps.map((d) => d.status));
  const got = new Map<number, string[]>(CASES.map((c) => [c.tag, []]));
  for (const name of ["b", "c", "r"]) {
    for (const tag of tagsIn(await Deno.readFile(`${tmp}/${name}.pcap`))) got.get(tag)?.push(name);
  }
  return got;
}

/** Each case's receivers against the Linux bridge's, said by name. */
function assertSame(got: Map<number, string[]>, who: string): void {
  for (const c of CASES) assert.deepEqual(got.get(c.tag), c.to, `${who}: ${c.what}`);
}

Deno.test("crafted reports, header-less MLD and bad IPv6 lengths reach the same hosts through a Linux bridge with mcast_snooping 1", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3", "bridge"]))) return;
  await withNetns(async (lab) => {
    const { hosts } = await snoopingBridge(lab, ["a", "b", "c", "r"]);
    assertSame(await receivers(lab, hosts, "e0"), "Linux bridge");
  });
});

Deno.test("the same frames through our switch with --mcast-snooping reach the same hosts", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3"]))) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    const sw = await startOurSwitch(dir, { extraArgs: ["--mcast-snooping"] });
    lab.defer(async () => {
      await sw.stop();
    });
    const hosts: Record<string, Netns> = {};
    for (const short of ["a", "b", "c", "r"]) hosts[short] = await tapHost(lab, dir, short);
    await quietHosts(Object.values(hosts), "t0");
    assertSame(await receivers(lab, hosts, "t0"), "our switch");
  });
});
