/**
 * The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that
 * TCP, UDP and ICMPv6 checksums cover. Pure functions over byte views; the
 * sum is accumulated 16 bits at a time and folded once at the end. Runs of
 * `SIMD_MIN` bytes or more are summed by WebAssembly SIMD
 * (checksum_wasm.ts), shorter ones, and all where WebAssembly is missing, by
 * the JS loops here.
 */
import { sumWasm } from "./checksum_wasm.ts";

/** Below this many bytes the word-by-word loop is as fast as the wide one. */
const WIDE_MIN = 64;
/** From this many bytes on, the SIMD sum (a copy and a call) beats the wide loop. */
const SIMD_MIN = 256;
/** 16-bit words per chunk: four int32 accumulators of 16,384 words each cannot overflow. */
const CHUNK_WORDS = 65536;
// A 16-bit view of the last buffer summed: segments come from a few long-lived buffers, and a
// new view per call would allocate on every frame.
let wideBuffer: ArrayBufferLike | null = null;
let wide: Uint16Array<ArrayBufferLike> = new Uint16Array(0);

/**
 * Sums `w[first, last)` as int32 in four accumulators (so the adds do not
 * wait on each other), chunk by chunk so none can overflow. Kept apart and
 * integer-only: a loop that mixed small integers and doubles was measured
 * to lose V8's optimization after a few calls on other buffers (5 µs for
 * 9,176 bytes, then 19 µs); this one stays at about 1 µs.
 */
function sum16(w: Uint16Array<ArrayBufferLike>, first: number, last: number): number {
  let total = 0;
  for (let start = first; start < last; start += CHUNK_WORDS) {
    const end = Math.min(last, start + CHUNK_WORDS);
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let k = start;
    for (const stop = end - 3; k < stop; k += 4) {
      a0 = (a0 + w[k]!) | 0;
      a1 = (a1 + w[k + 1]!) | 0;
      a2 = (a2 + w[k + 2]!) | 0;
      a3 = (a3 + w[k + 3]!) | 0;
    }
    for (; k < end; k++) a0 = (a0 + w[k]!) | 0;
    total += a0 + a1 + a2 + a3;
  }
  return total;
}

/**
 * Adds the 16-bit big-endian words of `b[off, off+len)` to `sum` (unfolded).
 * Long runs are summed as 16-bit words in the machine's byte order and
 * swapped once at the end (RFC 1071 2(B): the sum is byte-order
 * independent), several times faster than byte by byte.
 */
export function sumWords(b: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + len;
  let i = off;
  if (len >= SIMD_MIN && sumWasm !== null) {
    const r = sumWasm(b, off, len);
    if (r >= 0) {
      sum += r;
      i += len & ~15;
    }
  }
  const at = b.byteOffset + i;
  if (end - i >= WIDE_MIN && (at & 1) === 0 && LITTLE_ENDIAN) {
    const first = at >> 1;
    const last = first + ((end - i) >> 1);
    const buf = b.buffer;
    if (buf !== wideBuffer || last > wide.length) {
      wideBuffer = buf;
      wide = new Uint16Array(buf, 0, buf.byteLength >> 1);
    }
    let acc = sum16(wide, first, last);
    while (acc > 0xffff) acc = (acc % 0x10000) + Math.floor(acc / 0x10000);
    sum += ((acc & 0xff) << 8) | (acc >>> 8);
    i += (last - first) * 2;
  }
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  return sum;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
