/**
 * IPv4 headers (RFC 791) and addresses.
 *
 * Two views, as in the rest of `src/wire`: `parseIpv4` checks a packet once
 * (version, IHL, total length against the bytes really there, header
 * checksum) and fills a reusable {@link Ipv4Header}, so the data path
 * allocates nothing; `writeIpv4Header` builds a header in place with its
 * checksum. Hostile input gives a reason string, never an exception.
 */
import { readU32, writeU32 } from "./bytes.ts";
import { internetChecksum } from "./checksum.ts";
import type { ParseError } from "./parse.ts";

/** Length of an IPv4 header without options. */
export const IPV4_HLEN = 20;
/** Ethertype of IPv4. */
export const ETH_P_IP = 0x0800;
/** Protocol numbers carried in IPv4 and IPv6. */
export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58 } as const;
/** "More fragments" flag, as it sits in the flags/offset word. */
export const IPV4_MF = 0x2000;
/** "Don't fragment" flag, as it sits in the flags/offset word. */
export const IPV4_DF = 0x4000;

/** The fields of a checked IPv4 header; offsets are relative to the buffer given to `parseIpv4`. */
export interface Ipv4Header {
  /** Header length in bytes (IHL * 4). */
  headerLength: number;
  tos: number;
  /** The total length field (header and payload), already checked against the buffer. */
  totalLength: number;
  id: number;
  /** Don't-fragment flag. */
  df: boolean;
  /** More-fragments flag. */
  mf: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** Source address as an unsigned 32-bit number. */
  src: number;
  /** Destination address as an unsigned 32-bit number. */
  dst: number;
  /** Where the header starts. */
  offset: number;
  /** Where the payload starts. */
  payloadOffset: number;
  /** Payload length (total length minus header). */
  payloadLength: number;
}

/** A zeroed header record to reuse with `parseIpv4`. */
export function newIpv4Header(): Ipv4Header {
  return {
    headerLength: 0,
    tos: 0,
    totalLength: 0,
    id: 0,
    df: false,
    mf: false,
    fragmentOffset: 0,
    ttl: 0,
    protocol: 0,
    src: 0,
    dst: 0,
    offset: 0,
    payloadOffset: 0,
    payloadLength: 0,
  };
}

/**
 * Checks the IPv4 packet at `b[off, off+len)` and fills `h`.
 *
 * @param b buffer holding the packet
 * @param off where the IP header starts
 * @param len bytes available from `off` (trailing Ethernet padding allowed)
 * @param h record to fill
 * @param verifyChecksum check the header checksum (default true)
 * @returns null when the packet is well formed, else why not
 * @example
 * ```ts
 * import { newIpv4Header, parseIpv4, writeIpv4Header } from "./ipv4.ts";
 * const p = new Uint8Array(28);
 * writeIpv4Header(p, 0, { totalLength: 28, protocol: 17, src: 0x0a00020f, dst: 0x0a000202 });
 * const h = newIpv4Header();
 * if (parseIpv4(p, 0, p.length, h) !== null || h.payloadLength !== 8) throw new Error("bad");
 * ```
 */
export function parseIpv4(
  b: Uint8Array,
  off: number,
  len: number,
  h: Ipv4Header,
  verifyChecksum = true,
): ParseError | null {
  if (off < 0 || len < IPV4_HLEN || off + len > b.length) return "shorter than an IPv4 header";
  const vihl = b[off]!;
  if (vihl >> 4 !== 4) return "not IP version 4";
  const hl = (vihl & 0x0f) * 4;
  if (hl < IPV4_HLEN) return "IHL below 5";
  if (hl > len) return "IHL past the end of the packet";
  const total = (b[off + 2]! << 8) | b[off + 3]!;
  if (total < hl) return "total length shorter than the header";
  if (total > len) return "total length past the end of the packet";
  if (verifyChecksum && internetChecksum(b, off, hl) !== 0) return "bad header checksum";
  const ff = (b[off + 6]! << 8) | b[off + 7]!;
  h.headerLength = hl;
  h.tos = b[off + 1]!;
  h.totalLength = total;
  h.id = (b[off + 4]! << 8) | b[off + 5]!;
  h.df = (ff & IPV4_DF) !== 0;
  h.mf = (ff & IPV4_MF) !== 0;
  h.fragmentOffset = (ff & 0x1fff) * 8;
  h.ttl = b[off + 8]!;
  h.protocol = b[off + 9]!;
  h.src = readU32(b, off + 12);
  h.dst = readU32(b, off + 16);
  h.offset = off;
  h.payloadOffset = off + hl;
  h.payloadLength = total - hl;
  return null;
}

/** What `writeIpv4Header` puts in a header (20 bytes, no options). */
export interface Ipv4Fields {
  totalLength: number;
  protocol: number;
  src: number;
  dst: number;
  id?: number;
  ttl?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
}

/** Writes a 20-byte IPv4 header at `b[off]` with a correct checksum. */
export function writeIpv4Header(b: Uint8Array, off: number, f: Ipv4Fields): void {
  writeIpv4(
    b,
    off,
    f.totalLength,
    f.id ?? 0,
    (f.df ? IPV4_DF : 0) | (f.mf ? IPV4_MF : 0) | ((f.fragmentOffset ?? 0) >>> 3),
    f.ttl ?? 64,
    f.protocol,
    f.src,
    f.dst,
    f.tos ?? 0,
  );
}

/**
 * The data path's header writer: positional arguments, no object. `flagsFrag`
 * is the raw flags/fragment-offset word.
 */
export function writeIpv4(
  b: Uint8Array,
  off: number,
  totalLength: number,
  id: number,
  flagsFrag: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
  tos = 0,
): void {
  b[off] = 0x45;
  b[off + 1] = tos;
  b[off + 2] = totalLength >>> 8;
  b[off + 3] = totalLength & 0xff;
  b[off + 4] = (id >>> 8) & 0xff;
  b[off + 5] = id & 0xff;
  b[off + 6] = (flagsFrag >>> 8) & 0xff;
  b[off + 7] = flagsFrag & 0xff;
  b[off + 8] = ttl;
  b[off + 9] = protocol;
  b[off + 10] = 0;
  b[off + 11] = 0;
  writeU32(b, off + 12, src);
  writeU32(b, off + 16, dst);
  const c = internetChecksum(b, off, IPV4_HLEN);
  b[off + 10] = c >>> 8;
  b[off + 11] = c & 0xff;
}

/** Dotted-quad text of an address held as a number. */
export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** The netmask of a prefix length, as a number. */
export function prefixMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** True for 127.0.0.0/8. */
export function isIpv4Loopback(v: number): boolean {
  return v >>> 24 === 127;
}

/** True for 224.0.0.0/4 and the limited broadcast address. */
export function isIpv4MulticastOrBroadcast(v: number): boolean {
  return v >>> 28 === 14 || v === 0xffffffff;
}
