/**
 * ICMPv6 (RFC 4443): the message header and its checksum, which covers an
 * IPv6 pseudo-header. Neighbour discovery messages are in `ndp.ts`.
 */
import { finishChecksum, sumWords } from "./checksum.ts";
import { pseudoSumAt } from "./udp.ts";
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
