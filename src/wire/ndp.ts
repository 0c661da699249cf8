/**
 * Neighbour discovery (RFC 4861) with the options the slirp stack uses:
 * source and target link-layer address, prefix information (for SLAAC),
 * MTU, and RDNSS/DNSSL (RFC 8106). `parseNdp` checks the fixed part of the
 * message and every option's length (a zero length, or one past the end,
 * is refused); the writers build messages whose ICMPv6 checksum the caller
 * fills once the IPv6 header is in place (`finishIcmpv6`).
 */
import { concatBytes, readU32, writeU32 } from "./bytes.ts";
import { encodeDnsName } from "./dns.ts";
import { ETH_HLEN, writeEthernetSource, writeIpv6MulticastDestination } from "./ethernet.ts";
import { finishIcmpv6, ICMPV6 } from "./icmpv6.ts";
import { IPPROTO } from "./ipv4.ts";
import { ETH_P_IPV6, IPV6_HLEN, solicitedNode, writeIpv6Header } from "./ipv6.ts";
import type { ParseError } from "./parse.ts";

/** NDP option types. */
export const NDP_OPT = { SOURCE_LL: 1, TARGET_LL: 2, PREFIX_INFO: 3, MTU: 5, RDNSS: 25, DNSSL: 31 } as const;

/** A checked neighbour-discovery message. */
export interface NdpMessage {
  type: number;
  /** Offset of the target address (NS, NA), else -1. */
  targetOffset: number;
  /** Offset of the source link-layer address option's MAC, else -1. */
  sourceMacOffset: number;
  /** Offset of the target link-layer address option's MAC, else -1. */
  targetMacOffset: number;
  /** NA flags: router, solicited, override. */
  router: boolean;
  solicited: boolean;
  override: boolean;
  /** RA: router lifetime in seconds. */
  routerLifetime: number;
  /** RA: prefix information options found. */
  prefixes: { offset: number; length: number; autonomous: boolean; valid: number; preferred: number }[];
  /** RA: MTU option value, or 0. */
  mtu: number;
  /** RA: offsets of RDNSS addresses. */
  dnsOffsets: number[];
}

/** A fresh record for `parseNdp`. */
export function newNdpMessage(): NdpMessage {
  return {
    type: 0,
    targetOffset: -1,
    sourceMacOffset: -1,
    targetMacOffset: -1,
    router: false,
    solicited: false,
    override: false,
    routerLifetime: 0,
    prefixes: [],
    mtu: 0,
    dnsOffsets: [],
  };
}

/** Length of the fixed part after the 4-byte ICMPv6 type/code/checksum, per type. */
function fixedLength(type: number): number {
  switch (type) {
    case ICMPV6.ROUTER_SOLICIT:
      return 8;
    case ICMPV6.ROUTER_ADVERT:
      return 16;
    case ICMPV6.NEIGHBOR_SOLICIT:
    case ICMPV6.NEIGHBOR_ADVERT:
      return 24;
    default:
      return -1;
  }
}

/**
 * Checks the NDP message at `b[off, off+len)` (an ICMPv6 message whose
 * checksum was already verified) and fills `m`.
 *
 * @returns null when well formed, else why not
 */
export function parseNdp(b: Uint8Array, off: number, len: number, m: NdpMessage): ParseError | null {
  if (off < 0 || len < 4 || off + len > b.length) return "shorter than an ICMPv6 header";
  const type = b[off]!;
  const fixed = fixedLength(type);
  if (fixed < 0) return `ICMPv6 type ${type} is not neighbour discovery`;
  if (b[off + 1] !== 0) return "NDP code is not 0";
  if (len < fixed) return "shorter than its fixed part";
  m.type = type;
  m.targetOffset = -1;
  m.sourceMacOffset = -1;
  m.targetMacOffset = -1;
  m.router = m.solicited = m.override = false;
  m.routerLifetime = 0;
  m.prefixes.length = 0;
  m.mtu = 0;
  m.dnsOffsets.length = 0;
  if (type === ICMPV6.NEIGHBOR_SOLICIT || type === ICMPV6.NEIGHBOR_ADVERT) m.targetOffset = off + 8;
  if (type === ICMPV6.NEIGHBOR_ADVERT) {
    const f = b[off + 4]!;
    m.router = (f & 0x80) !== 0;
    m.solicited = (f & 0x40) !== 0;
    m.override = (f & 0x20) !== 0;
  }
  if (type === ICMPV6.ROUTER_ADVERT) m.routerLifetime = (b[off + 6]! << 8) | b[off + 7]!;
  const end = off + len;
  let at = off + fixed;
  while (at < end) {
    if (at + 2 > end) return "option header past the end";
    const ot = b[at]!;
    const ol = b[at + 1]! * 8;
    if (ol === 0) return "option with length 0";
    if (at + ol > end) return "option past the end";
    switch (ot) {
      case NDP_OPT.SOURCE_LL:
        if (ol >= 8) m.sourceMacOffset = at + 2;
        break;
      case NDP_OPT.TARGET_LL:
        if (ol >= 8) m.targetMacOffset = at + 2;
        break;
      case NDP_OPT.PREFIX_INFO:
        if (ol !== 32) return "prefix information option is not 32 bytes";
        m.prefixes.push({
          offset: at + 16,
          length: b[at + 2]!,
          autonomous: (b[at + 3]! & 0x40) !== 0,
          valid: readU32(b, at + 4),
          preferred: readU32(b, at + 8),
        });
        break;
      case NDP_OPT.MTU:
        if (ol !== 8) return "MTU option is not 8 bytes";
        m.mtu = readU32(b, at + 4);
        break;
      case NDP_OPT.RDNSS:
        if (ol < 24 || (ol - 8) % 16 !== 0) return "RDNSS option of a bad length";
        for (let p = at + 8; p < at + ol; p += 16) m.dnsOffsets.push(p);
        break;
    }
    at += ol;
  }
  return null;
}

/** Writes a neighbour advertisement for `target` with our MAC; returns its length (32). */
export function writeNeighborAdvert(
  b: Uint8Array,
  off: number,
  target: Uint8Array,
  mac: Uint8Array,
  flags: { router: boolean; solicited: boolean; override: boolean },
): number {
  b.fill(0, off, off + 32);
  b[off] = ICMPV6.NEIGHBOR_ADVERT;
  b[off + 4] = (flags.router ? 0x80 : 0) | (flags.solicited ? 0x40 : 0) | (flags.override ? 0x20 : 0);
  b.set(target.subarray(0, 16), off + 8);
  b[off + 24] = NDP_OPT.TARGET_LL;
  b[off + 25] = 1;
  b.set(mac.subarray(0, 6), off + 26);
  return 32;
}

/**
 * Writes a neighbour solicitation for `target` with our MAC; returns its
 * length (32). A null `mac` writes duplicate address detection's
 * solicitation (24): its source is the unspecified address, which must not
 * carry a source link-layer option (RFC 4861 section 4.3).
 */
export function writeNeighborSolicit(
  b: Uint8Array,
  off: number,
  target: Uint8Array,
  mac: Uint8Array | null,
): number {
  b.fill(0, off, off + (mac === null ? 24 : 32));
  b[off] = ICMPV6.NEIGHBOR_SOLICIT;
  b.set(target.subarray(0, 16), off + 8);
  if (mac === null) return 24;
  b[off + 24] = NDP_OPT.SOURCE_LL;
  b[off + 25] = 1;
  b.set(mac.subarray(0, 6), off + 26);
  return 32;
}

/**
 * Writes a whole neighbour solicitation frame at `b[0]` (room for 86
 * bytes): from `mac` to the solicited-node group of `target`, hop limit
 * 255, from the IPv6 address `src`, checksum filled. A null `src` is
 * duplicate address detection's: from the unspecified address, without the
 * source link-layer option. Returns its length.
 */
export function writeSolicitFrame(
  b: Uint8Array,
  mac: Uint8Array,
  src: Uint8Array | null,
  target: Uint8Array,
): number {
  const io = ETH_HLEN + IPV6_HLEN;
  const l = writeNeighborSolicit(b, io, target, src === null ? null : mac);
  const group = solicitedNode(target);
  writeIpv6Header(b, ETH_HLEN, l, IPPROTO.ICMPV6, 255, src ?? UNSPECIFIED, group);
  finishIcmpv6(b, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
  writeIpv6MulticastDestination(b, 0, group, 0);
  writeEthernetSource(b, 0, mac, ETH_P_IPV6);
  return io + l;
}

const UNSPECIFIED = new Uint8Array(16);

/** What a router advertisement announces. */
export interface RouterAdvert {
  mac: Uint8Array;
  prefix: Uint8Array;
  prefixLength: number;
  /** Router lifetime in seconds (0: not a default router). */
  routerLifetime: number;
  validLifetime: number;
  preferredLifetime: number;
  /** Link MTU to announce, or 0 for none. */
  mtu: number;
  /** RDNSS addresses (16 bytes each). */
  dns: Uint8Array[];
  /** RDNSS/DNSSL lifetime in seconds. */
  dnsLifetime: number;
  /** DNSSL domains. */
  search: string[];
}

/** Writes a router advertisement; returns its length. `b` must have room (1 KiB is plenty). */
export function writeRouterAdvert(b: Uint8Array, off: number, ra: RouterAdvert): number {
  let at = off;
  b.fill(0, off, off + 16);
  b[at] = ICMPV6.ROUTER_ADVERT;
  b[at + 4] = 64; // current hop limit
  b[at + 6] = ra.routerLifetime >>> 8;
  b[at + 7] = ra.routerLifetime & 0xff;
  at += 16;
  b.fill(0, at, at + 8);
  b[at] = NDP_OPT.SOURCE_LL;
  b[at + 1] = 1;
  b.set(ra.mac.subarray(0, 6), at + 2);
  at += 8;
  if (ra.mtu > 0) {
    b.fill(0, at, at + 8);
    b[at] = NDP_OPT.MTU;
    b[at + 1] = 1;
    writeU32(b, at + 4, ra.mtu);
    at += 8;
  }
  b.fill(0, at, at + 32);
  b[at] = NDP_OPT.PREFIX_INFO;
  b[at + 1] = 4;
  b[at + 2] = ra.prefixLength;
  b[at + 3] = 0xc0; // on-link, autonomous
  writeU32(b, at + 4, ra.validLifetime);
  writeU32(b, at + 8, ra.preferredLifetime);
  b.set(ra.prefix.subarray(0, 16), at + 16);
  at += 32;
  if (ra.dns.length > 0) {
    const ol = 8 + 16 * ra.dns.length;
    b.fill(0, at, at + ol);
    b[at] = NDP_OPT.RDNSS;
    b[at + 1] = ol / 8;
    writeU32(b, at + 4, ra.dnsLifetime);
    ra.dns.forEach((d, i) => b.set(d.subarray(0, 16), at + 8 + 16 * i));
    at += ol;
  }
  if (ra.search.length > 0) {
    const names = encodeNames(ra.search);
    const ol = Math.ceil((8 + names.length) / 8) * 8;
    b.fill(0, at, at + ol);
    b[at] = NDP_OPT.DNSSL;
    b[at + 1] = ol / 8;
    writeU32(b, at + 4, ra.dnsLifetime);
    b.set(names, at + 8);
    at += ol;
  }
  return at - off;
}

/** DNS wire names (uncompressed), concatenated; a name that cannot be encoded is left out. */
function encodeNames(names: string[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const name of names) {
    try {
      parts.push(encodeDnsName(name));
    } catch { /* checked when the configuration was parsed */ }
  }
  return concatBytes(parts);
}
