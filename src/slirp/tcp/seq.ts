/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): numbers are kept
 * unsigned; comparisons look at the signed 32-bit difference, so they hold
 * across the wrap as long as the two numbers are within 2^31 of each other.
 */

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}
/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}
/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
/** The signed distance a - b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
/** a + n, wrapped to an unsigned 32-bit number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
