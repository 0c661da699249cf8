/**
 * UDP (RFC 768) over IPv4 and IPv6. `parseUdp` checks the length field
 * against the bytes the IP layer says are there (a UDP length that lies
 * either way is refused); `udpChecksumOk` verifies the checksum with the
 * pseudo-header read straight from the IP header in the same buffer, so
 * nothing is allocated; `writeUdp` fills a header in front of a payload
 * already in place.
 */
import { finishChecksum, sumWords } from "./checksum.ts";
import type { ParseError } from "./parse.ts";

/** Length of a UDP header. */
export const UDP_HLEN = 8;

/** A checked UDP header. */
export interface UdpHeader {
  srcPort: number;
  dstPort: number;
  /** The length field: header and payload. */
  length: number;
  checksum: number;
  /** Where the payload starts. */
  payloadOffset: number;
  payloadLength: number;
}

/** A zeroed record to reuse with `parseUdp`. */
export function newUdpHeader(): UdpHeader {
  return { srcPort: 0, dstPort: 0, length: 0, checksum: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Checks the UDP datagram at `b[off, off+len)` (len as the IP layer gives it) and fills `u`.
 *
 * @returns null when well formed, else why not
 */
export function parseUdp(b: Uint8Array, off: number, len: number, u: UdpHeader): ParseError | null {
  if (off < 0 || len < UDP_HLEN || off + len > b.length) return "shorter than a UDP header";
  const ulen = (b[off + 4]! << 8) | b[off + 5]!;
  if (ulen < UDP_HLEN) return "UDP length shorter than the header";
  if (ulen > len) return "UDP length past the end of the IP payload";
  u.srcPort = (b[off]! << 8) | b[off + 1]!;
  u.dstPort = (b[off + 2]! << 8) | b[off + 3]!;
  u.length = ulen;
  u.checksum = (b[off + 6]! << 8) | b[off + 7]!;
  u.payloadOffset = off + UDP_HLEN;
  u.payloadLength = ulen - UDP_HLEN;
  return null;
}

/**
 * The pseudo-header sum for addresses that sit in a buffer (4 bytes each
 * for IPv4, 16 for IPv6), as TCP, UDP and ICMPv6 checksums need.
 */
export function pseudoSumAt(
  b: Uint8Array,
  srcOff: number,
  dstOff: number,
  addrLen: number,
  protocol: number,
  length: number,
): number {
  let sum = sumWords(b, srcOff, addrLen, sumWords(b, dstOff, addrLen));
  sum += protocol + (length >>> 16) + (length & 0xffff);
  return sum;
}

/**
 * Verifies a UDP checksum. A zero checksum means "none" over IPv4 and is
 * accepted there; over IPv6 it is an error.
 *
 * @param b buffer holding the IP header and the datagram
 * @param srcOff offset of the source address (in the IP header)
 * @param dstOff offset of the destination address
 * @param addrLen 4 or 16
 * @param off offset of the UDP header
 * @param length UDP length (header and payload)
 */
export function udpChecksumOk(
  b: Uint8Array,
  srcOff: number,
  dstOff: number,
  addrLen: number,
  off: number,
  length: number,
): boolean {
  const stored = (b[off + 6]! << 8) | b[off + 7]!;
  if (stored === 0) return addrLen === 4;
  return finishChecksum(sumWords(b, off, length, pseudoSumAt(b, srcOff, dstOff, addrLen, 17, length))) === 0;
}

/**
 * Writes the UDP header at `b[off]` for a payload of `payloadLength` bytes
 * already at `b[off + 8]`, with its checksum over the pseudo-header whose
 * addresses are at `srcOff`/`dstOff` in the same buffer.
 */
export function writeUdp(
  b: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  srcOff: number,
  dstOff: number,
  addrLen: number,
): void {
  const length = UDP_HLEN + payloadLength;
  b[off] = srcPort >>> 8;
  b[off + 1] = srcPort & 0xff;
  b[off + 2] = dstPort >>> 8;
  b[off + 3] = dstPort & 0xff;
  b[off + 4] = (length >>> 8) & 0xff;
  b[off + 5] = length & 0xff;
  b[off + 6] = 0;
  b[off + 7] = 0;
  let c = finishChecksum(sumWords(b, off, length, pseudoSumAt(b, srcOff, dstOff, addrLen, 17, length)));
  if (c === 0) c = 0xffff;
  b[off + 6] = c >>> 8;
  b[off + 7] = c & 0xff;
}
