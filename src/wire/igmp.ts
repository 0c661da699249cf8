/**
 * IGMP (RFC 2236, RFC 3376) and MLD (RFC 2710, RFC 3810) as a snooping
 * switch reads them, and the general and group-specific queries it sends
 * as a querier.
 *
 * Theory of operation. `parseGroupMessage` takes a whole Ethernet frame
 * (hostile: every length is checked, checksums verified) and reports what
 * it says about group membership as a list of events: a query (and for
 * which group), joins and leaves. IGMPv3/MLDv2 records map to joins
 * (IS_EX, TO_EX, ALLOW with sources, IS_IN with sources) and leaves
 * (TO_IN or IS_IN with no sources): snooping here is per group, not per
 * source, like the Linux bridge's default forwarding. Groups are keyed as
 * text ("239.1.1.1", "ff3e::1:2"). MLD counts only behind a hop-by-hop
 * header, and an IPv4 or IPv6 packet whose header does not hold (IPv6
 * payload length 0 included) is malformed, as the Linux bridge reads them;
 * broadcast frames are neither read nor checked, as there.
 *
 * `multicastKind` then says, in place and without allocating, how a
 * snooping switch forwards a multicast frame it has read: flooded (queries,
 * leaves, IGMPv3/MLDv2 reports, link-local groups, non-IP), to the router
 * ports (IGMPv1/v2 and MLDv1 reports), or as data to its group.
 */
import { internetChecksum, transportChecksum } from "./checksum.ts";
import { formatIpv4, newIpv4Header, parseIpv4 } from "./ipv4.ts";
import { isBroadcast } from "./ethernet.ts";
import { ipv4FromU32 } from "./ip_address.ts";
import { checkIpv6Fixed, formatIpv6, writeIpv6Header } from "./ipv6.ts";

/** What one IGMP/MLD message says. */
export type GroupEvent =
  | { kind: "query"; group: string | null; family: 4 | 6 }
  | { kind: "join"; group: string; family: 4 | 6 }
  | { kind: "leave"; group: string; family: 4 | 6 };

/**
 * Which message it was, as the Linux bridge counts them (`ip link xstats
 * type bridge`): one a message, whatever its records say (an IGMPv3 report
 * whose record leaves a group is a report); null for a type nobody counts.
 */
export type GroupMessageKind = "query" | "report" | "leave" | null;

/** The result of reading a frame: not IGMP/MLD, a malformed one, or its events. */
export type GroupMessage = { type: "other" } | { type: "bad"; why: string; family: 4 | 6 } | {
  type: "ok";
  family: 4 | 6;
  kind: GroupMessageKind;
  events: GroupEvent[];
};

const OTHER: GroupMessage = { type: "other" };
const HOP_BY_HOP = 0;
const ip4 = newIpv4Header();

/**
 * Where a frame's payload starts, skipping one 802.1Q tag (its EtherType is the two bytes before); -1 if
 * too short. A number, not a record: every multicast frame is asked, with snooping on.
 */
export function etherPayloadAt(frame: Uint8Array): number {
  if (frame.length < 14) return -1;
  if (frame[12] !== 0x81 || frame[13] !== 0x00) return 14;
  return frame.length < 18 ? -1 : 18;
}

/** Reads IGMP or MLD out of an Ethernet frame. */
export function parseGroupMessage(frame: Uint8Array): GroupMessage {
  const at = etherPayloadAt(frame);
  // The Linux bridge snoops multicast MACs alone: broadcast is neither read nor checked.
  if (at < 0 || isBroadcast(frame)) return OTHER;
  const type = (frame[at - 2]! << 8) | frame[at - 1]!;
  if (type === 0x0800) return parseIgmp(frame, at);
  if (type === 0x86dd) return parseMld(frame, at);
  return OTHER;
}

function parseIgmp(frame: Uint8Array, off: number): GroupMessage {
  // Every IPv4 multicast packet's header is checked, IGMP or not, as the Linux bridge's snooping checks it
  // (ip_mc_check_iphdr): one cut short, with a bad checksum or a total length past the frame or short of
  // the header is malformed (a kernel bridge dropped each, br_netfilter off; checked here).
  const why = parseIpv4(frame, off, frame.length - off, ip4);
  if (why !== null) return bad4(why);
  if (ip4.protocol !== 2) return OTHER;
  const at = ip4.payloadOffset;
  const len = ip4.payloadLength;
  // A fragment is read as IGMP all the same, as the kernel's ip_mc_check_igmp reads it (it never looks at
  // the fragment fields): one whose IGMP checksum holds is the message it says (a bridge sent a report in a
  // first or a later fragment to its router port alone), any other is malformed by that checksum.
  if (len < 8) return bad4("IGMP shorter than 8 bytes");
  if (internetChecksum(frame, at, len) !== 0) return bad4("bad IGMP checksum");
  const type = frame[at]!;
  const group = read4(frame, at + 4);
  switch (type) {
    case 0x11:
      // As the kernel's ip_mc_check_igmp_query: IGMPv1/v2 queries are 8 bytes, v3 ones 12 or more, and a
      // general one goes to 224.0.0.1 (RFC 2236, 3376); any other is malformed (a bridge dropped each).
      if (len !== 8 && len < 12) return bad4("IGMP query of neither 8 nor at least 12 bytes");
      if (group === 0 && ip4.dst !== ALL_SYSTEMS) return bad4("general query not to 224.0.0.1");
      // An 8-byte query of max response 0 is IGMPv1's, which has no group-specific query: the kernel's
      // bridge (br_ip4_multicast_query) takes it for a general one whatever its group field says, and
      // elects its sender (checked beside a kernel bridge). The 224.0.0.1 rule above reads the field as sent.
      if (len === 8 && frame[at + 1] === 0) {
        return ok(4, "query", [{ kind: "query", group: null, family: 4 }]);
      }
      return ok(4, "query", [{ kind: "query", group: group === 0 ? null : formatIpv4(group), family: 4 }]);
    case 0x12:
    case 0x16:
      return isGroup4(group)
        ? ok(4, "report", [{ kind: "join", group: formatIpv4(group), family: 4 }])
        : bad4("report of a non-group");
    case 0x17:
      return isGroup4(group)
        ? ok(4, "leave", [{ kind: "leave", group: formatIpv4(group), family: 4 }])
        : bad4("leave of a non-group");
    case 0x22:
      return readRecords(frame, at, len, 4);
    default:
      return ok(4, null, []);
  }
}

function parseMld(frame: Uint8Array, off: number): GroupMessage {
  // Every IPv6 multicast packet's fixed header is checked, MLD or not, as the Linux bridge's snooping
  // checks it (ipv6_mc_check_ip6hdr): one cut short, not version 6, or whose payload length is 0 or past
  // the frame is malformed (a kernel bridge dropped each, to ff02::1 too; checked here).
  const size = frame.length - off;
  const fixed = checkIpv6Fixed(frame, off, size);
  if (fixed !== null) return bad6(fixed);
  if (frame[off + 4] === 0 && frame[off + 5] === 0) return bad6("payload length 0");
  // MLD is MLD behind a hop-by-hop header first (RFC 2710/3810 put its router alert there). Without one,
  // the kernel bridge takes an MLD type for data to its destination group, neither read nor counted;
  // behind one without the alert (PadN alone) it still reads MLD (both checked beside a kernel bridge).
  if (frame[off + 6] !== HOP_BY_HOP) return OTHER;
  // Behind it, the extension headers are walked as the kernel walks them (`icmpv6At`), and any ICMPv6
  // there has its checksum checked, MLD or not (ipv6_mc_check_icmpv6; a bridge dropped an echo whose
  // checksum failed).
  const at = icmpv6At(frame, off);
  if (at === EXT_MALFORMED) return bad6("extension header cut short, or no next header");
  if (at === NOT_ICMPV6) return OTHER;
  const len = off + IPV6_FIXED + ((frame[off + 4]! << 8) | frame[off + 5]!) - at;
  if (len < 8) return bad6("ICMPv6 shorter than 8 bytes");
  const src = frame.subarray(off + 8, off + 24);
  const dst = frame.subarray(off + 24, off + 40);
  const type = frame[at]!;
  const mld = type === 130 || type === 131 || type === 132 || type === 143;
  if (transportChecksum(src, dst, 58, frame, at, len) !== 0) {
    return bad6(mld ? "bad MLD checksum" : "bad ICMPv6 checksum");
  }
  if (!mld) return OTHER;
  if (len < 24 && type !== 143) return bad6("MLD shorter than 24 bytes");
  if (type === 130) {
    // As the kernel's ipv6_mc_check_mld_query: from a link-local address, MLDv1 queries 24 bytes, v2 ones
    // 28 or more, a general one to ff02::1 (RFC 2710, 3810); any other is malformed (a bridge dropped each).
    if (!linkLocal(frame, off + 8)) return bad6("MLD query not from a link-local address");
    if (len !== 24 && len < 28) return bad6("MLD query of neither 24 nor at least 28 bytes");
    const zero = frame.subarray(at + 8, at + 24).every((b) => b === 0);
    if (zero && !allNodes(frame, off + 24)) return bad6("general query not to ff02::1");
    return ok(6, "query", [{ kind: "query", group: zero ? null : formatIpv6(frame, at + 8), family: 6 }]);
  }
  if (type === 131 || type === 132) {
    if (frame[at + 8] !== 0xff) return bad6("MLD report of a non-group");
    const kind = type === 131 ? "join" : "leave";
    return ok(6, type === 131 ? "report" : "leave", [{ kind, group: formatIpv6(frame, at + 8), family: 6 }]);
  }
  return readRecords(frame, at, len, 6);
}

/**
 * The maximum response delay of a general query `parseGroupMessage` took for one (milliseconds), as the
 * kernel's br_ip4_multicast_query and br_ip6_multicast_query read it: IGMPv1/v2's byte of tenths (0, an
 * IGMPv1 query, is 10 s), IGMPv3's code (RFC 3376 4.1.1, a floating point past 127; 0 is one tick, 1 ms
 * here), MLDv1's milliseconds, MLDv2's code (RFC 3810 5.1.3, floating past 32767; at least 1 ms). -1 for an
 * MLDv1 query of delay 0 and an IGMPv3 or MLDv2 one listing sources, which the kernel takes for no general
 * query at all (a bridge elected no querier from the IGMPv3 one; checked here). A snooping switch waits this
 * long after a new querier appears before it forwards by the reports that answer it.
 */
export function queryMaxDelayMs(frame: Uint8Array): number {
  const off = etherPayloadAt(frame);
  if (frame[off - 1] === 0x00) {
    // IPv4: the IGMP message after the header, its length what the total length leaves.
    const ihl = (frame[off]! & 0x0f) * 4;
    const at = off + ihl;
    const len = ((frame[off + 2]! << 8) | frame[off + 3]!) - ihl;
    const code = frame[at + 1]!;
    if (len === 8) return code === 0 ? 10_000 : code * 100;
    // One listing sources asks about them, not every group: the kernel's bridge elects nobody from it.
    if (frame[at + 10] !== 0 || frame[at + 11] !== 0) return -1;
    if (code === 0) return 1;
    return 100 * (code < 128 ? code : ((code & 0x0f) | 0x10) << (((code >> 4) & 7) + 3));
  }
  const at = icmpv6At(frame, off);
  const len = off + IPV6_FIXED + ((frame[off + 4]! << 8) | frame[off + 5]!) - at;
  const code = (frame[at + 4]! << 8) | frame[at + 5]!;
  if (len === 24) return code === 0 ? -1 : code;
  if (frame[at + 26] !== 0 || frame[at + 27] !== 0) return -1;
  return Math.max(1, code < 32768 ? code : ((code & 0x0fff) | 0x1000) << (((code >> 12) & 7) + 3));
}

/**
 * The group records of an IGMPv3 or MLDv2 report at `frame[at, at+len)`:
 * type, aux length (words), source count, group, sources, aux data; every
 * length checked against the message's end.
 */
function readRecords(frame: Uint8Array, at: number, len: number, family: 4 | 6): GroupMessage {
  const name = family === 4 ? "IGMPv3" : "MLDv2";
  const addr = family === 4 ? 4 : 16;
  const n = (frame[at + 6]! << 8) | frame[at + 7]!;
  const events: GroupEvent[] = [];
  let p = at + 8;
  const end = at + len;
  for (let i = 0; i < n; i++) {
    if (p + 4 + addr > end) return bad(family, `${name} record past the end`);
    const rtype = frame[p]!, aux = frame[p + 1]! * 4, nsrc = (frame[p + 2]! << 8) | frame[p + 3]!;
    const size = 4 + addr + nsrc * addr + aux;
    if (p + size > end) return bad(family, `${name} record past the end`);
    const group = family === 4 ? read4(frame, p + 4) : 0;
    if (family === 4 ? !isGroup4(group) : frame[p + 4] !== 0xff) {
      return bad(family, `${name} record of a non-group`);
    }
    const kind = recordKind(rtype, nsrc);
    if (kind !== null) {
      events.push({ kind, group: family === 4 ? formatIpv4(group) : formatIpv6(frame, p + 4), family });
    }
    p += size;
  }
  return ok(family, "report", events);
}

// MODE_IS_INCLUDE 1, MODE_IS_EXCLUDE 2, TO_INCLUDE 3, TO_EXCLUDE 4, ALLOW 5, BLOCK 6.
function recordKind(type: number, sources: number): "join" | "leave" | null {
  if (type === 2 || type === 4) return "join";
  if (type === 1 || type === 3 || type === 5) return sources > 0 ? "join" : type === 5 ? null : "leave";
  return null;
}

const ok = (family: 4 | 6, kind: GroupMessageKind, events: GroupEvent[]): GroupMessage => ({
  type: "ok",
  family,
  kind,
  events,
});
const bad = (family: 4 | 6, why: string): GroupMessage => ({ type: "bad", why, family });
const bad4 = (why: string) => bad(4, why);
const bad6 = (why: string) => bad(6, why);
const read4 = (b: Uint8Array, at: number) =>
  ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const isGroup4 = (a: number) => a >>> 28 === 0xe;
const ALL_SYSTEMS = 0xe0000001;
/** Whether the IPv6 address at `b[at]` is link-local as the kernel's ipv6_addr_type says: fe80::/10, ff?2::. */
const linkLocal = (b: Uint8Array, at: number) =>
  (b[at] === 0xfe && (b[at + 1]! & 0xc0) === 0x80) || (b[at] === 0xff && (b[at + 1]! & 0x0f) === 2);
/** Whether the IPv6 address at `b[at]` is ff02::1. */
function allNodes(b: Uint8Array, at: number): boolean {
  if (b[at] !== 0xff || b[at + 1] !== 2 || b[at + 15] !== 1) return false;
  for (let i = 2; i < 15; i++) if (b[at + i] !== 0) return false;
  return true;
}

/**
 * An IGMPv2 query from 0.0.0.0 (as the Linux bridge's querier sends it):
 * general to 224.0.0.1 when `group` is null, else group-specific to the group.
 */
export function buildIgmpQuery(
  srcMac: Uint8Array,
  group: number | null,
  maxRespDeciseconds: number,
): Uint8Array {
  const dst = group ?? ALL_SYSTEMS;
  const frame = new Uint8Array(14 + 24 + 8);
  frame.set([0x01, 0x00, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 0xff, dst & 0xff], 0);
  frame.set(srcMac, 6);
  frame[12] = 0x08;
  frame[13] = 0x00;
  // A 24-byte header: the router alert option (RFC 2113) makes routers look at it.
  const ip = frame.subarray(14, 38);
  ip.set([0x46, 0xc0, 0, 32, 0, 0, 0x40, 0, 1, 2, 0, 0, 0, 0, 0, 0], 0);
  ip.set(ipv4FromU32(dst), 16);
  ip.set([0x94, 0x04, 0x00, 0x00], 20);
  const sum = internetChecksum(ip, 0, 24);
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  const igmp = frame.subarray(38);
  igmp[0] = 0x11;
  // Never 0 for a group: that makes it IGMPv1's query, a general one to every host and bridge (see above).
  igmp[1] = Math.min(255, Math.max(group === null ? 0 : 1, maxRespDeciseconds));
  if (group !== null) igmp.set(ipv4FromU32(group), 4);
  const c = internetChecksum(igmp, 0, 8);
  igmp[2] = c >> 8;
  igmp[3] = c & 0xff;
  return frame;
}

/**
 * An MLDv1 query from `srcIp` (a link-local address): general to ff02::1
 * when `group` is null, else group-specific to the group.
 */
export function buildMldQuery(
  srcMac: Uint8Array,
  srcIp: Uint8Array,
  group: Uint8Array | null,
  maxRespMs: number,
): Uint8Array {
  const dst = group ?? new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  const frame = new Uint8Array(14 + 40 + 8 + 24);
  frame.set([0x33, 0x33, dst[12]!, dst[13]!, dst[14]!, dst[15]!], 0);
  frame.set(srcMac, 6);
  frame[12] = 0x86;
  frame[13] = 0xdd;
  writeIpv6Header(frame, 14, 8 + 24, 0, 1, srcIp, dst);
  // Hop-by-hop header: next ICMPv6, router alert (MLD), PadN.
  frame.set([58, 0, 5, 2, 0, 0, 1, 0], 54);
  const mld = frame.subarray(62);
  mld[0] = 130;
  mld[4] = (maxRespMs >> 8) & 0xff;
  mld[5] = maxRespMs & 0xff;
  if (group !== null) mld.set(group, 8);
  const c = transportChecksum(srcIp, dst, 58, mld, 0, 24);
  mld[2] = c >> 8;
  mld[3] = c & 0xff;
  return frame;
}

/** How a snooping switch forwards a multicast frame (`multicastKind`). */
export const McastKind = {
  /** To every port: queries, leaves, IGMPv3/MLDv2 reports, link-local groups, non-IP. */
  Flood: 0,
  /** An IGMPv1/v2 report: to the multicast router ports only. */
  Report4: 1,
  /** An MLDv1 report: to the multicast router ports only. */
  Report6: 2,
  /** IPv4 data to a routable group (its destination address). */
  Data4: 3,
  /** IPv6 data to a routable group (its destination address). */
  Data6: 4,
} as const;
export type McastKind = typeof McastKind[keyof typeof McastKind];

/**
 * What a multicast frame is to a snooping switch, read in place (ARP and
 * every other broadcast pass here: no allocation), as the Linux bridge
 * sends it (br_multicast_rcv, checked beside a kernel bridge): an IGMPv1/v2
 * or MLDv1 report goes to the router ports only, an IGMPv3 or MLDv2 report
 * (to 224.0.0.22, ff02::16) is flooded as the kernel floods it. IPv6 data
 * includes ICMPv6 but MLD (`ping -6 ff0e::1:2`), an MLD type without the
 * hop-by-hop header in front, and what follows a hop-by-hop header (and
 * the extension headers the kernel walks past, `icmpv6At`) but ICMPv6.
 * Lengths are checked against the frame; the caller drops what
 * `parseGroupMessage` found malformed before asking.
 */
export function multicastKind(frame: Uint8Array): McastKind {
  const n = frame.length;
  if (n < 18 || isBroadcast(frame)) return McastKind.Flood;
  const tagged = frame[12] === 0x81 && frame[13] === 0x00;
  const at = tagged ? 18 : 14;
  const type = tagged ? (frame[16]! << 8) | frame[17]! : (frame[12]! << 8) | frame[13]!;
  if (type === 0x0800) {
    if (n < at + 20) return McastKind.Flood;
    if (frame[at + 9] === 2) {
      const igmp = at + (frame[at]! & 0x0f) * 4;
      const t = igmp < n ? frame[igmp]! : 0;
      return t === 0x12 || t === 0x16 ? McastKind.Report4 : McastKind.Flood;
    }
    // 224.0.0.0/24 (and anything not class D) is flooded.
    const a = frame[at + 16]!, b = frame[at + 17]!, c = frame[at + 18]!;
    if (a >>> 4 !== 0xe || (a === 224 && b === 0 && c === 0)) return McastKind.Flood;
    return McastKind.Data4;
  }
  if (type !== 0x86dd || n < at + 40 || frame[at + 24] !== 0xff) return McastKind.Flood;
  if (frame[at + 6] === HOP_BY_HOP) {
    const p = icmpv6At(frame, at);
    const icmp = p >= 0 && n > p ? frame[p]! : 0;
    if (icmp === 131) return McastKind.Report6;
    if (icmp === 130 || icmp === 132 || icmp === 143) return McastKind.Flood;
  }
  // ff00::/16 to ff02::/16 (so NDP and routing protocols) are flooded.
  return (frame[at + 25]! & 0x0f) <= 2 ? McastKind.Flood : McastKind.Data6;
}

/** `icmpv6At`: the headers say no ICMPv6 follows (data to a snooping switch). */
const NOT_ICMPV6 = -1;
/** `icmpv6At`: a header cut short by the frame, or "no next header" (59): the kernel drops the packet. */
const EXT_MALFORMED = -2;
const IPV6_FIXED = 40;

/**
 * Where ICMPv6 starts behind the IPv6 header at `frame[at]`, walking its extension headers as the kernel's
 * ipv6_skip_exthdr does for snooping (ipv6_mc_check_exthdrs): hop-by-hop, routing, fragment, AH and
 * destination options are skipped (a fragment header only at offset 0: a later fragment's payload is
 * data), any other next header ends the walk. No allocation; each step reads only within the frame and
 * moves on by 8 bytes at least, so it ends.
 *
 * @returns the ICMPv6 offset, NOT_ICMPV6, or EXT_MALFORMED
 */
function icmpv6At(frame: Uint8Array, at: number): number {
  const n = frame.length;
  let next = frame[at + 6]!;
  let p = at + IPV6_FIXED;
  for (;;) {
    if (next === 59) return EXT_MALFORMED;
    if (next !== 0 && next !== 43 && next !== 44 && next !== 51 && next !== 60) break;
    if (p + (next === 44 ? 4 : 2) > n) return EXT_MALFORMED;
    if (next === 44) {
      if ((((frame[p + 2]! << 8) | frame[p + 3]!) & 0xfff8) !== 0) return NOT_ICMPV6;
      next = frame[p]!;
      p += 8;
      continue;
    }
    const size = next === 51 ? (frame[p + 1]! + 2) * 4 : (frame[p + 1]! + 1) * 8;
    next = frame[p]!;
    p += size;
  }
  return next === 58 ? p : NOT_ICMPV6;
}
