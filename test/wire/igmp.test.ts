import assert from "node:assert/strict";
import {
  buildIgmpQuery,
  buildMldQuery,
  McastKind,
  multicastKind,
  parseGroupMessage,
  queryMaxDelayMs,
} from "../../src/wire/igmp.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
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

const MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

Deno.test("IGMPv3 records: exclude-mode joins, include-with-sources joins, to-include-nothing leaves", () => {
  const msg = parseGroupMessage(
    igmpv3([[4, [239, 1, 1, 1], 0], [1, [239, 1, 1, 2], 2], [3, [239, 1, 1, 3], 0]]),
  );
  assert.deepEqual(msg, {
    type: "ok",
    family: 4,
    // One report, as the Linux bridge counts it, whatever its records say.
    kind: "report",
    events: [
      { kind: "join", group: "239.1.1.1", family: 4 },
      { kind: "join", group: "239.1.1.2", family: 4 },
      { kind: "leave", group: "239.1.1.3", family: 4 },
    ],
  });
});

Deno.test("IGMPv3 with a record count past the message is malformed", () => {
  const f = igmpv3([[4, [239, 1, 1, 1], 0]]);
  f[34 + 7] = 50; // 50 records claimed, 1 present
  f[36] = 0;
  f[37] = 0;
  const d = internetChecksum(f, 34, f.length - 34);
  f[36] = d >> 8;
  f[37] = d & 0xff;
  assert.deepEqual(parseGroupMessage(f), { type: "bad", why: "IGMPv3 record past the end", family: 4 });
});

Deno.test("MLDv2 records: a join and a leave of ff3e::1:2; a bad checksum is malformed", () => {
  assert.deepEqual(parseGroupMessage(mldv2(4, "ff3e::1:2")), {
    type: "ok",
    family: 6,
    kind: "report",
    events: [{ kind: "join", group: "ff3e::1:2", family: 6 }],
  });
  assert.deepEqual(parseGroupMessage(mldv2(3, "ff3e::1:2")), {
    type: "ok",
    family: 6,
    kind: "report",
    events: [{ kind: "leave", group: "ff3e::1:2", family: 6 }],
  });
  const bad = mldv2(4, "ff3e::1:2");
  bad[bad.length - 1]! ^= 1;
  assert.deepEqual(parseGroupMessage(bad), { type: "bad", why: "bad MLD checksum", family: 6 });
});

Deno.test("our queries parse back: IGMP general and group-specific, MLD general", () => {
  assert.deepEqual(parseGroupMessage(buildIgmpQuery(MAC, null, 100)), {
    type: "ok",
    family: 4,
    kind: "query",
    events: [{ kind: "query", group: null, family: 4 }],
  });
  assert.deepEqual(parseGroupMessage(buildIgmpQuery(MAC, 0xef010101, 10)), {
    type: "ok",
    family: 4,
    kind: "query",
    events: [{ kind: "query", group: "239.1.1.1", family: 4 }],
  });
  assert.deepEqual(parseGroupMessage(buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 10000)), {
    type: "ok",
    family: 6,
    kind: "query",
    events: [{ kind: "query", group: null, family: 6 }],
  });
});

Deno.test("MLD is read behind a hop-by-hop header first, with or without the router alert; without one it is no MLD", () => {
  const report = (hbh?: number[] | null) => parseGroupMessage(mldv1(131, "ff0e::1:2", hbh));
  assert.deepEqual(report(), {
    type: "ok",
    family: 6,
    kind: "report",
    events: [{ kind: "join", group: "ff0e::1:2", family: 6 }],
  });
  assert.equal(report(HBH_PADN_ONLY).type, "ok");
  assert.deepEqual(report(null), { type: "other" });
});

Deno.test("an IPv6 packet whose payload length is 0 or past the frame, or not version 6, or cut short is malformed", () => {
  const v5 = udp6ToGroup("ff0e::1:2");
  v5[14] = 0x50;
  for (
    const [frame, why] of [
      [udp6ToGroup("ff02::1", 0), "payload length 0"],
      [udp6ToGroup("ff0e::1:2", 13), "payload length past the end of the packet"],
      [v5, "not IP version 6"],
      [udp6ToGroup("ff0e::1:2").subarray(0, 14 + 39), "shorter than an IPv6 header"],
    ] as const
  ) {
    assert.deepEqual(parseGroupMessage(frame), { type: "bad", why, family: 6 });
  }
  assert.deepEqual(parseGroupMessage(udp6ToGroup("ff0e::1:2")), { type: "other" });
});

Deno.test("multicastKind: v1/v2 reports to the routers, v3 reports and leaves flooded, routable groups as data", () => {
  const src = new Uint8Array([2, 0, 0, 0, 0, 1]);
  assert.equal(multicastKind(igmp(0x16, [239, 1, 1, 1])), McastKind.Report4);
  assert.equal(multicastKind(igmp(0x12, [239, 1, 1, 1])), McastKind.Report4);
  assert.equal(multicastKind(igmp(0x17, [239, 1, 1, 1])), McastKind.Flood);
  assert.equal(multicastKind(igmpv3([[4, [239, 1, 1, 1], 0]])), McastKind.Flood);
  assert.equal(multicastKind(udpToGroup([239, 1, 1, 1], 1, src)), McastKind.Data4);
  assert.equal(multicastKind(udpToGroup([224, 0, 0, 251], 1, src)), McastKind.Flood);
  assert.equal(multicastKind(mldv1(131, "ff0e::1:2")), McastKind.Report6);
  assert.equal(multicastKind(mldv1(131, "ff02::1:ff00:1")), McastKind.Report6);
  assert.equal(multicastKind(mldv1(131, "ff0e::1:2", null)), McastKind.Data6);
  assert.equal(multicastKind(mldv1(132, "ff0e::1:2")), McastKind.Flood);
  assert.equal(multicastKind(mldv2(4, "ff0e::1:2")), McastKind.Flood);
  assert.equal(multicastKind(udp6ToGroup("ff0e::1:2")), McastKind.Data6);
  assert.equal(multicastKind(udp6ToGroup("ff02::fb")), McastKind.Flood);
  // An IGMP header claimed past the frame: no type to read, flooded (never read past the end).
  const ihl = igmp(0x16, [239, 1, 1, 1]).subarray(0, 14 + 20);
  ihl[14] = 0x4f;
  assert.equal(multicastKind(ihl), McastKind.Flood);
});

Deno.test("an IPv4 packet with a bad header checksum or total length is malformed; a broadcast frame is not read", () => {
  const src = new Uint8Array([2, 0, 0, 0, 0, 1]);
  const bad = udpToGroup([239, 1, 1, 1], 1, src);
  bad[24]! ^= 0xff;
  assert.deepEqual(parseGroupMessage(bad), { type: "bad", why: "bad header checksum", family: 4 });
  assert.deepEqual(parseGroupMessage(udpToGroup([239, 1, 1, 1], 1, src)), { type: "other" });
  const bcast = udp6ToGroup("ff0e::1:2", 0);
  bcast.fill(0xff, 0, 6);
  assert.deepEqual(parseGroupMessage(bcast), { type: "other" });
  assert.equal(multicastKind(bcast), McastKind.Flood);
});

Deno.test("an IGMP message in a fragment is read as the kernel reads it: by its own checksum, the fragment fields not looked at", () => {
  for (const [flags, offset] of [[0x20, 0], [0, 1], [0x20, 3]] as const) {
    const f = igmp(0x16, [239, 1, 1, 9], 1);
    f[20] = flags;
    f[21] = offset;
    f[24] = f[25] = 0;
    const c = internetChecksum(f, 14, 20);
    f[24] = c >> 8;
    f[25] = c & 0xff;
    assert.deepEqual(parseGroupMessage(f), {
      type: "ok",
      family: 4,
      kind: "report",
      events: [{ kind: "join", group: "239.1.1.9", family: 4 }],
    }, `flags ${flags} offset ${offset}`);
    assert.equal(multicastKind(f), McastKind.Report4);
    f[38]! ^= 1; // the IGMP checksum no longer holds
    assert.deepEqual(parseGroupMessage(f), { type: "bad", why: "bad IGMP checksum", family: 4 });
  }
});

Deno.test("an IGMPv1 query (8 bytes, max response 0) is a general one whatever its group field says, as the kernel's bridge reads it; an IGMPv2 one of a group is group-specific", () => {
  // 10.0.0.5 to 239.1.1.1, group 239.1.1.1, code 0: RFC 1112's query has no group; the kernel zeroes it.
  const v1 = igmp(0x11, [239, 1, 1, 1], 5);
  assert.deepEqual(parseGroupMessage(v1), {
    type: "ok",
    family: 4,
    kind: "query",
    events: [{ kind: "query", group: null, family: 4 }],
  });
  assert.equal(queryMaxDelayMs(v1), 10_000);
  // The same with a max response of a tenth is IGMPv2's, about its group alone.
  assert.deepEqual(parseGroupMessage(igmp(0x11, [239, 1, 1, 1], 5, 1)), {
    type: "ok",
    family: 4,
    kind: "query",
    events: [{ kind: "query", group: "239.1.1.1", family: 4 }],
  });
  // Ours never sends a group's query with max response 0, which every host would take for a general one.
  const ours = buildIgmpQuery(MAC, 0xef010101, 0);
  assert.equal(ours[14 + 24 + 1], 1);
  assert.deepEqual(parseGroupMessage(ours), {
    type: "ok",
    family: 4,
    kind: "query",
    events: [{ kind: "query", group: "239.1.1.1", family: 4 }],
  });
});

Deno.test("a query the kernel refuses is malformed: a general one not to 224.0.0.1 or ff02::1, an odd length, an MLD one not from a link-local address", () => {
  const general4 = buildIgmpQuery(MAC, null, 100);
  const to = general4.slice();
  to.set([239, 1, 1, 9], 30);
  to[24] = to[25] = 0;
  const c = internetChecksum(to, 14, 24);
  to[24] = c >> 8;
  to[25] = c & 0xff;
  assert.deepEqual(parseGroupMessage(to), { type: "bad", why: "general query not to 224.0.0.1", family: 4 });
  const general6 = buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 1000);
  const fromGlobal = buildMldQuery(MAC, parseIpv6Address("2001:db8::1"), null, 1000);
  assert.deepEqual(parseGroupMessage(fromGlobal), {
    type: "bad",
    why: "MLD query not from a link-local address",
    family: 6,
  });
  // Our own queries hold.
  assert.equal(parseGroupMessage(general4).type, "ok");
  assert.equal(parseGroupMessage(general6).type, "ok");
});

/** A general IGMPv3 query (12 bytes) of max response code `code`, as the kernel reads one (checksums aside). */
function igmpv3Query(code: number): Uint8Array {
  const f = new Uint8Array(14 + 24 + 12);
  f.set([1, 0, 0x5e, 0, 0, 1, ...MAC, 8, 0], 0);
  f.set([0x46, 0, 0, 36, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 1, 224, 0, 0, 1, 0x94, 4, 0, 0], 14);
  f.set([0x11, code], 38);
  return f;
}

/** A general MLDv2 query (28 bytes) of max response code `code`, from an MLDv1 one lengthened. */
function mldv2Query(code: number): Uint8Array {
  const v1 = buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 0);
  const f = new Uint8Array(v1.length + 4);
  f.set(v1);
  f[19] = f[19]! + 4;
  const at = f.length - 28;
  f[at + 4] = code >> 8;
  f[at + 5] = code & 0xff;
  return f;
}

Deno.test("a general query's max response delay, as the kernel's bridge reads it: IGMPv2 tenths (0: IGMPv1's 10 s), IGMPv3 and MLDv2 floating codes, MLDv1 milliseconds (0: no general query)", () => {
  assert.equal(queryMaxDelayMs(buildIgmpQuery(MAC, null, 25)), 2500);
  assert.equal(queryMaxDelayMs(buildIgmpQuery(MAC, null, 0)), 10_000);
  assert.equal(queryMaxDelayMs(igmpv3Query(100)), 10_000);
  assert.equal(queryMaxDelayMs(igmpv3Query(0)), 1);
  // 0x8f: exponent 0, mantissa 15: (15 | 16) << 3 = 248 tenths.
  assert.equal(queryMaxDelayMs(igmpv3Query(0x8f)), 24_800);
  assert.equal(queryMaxDelayMs(buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 1500)), 1500);
  assert.equal(queryMaxDelayMs(buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 0)), -1);
  assert.equal(queryMaxDelayMs(mldv2Query(10_000)), 10_000);
  assert.equal(queryMaxDelayMs(mldv2Query(0)), 1);
  // 0x8001: exponent 0, mantissa 1: (1 | 0x1000) << 3 ms.
  assert.equal(queryMaxDelayMs(mldv2Query(0x8001)), 0x1001 << 3);
});

Deno.test("a general query's max response delay at the ends of its codes: the largest floating codes in range, the mantissa's step at 128 and 32768, and one listing sources no general query", () => {
  assert.equal(queryMaxDelayMs(buildIgmpQuery(MAC, null, 255)), 25_500);
  assert.equal(queryMaxDelayMs(igmpv3Query(0x7f)), 12_700);
  assert.equal(queryMaxDelayMs(igmpv3Query(0x80)), 12_800);
  // 0xff: exponent 7, mantissa 15: 31 << 10 tenths, about 53 minutes.
  assert.equal(queryMaxDelayMs(igmpv3Query(0xff)), 3_174_400);
  assert.equal(queryMaxDelayMs(buildMldQuery(MAC, parseIpv6Address("fe80::1"), null, 0xffff)), 0xffff);
  assert.equal(queryMaxDelayMs(mldv2Query(0x7fff)), 32_767);
  assert.equal(queryMaxDelayMs(mldv2Query(0x8000)), 32_768);
  // 0xffff: exponent 7, mantissa 0xfff: 0x1fff << 10 ms, about 2.3 hours, still a positive int.
  assert.equal(queryMaxDelayMs(mldv2Query(0xffff)), 0x1fff << 10);
  const withSource4 = igmpv3Query(100);
  withSource4[38 + 11] = 1;
  assert.equal(queryMaxDelayMs(withSource4), -1);
  const withSource6 = mldv2Query(10_000);
  withSource6[withSource6.length - 28 + 26] = 1;
  assert.equal(queryMaxDelayMs(withSource6), -1);
});
