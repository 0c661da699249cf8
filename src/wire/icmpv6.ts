/**
 * ICMPv6 (RFC 4443): the message header and its checksum, which covers an
 * IPv6 pseudo-header. Neighbour discovery messages are in `ndp.ts`.
 */
import { finishChecksum, sumWords } from "./checksum.ts";
import { pseudoSumAt } from "./udp.ts";
import { writeIcmpHeader } from "./icmpv4.ts";
import type { ParseError } from "./parse.ts";

/** Length of the ICMPv6 header. */
export const ICMPV6_HLEN = 8;
/** ICMPv6 types used here. */
export const ICMPV6 = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
} as const;

/** A checked ICMPv6 message. */
export interface Icmpv6Message {
  type: number;
  code: number;
  /** Echo identifier, for echo messages. */
  id: number;
  /** Echo sequence number. */
  seq: number;
  /** Where the message starts. */
  offset: number;
  length: number;
}

/** A zeroed record to reuse with `parseIcmpv6`. */
export function newIcmpv6Message(): Icmpv6Message {
  return { type: 0, code: 0, id: 0, seq: 0, offset: 0, length: 0 };
}

/**
 * Checks the ICMPv6 message at `b[off, off+len)`; the IPv6 addresses for
 * the pseudo-header are at `srcOff` and `dstOff` of the same buffer.
 *
 * @returns null when well formed with a good checksum, else why not
 */
export function parseIcmpv6(
  b: Uint8Array,
  off: number,
  len: number,
  srcOff: number,
  dstOff: number,
  m: Icmpv6Message,
): ParseError | null {
  if (off < 0 || len < 4 || off + len > b.length) return "shorter than an ICMPv6 header";
  if (finishChecksum(sumWords(b, off, len, pseudoSumAt(b, srcOff, dstOff, 16, 58, len))) !== 0) {
    return "bad ICMPv6 checksum";
  }
  m.type = b[off]!;
  m.code = b[off + 1]!;
  m.id = len >= 8 ? (b[off + 4]! << 8) | b[off + 5]! : 0;
  m.seq = len >= 8 ? (b[off + 6]! << 8) | b[off + 7]! : 0;
  m.offset = off;
  m.length = len;
  return null;
}

/**
 * Fills the checksum of the ICMPv6 message at `b[off, off+len)` (type,
 * code and body already written) over the pseudo-header whose addresses
 * are at `srcOff`/`dstOff` of the same buffer.
 */
export function finishIcmpv6(b: Uint8Array, off: number, len: number, srcOff: number, dstOff: number): void {
  b[off + 2] = 0;
  b[off + 3] = 0;
  const c = finishChecksum(sumWords(b, off, len, pseudoSumAt(b, srcOff, dstOff, 16, 58, len)));
  b[off + 2] = c >>> 8;
  b[off + 3] = c & 0xff;
}

/** Destination-unreachable codes (RFC 4443 section 3.1). */
export const ICMPV6_UNREACH = { NO_ROUTE: 0, ADMIN: 1, ADDRESS: 3, PORT: 4 } as const;
/** An ICMPv6 error never exceeds the minimum IPv6 MTU (RFC 4443 section 2.4 (c)). */
export const ICMPV6_ERROR_MAX = 1280 - 40;

/**
 * Writes the body of an ICMPv6 error message (destination unreachable,
 * packet too big, time exceeded) at `b[off]`: type, code, `rest` (the MTU
 * for "packet too big"), and as much of the invoking packet
 * `inv[invOff, invOff+invLen)` as fits in ICMPV6_ERROR_MAX. The checksum
 * needs the IPv6 header: write it, then call `finishIcmpv6`.
 *
 * @returns the message's length
 */
export function writeIcmpv6Error(
  b: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
  inv: Uint8Array,
  invOff: number,
  invLen: number,
): number {
  const quoted = Math.max(0, Math.min(invLen, ICMPV6_ERROR_MAX - ICMPV6_HLEN, inv.length - invOff));
  writeIcmpHeader(b, off, type, code, rest);
  b.set(inv.subarray(invOff, invOff + quoted), off + ICMPV6_HLEN);
  return ICMPV6_HLEN + quoted;
}
