/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that
 * TCP, UDP and ICMPv6 checksums cover. Pure functions over byte views; the
 * sum is accumulated 16 bits at a time and folded once at the end.
 */

/** Adds the 16-bit big-endian words of `b[off, off+len)` to `sum` (unfolded). */
export function sumWords(b: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + len;
  let i = off;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

/** Folds a sum to 16 bits and complements it: the value to store in a header. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of `b[off, off+len)`, as stored in an IPv4 or ICMP header. */
export function internetChecksum(b: Uint8Array, off = 0, len = b.length - off): number {
  return finishChecksum(sumWords(b, off, len));
}

/**
 * Sum of the pseudo-header for a transport checksum: source and
 * destination addresses (4 bytes each for IPv4, 16 for IPv6), protocol and
 * transport length. Add the segment's words and finish.
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = sumWords(src, 0, src.length) + sumWords(dst, 0, dst.length);
  sum += protocol;
  if (src.length === 16) sum += Math.floor(length / 0x10000) + (length & 0xffff);
  else sum += length;
  return sum;
}

/** Checksum of a TCP/UDP/ICMPv6 segment with its pseudo-header (the checksum field must be zero or be verified). */
export function transportChecksum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  segment: Uint8Array,
  off = 0,
  len = segment.length - off,
): number {
  return finishChecksum(sumWords(segment, off, len, pseudoHeaderSum(src, dst, protocol, len)));
}
