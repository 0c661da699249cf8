/**
 * ICMP for IPv4 (RFC 792): echo request and reply, and the error messages
 * the slirp stack sends (destination unreachable, time exceeded). Every
 * message is at least the 8-byte header; its checksum covers the whole
 * message.
 */
import { internetChecksum } from "./checksum.ts";
import type { ParseError } from "./parse.ts";

/** Length of the ICMP header (type, code, checksum, 4 bytes of rest). */
export const ICMP_HLEN = 8;
/** ICMP types used here. */
export const ICMP = { ECHO_REPLY: 0, DEST_UNREACH: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
/** Destination-unreachable codes used here. */
export const ICMP_UNREACH = { NET: 0, HOST: 1, PROTOCOL: 2, PORT: 3, FRAG_NEEDED: 4 } as const;

/** A checked ICMP message. */
export interface IcmpMessage {
  type: number;
  code: number;
  /** Echo identifier (bytes 4-5), for echo messages. */
  id: number;
  /** Echo sequence number (bytes 6-7). */
  seq: number;
  /** Where the data after the 8-byte header starts. */
  dataOffset: number;
  dataLength: number;
}

/** A zeroed record to reuse with `parseIcmpv4`. */
export function newIcmpMessage(): IcmpMessage {
  return { type: 0, code: 0, id: 0, seq: 0, dataOffset: 0, dataLength: 0 };
}

/**
 * Checks the ICMP message at `b[off, off+len)` and fills `m`.
 *
 * @returns null when well formed with a good checksum, else why not
 */
export function parseIcmpv4(b: Uint8Array, off: number, len: number, m: IcmpMessage): ParseError | null {
  if (off < 0 || len < ICMP_HLEN || off + len > b.length) return "shorter than an ICMP header";
  if (internetChecksum(b, off, len) !== 0) return "bad ICMP checksum";
  m.type = b[off]!;
  m.code = b[off + 1]!;
  m.id = (b[off + 4]! << 8) | b[off + 5]!;
  m.seq = (b[off + 6]! << 8) | b[off + 7]!;
  m.dataOffset = off + ICMP_HLEN;
  m.dataLength = len - ICMP_HLEN;
  return null;
}

/**
 * Writes the 8-byte header ICMP and ICMPv6 share (type, code, a zero
 * checksum, the 32-bit `rest`) at `b[off]`.
 */
export function writeIcmpHeader(b: Uint8Array, off: number, type: number, code: number, rest: number): void {
  b[off] = type;
  b[off + 1] = code;
  b[off + 2] = 0;
  b[off + 3] = 0;
  b[off + 4] = (rest >>> 24) & 0xff;
  b[off + 5] = (rest >>> 16) & 0xff;
  b[off + 6] = (rest >>> 8) & 0xff;
  b[off + 7] = rest & 0xff;
}

/**
 * Writes an ICMP header at `b[off]` for a message of `len` bytes whose data
 * (after the 8-byte header) is already in place, and fills in the checksum.
 * `rest` is the 32-bit word after the checksum (id and sequence for echo).
 */
export function writeIcmpv4(
  b: Uint8Array,
  off: number,
  len: number,
  type: number,
  code: number,
  rest: number,
): void {
  writeIcmpHeader(b, off, type, code, rest);
  const c = internetChecksum(b, off, len);
  b[off + 2] = c >>> 8;
  b[off + 3] = c & 0xff;
}

/** Bytes of the invoking packet's data quoted after its IP header (RFC 792: 64 bits). */
export const ICMP_QUOTED_DATA = 8;

/**
 * Writes an ICMP error message (destination unreachable, time exceeded) at
 * `b[off]` quoting the invoking IPv4 packet `inv[invOff, invOff+invLen)`:
 * its IP header and the first 64 bits of its data (RFC 792). `rest` is the
 * word after the checksum (the next-hop MTU in its low 16 bits for
 * "fragmentation needed", RFC 1191). The checksum is filled in.
 *
 * @returns the message's length (8 + quoted bytes), or 0 when `inv` does
 *   not hold a whole IPv4 header
 */
export function writeIcmpv4Error(
  b: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
  inv: Uint8Array,
  invOff: number,
  invLen: number,
): number {
  if (invLen < 20 || invOff + invLen > inv.length) return 0;
  const ihl = (inv[invOff]! & 0x0f) * 4;
  if (ihl < 20 || ihl > invLen) return 0;
  const quoted = Math.min(invLen, ihl + ICMP_QUOTED_DATA);
  b.set(inv.subarray(invOff, invOff + quoted), off + ICMP_HLEN);
  writeIcmpv4(b, off, ICMP_HLEN + quoted, type, code, rest);
  return ICMP_HLEN + quoted;
}
