/**
 * vde_switch's MAC table bucket index (`Hash: NNNN` in `hash/print`, spec
 * 6.1) without BigInt: the same murmur3 64-bit finaliser computed on 32-bit
 * halves. `vdeHashIndex` in mac_table.ts is the plain BigInt statement of
 * it; this one is about 20 times faster, which matters when a full table
 * (65536 entries) is listed while the switch keeps forwarding.
 */

/** High 32 bits of the unsigned 64-bit product of two unsigned 32-bit values. */
function mulHigh(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

// The finaliser's multipliers, split into 32-bit halves.
const C1_HI = 0xff51afd7, C1_LO = 0xed558ccd;
const C2_LO = 0x1a85ec53;

/**
 * The bucket of (MAC, VLAN) in a table of `buckets` buckets.
 *
 * @param mac the six MAC bytes
 * @param vlan VLAN id, 0..4095
 * @param buckets a power of two no larger than 2^32
 */
export function vdeBucket(mac: Uint8Array, vlan: number, buckets: number): number {
  // k = mac[0] | mac[1]<<8 | ... | mac[5]<<40 | vlan<<48, little-endian.
  const lo = (mac[0]! | (mac[1]! << 8) | (mac[2]! << 16) | (mac[3]! << 24)) >>> 0;
  const hi = (mac[4]! | (mac[5]! << 8) | ((vlan & 0xffff) << 16)) >>> 0;
  return bucketOfKey(lo, hi, buckets);
}

/**
 * `vdeBucket` of a MAC held as the MAC table keys it (`macHi`: bytes 0-1,
 * `macLo`: bytes 2-5), so a listing needs no byte array per entry.
 */
export function vdeBucketOf(macHi: number, macLo: number, vlan: number, buckets: number): number {
  const lo = (((macHi >>> 8) & 0xff) | ((macHi & 0xff) << 8) | (((macLo >>> 24) & 0xff) << 16) |
    (((macLo >>> 16) & 0xff) << 24)) >>> 0;
  const hi = (((macLo >>> 8) & 0xff) | ((macLo & 0xff) << 8) | ((vlan & 0xffff) << 16)) >>> 0;
  return bucketOfKey(lo, hi, buckets);
}

// The finaliser on the 64-bit key's halves.
function bucketOfKey(lo: number, hi: number, buckets: number): number {
  // k ^= k >> 33: only the low word changes.
  const x = (lo ^ (hi >>> 1)) >>> 0;
  // k *= C1 (mod 2^64).
  const pLo = Math.imul(x, C1_LO) >>> 0;
  const pHi = (mulHigh(x, C1_LO) + Math.imul(x, C1_HI) + Math.imul(hi, C1_LO)) >>> 0;
  // k ^= k >> 33; k *= C2: the bucket needs only the low word of the product.
  const y = (pLo ^ (pHi >>> 1)) >>> 0;
  return (Math.imul(y, C2_LO) >>> 0) & (buckets - 1);
}
