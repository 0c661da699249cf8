/**
 * IPv6 headers (RFC 8200), their extension-header chain, and addresses.
 *
 * `parseIpv6` checks the fixed header and the payload length against the
 * bytes really there, then walks hop-by-hop, routing, destination-options
 * and fragment headers (each length checked, at most
 * {@link MAX_EXTENSION_HEADERS} of them) to the upper-layer protocol. The
 * fragment header, when present, is reported so the caller can reassemble.
 * Addresses stay in the packet: the record holds their offsets.
 */

import { equalAt, readU32 } from "./bytes.ts";
import type { ParseError } from "./parse.ts";

/** Length of the fixed IPv6 header. */
export const IPV6_HLEN = 40;
/** Ethertype of IPv6. */
export const ETH_P_IPV6 = 0x86dd;
/** Extension headers walked before giving up (a chain longer than this is hostile). */
export const MAX_EXTENSION_HEADERS = 8;
/** Length of a fragment extension header. */
export const IPV6_FRAG_HLEN = 8;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DEST_OPTS = 60;
const NO_NEXT = 59;

/** The fields of a checked IPv6 packet; offsets are into the buffer given to `parseIpv6`. */
export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  /** The payload length field (everything after the fixed header). */
  payloadLength: number;
  hopLimit: number;
  /** Next header of the fixed header. */
  nextHeader: number;
  /** Upper-layer protocol after the extension headers (59 for none). */
  protocol: number;
  offset: number;
  /** Offset of the 16-byte source address. */
  srcOffset: number;
  /** Offset of the 16-byte destination address. */
  dstOffset: number;
  /** Where the upper-layer data starts. */
  dataOffset: number;
  /** Upper-layer data length. */
  dataLength: number;
  /** True when a fragment header was found. */
  fragmented: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  /** More-fragments flag. */
  mf: boolean;
  /** Fragment identification. */
  fragmentId: number;
  /** Offset of the fragment header (the part before it is the unfragmentable part). */
  fragmentHeaderOffset: number;
}

/** A zeroed record to reuse with `parseIpv6`. */
export function newIpv6Header(): Ipv6Header {
  return {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    hopLimit: 0,
    nextHeader: 0,
    protocol: 0,
    offset: 0,
    srcOffset: 0,
    dstOffset: 0,
    dataOffset: 0,
    dataLength: 0,
    fragmented: false,
    fragmentOffset: 0,
    mf: false,
    fragmentId: 0,
    fragmentHeaderOffset: 0,
  };
}

/**
 * The fixed header's checks alone, for a reader that looks no further (a
 * snooping switch): the 40 bytes are there, the version is 6 and the
 * payload length stays within `b[off, off+len)`.
 *
 * @returns null when they hold, else why not
 */
export function checkIpv6Fixed(b: Uint8Array, off: number, len: number): ParseError | null {
  if (off < 0 || len < IPV6_HLEN || off + len > b.length) return "shorter than an IPv6 header";
  if (b[off]! >> 4 !== 6) return "not IP version 6";
  if (IPV6_HLEN + ((b[off + 4]! << 8) | b[off + 5]!) > len) {
    return "payload length past the end of the packet";
  }
  return null;
}

/**
 * Checks the IPv6 packet at `b[off, off+len)` and fills `h`.
 *
 * @returns null when the packet is well formed, else why not
 * @example
 * ```ts
 * import { newIpv6Header, parseIpv6, writeIpv6Header } from "./ipv6.ts";
 * const p = new Uint8Array(48);
 * writeIpv6Header(p, 0, 8, 17, 64, new Uint8Array(16), new Uint8Array(16));
 * const h = newIpv6Header();
 * if (parseIpv6(p, 0, p.length, h) !== null || h.protocol !== 17) throw new Error("bad");
 * ```
 */
export function parseIpv6(b: Uint8Array, off: number, len: number, h: Ipv6Header): ParseError | null {
  const why = checkIpv6Fixed(b, off, len);
  if (why !== null) return why;
  const plen = (b[off + 4]! << 8) | b[off + 5]!;
  h.trafficClass = ((b[off]! & 0x0f) << 4) | (b[off + 1]! >> 4);
  h.flowLabel = ((b[off + 1]! & 0x0f) << 16) | (b[off + 2]! << 8) | b[off + 3]!;
  h.payloadLength = plen;
  h.nextHeader = b[off + 6]!;
  h.hopLimit = b[off + 7]!;
  h.offset = off;
  h.srcOffset = off + 8;
  h.dstOffset = off + 24;
  h.fragmented = false;
  h.fragmentOffset = 0;
  h.mf = false;
  h.fragmentId = 0;
  h.fragmentHeaderOffset = 0;
  const end = off + IPV6_HLEN + plen;
  let next = h.nextHeader;
  let at = off + IPV6_HLEN;
  for (let i = 0;; i++) {
    if (next !== HOP_BY_HOP && next !== ROUTING && next !== FRAGMENT && next !== DEST_OPTS) break;
    if (i >= MAX_EXTENSION_HEADERS) return "too many extension headers";
    if (next === HOP_BY_HOP && i !== 0) return "hop-by-hop options not first";
    if (at + 8 > end) return "extension header past the end of the packet";
    if (next === FRAGMENT) {
      if (h.fragmented) return "two fragment headers";
      const fo = (b[at + 2]! << 8) | b[at + 3]!;
      h.fragmented = true;
      h.fragmentOffset = fo & 0xfff8;
      h.mf = (fo & 1) !== 0;
      h.fragmentId = readU32(b, at + 4);
      h.fragmentHeaderOffset = at;
      next = b[at]!;
      at += IPV6_FRAG_HLEN;
      // Headers after a fragment header belong to the fragmented part.
      if (h.fragmentOffset !== 0 || h.mf) break;
      continue;
    }
    const hlen = (b[at + 1]! + 1) * 8;
    if (at + hlen > end) return "extension header past the end of the packet";
    next = b[at]!;
    at += hlen;
  }
  h.protocol = next;
  h.dataOffset = at;
  h.dataLength = next === NO_NEXT ? 0 : end - at;
  return null;
}

/** Writes a 40-byte IPv6 header at `b[off]`. `src` and `dst` are 16-byte addresses. */
export function writeIpv6Header(
  b: Uint8Array,
  off: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  dst: Uint8Array,
  srcOff = 0,
  dstOff = 0,
): void {
  b[off] = 0x60;
  b[off + 1] = 0;
  b[off + 2] = 0;
  b[off + 3] = 0;
  b[off + 4] = payloadLength >>> 8;
  b[off + 5] = payloadLength & 0xff;
  b[off + 6] = nextHeader;
  b[off + 7] = hopLimit;
  for (let i = 0; i < 16; i++) {
    b[off + 8 + i] = src[srcOff + i]!;
    b[off + 24 + i] = dst[dstOff + i]!;
  }
}

/** Writes an 8-byte fragment header. */
export function writeIpv6FragmentHeader(
  b: Uint8Array,
  off: number,
  nextHeader: number,
  fragmentOffset: number,
  more: boolean,
  id: number,
): void {
  b[off] = nextHeader;
  b[off + 1] = 0;
  const fo = (fragmentOffset & 0xfff8) | (more ? 1 : 0);
  b[off + 2] = fo >>> 8;
  b[off + 3] = fo & 0xff;
  b[off + 4] = (id >>> 24) & 0xff;
  b[off + 5] = (id >>> 16) & 0xff;
  b[off + 6] = (id >>> 8) & 0xff;
  b[off + 7] = id & 0xff;
}

/** Protocol number of the IPv6 fragment header. */
export const IPV6_NEXT_FRAGMENT = FRAGMENT;

/** RFC 5952 text of the 16-byte address at `b[off]`. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[off + i * 2] ?? 0) << 8) | (b[off + i * 2 + 1] ?? 0));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(w);
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}`;
}

/** True when the 16 bytes at `a[ao]` and `b[bo]` are equal. */
export function ipv6Equal(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  return equalAt(a, ao, b, bo, 16);
}

/** True when the first `bits` bits of the addresses at `a[ao]` and `b[bo]` agree. */
export function ipv6PrefixMatch(a: Uint8Array, ao: number, b: Uint8Array, bo: number, bits: number): boolean {
  let i = 0;
  for (; i * 8 + 8 <= bits; i++) if (a[ao + i] !== b[bo + i]) return false;
  const rest = bits - i * 8;
  if (rest <= 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[ao + i]! ^ b[bo + i]!) & mask) === 0;
}

/** True for ff00::/8. */
export function isIpv6Multicast(b: Uint8Array, off = 0): boolean {
  return b[off] === 0xff;
}

/** True for ::1. */
export function isIpv6Loopback(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 15; i++) if (b[off + i] !== 0) return false;
  return b[off + 15] === 1;
}

/** True for ::. */
export function isIpv6Unspecified(b: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 16; i++) if (b[off + i] !== 0) return false;
  return true;
}

/** True for fe80::/10. */
export function isIpv6LinkLocal(b: Uint8Array, off = 0): boolean {
  return b[off] === 0xfe && (b[off + 1]! & 0xc0) === 0x80;
}

/** The solicited-node multicast address ff02::1:ffXX:XXXX of the address at `b[off]`. */
export function solicitedNode(b: Uint8Array, off = 0): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 0xff;
  out[1] = 0x02;
  out[11] = 1;
  out[12] = 0xff;
  out[13] = b[off + 13]!;
  out[14] = b[off + 14]!;
  out[15] = b[off + 15]!;
  return out;
}

/** The Ethernet multicast MAC (33:33:...) of the IPv6 multicast address at `b[off]`. */
export function ipv6MulticastMac(b: Uint8Array, off = 0): Uint8Array {
  return new Uint8Array([0x33, 0x33, b[off + 12]!, b[off + 13]!, b[off + 14]!, b[off + 15]!]);
}

/** The link-local address fe80::/64 with the modified EUI-64 interface id of `mac`. */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[0] = 0xfe;
  out[1] = 0x80;
  out[8] = mac[0]! ^ 0x02;
  out[9] = mac[1]!;
  out[10] = mac[2]!;
  out[11] = 0xff;
  out[12] = 0xfe;
  out[13] = mac[3]!;
  out[14] = mac[4]!;
  out[15] = mac[5]!;
  return out;
}
