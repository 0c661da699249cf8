/**
 * The snooping table's index: (VLAN, group) -> entry, looked up where the
 * group lies in a frame, with no allocation and a bounded cost whatever
 * groups a guest reports.
 *
 * Every group is a guest's choice, so neither a fixed hash of our own nor a
 * Map keyed by numbers will do: V8 hashes a number key with an unseeded
 * function, and a fixed hash of 16 bytes is inverted in a few lines, so a
 * guest can report thousands of groups that share one chain and make every
 * report and data frame walk it. The hash here is a keyed one (a linear
 * hash of the 16-bit pieces of the VLAN, family and address, modulo the
 * prime 2^31 - 1, with coefficients drawn from a seed): for any two groups
 * a guest chooses without knowing the seed, they share a bucket with
 * probability about 1 / buckets, as the Linux bridge's rhashtable does it
 * with its random jhash seed. And as a ceiling whatever happens, a chain
 * holds at most CHAIN_MAX entries: a group that would be one more is
 * refused (the caller counts it as the table being full), so a lookup
 * compares at most CHAIN_MAX addresses.
 *
 * The seed is part of the switch's snooping settings, so the data-plane
 * thread's copy refuses exactly what the control copy refuses.
 */

/** One (VLAN, group) and its member ports, with their expiry times in step. */
export interface GroupEntry {
  readonly vlan: number;
  readonly family: 4 | 6;
  /** The group's address, 4 or 16 bytes. */
  readonly addr: Uint8Array;
  readonly ports: number[];
  readonly until: number[];
  /**
   * Where a data frame to the group goes, members then router ports not among them: the first `sendLength`
   * of `sendTo`, built when `sendVersion` is not the owner's router-and-member version (a data frame then
   * costs the ports sent to, not members x routers; the array grows only past its largest fill).
   */
  readonly sendTo: number[];
  sendLength: number;
  sendVersion: number;
  /** The next entry of the same bucket, or null. */
  next: GroupEntry | null;
}

/** The longest chain a bucket may hold: a lookup compares at most this many addresses. */
export const CHAIN_MAX = 8;

/** 2^31 - 1, prime: the hash's modulus. */
const P = 0x7fff_ffff;
const TWO31 = 0x8000_0000;
/** Coefficients: one per 16-bit piece of an IPv6 address (8), the VLAN-and-family piece, and the constant. */
const COEFFS = 10;

/** x mod 2^31 - 1 for a whole number 0 <= x < 2^53, in doubles (no `%`, which is a call). */
function mod31(x: number): number {
  const hi = Math.floor(x / TWO31);
  // 2^31 = 1 modulo P: x = hi * 2^31 + lo folds to hi + lo, below 2P since hi < 2^22.
  const r = x - hi * TWO31 + hi;
  return r >= P ? r - P : r;
}

/** Coefficients in [0, 2^31 - 1) from `seed` (splitmix32): the same seed, the same hash. */
function coefficients(seed: number): Float64Array {
  const a = new Float64Array(COEFFS);
  let s = seed >>> 0;
  for (let i = 0; i < COEFFS; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    a[i] = mod31(z);
  }
  return a;
}

/** A random seed for a new table. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/** The (VLAN, group) index of a snooping table. */
export class GroupTable {
  readonly #a: Float64Array;
  #buckets: (GroupEntry | null)[];
  #mask: number;

  /**
   * @param capacity the most entries it will hold (the buckets are twice that, a power of two, at most 2^20)
   * @param seed the hash's key
   */
  constructor(capacity: number, seed: number) {
    let n = 16;
    while (n < capacity * 2 && n < 1 << 20) n *= 2;
    this.#buckets = new Array<GroupEntry | null>(n).fill(null);
    this.#mask = n - 1;
    this.#a = coefficients(seed);
  }

  /**
   * Makes room for `capacity` entries (a raised `mcast_hash_max`): the buckets grow to twice that, and each
   * chain splits between bucket i and i + n (the hash is the same, its mask one bit wider), so none gets
   * longer; nothing happens when they are already that many.
   */
  grow(capacity: number): void {
    let n = this.#buckets.length;
    while (n < capacity * 2 && n < 1 << 20) n *= 2;
    if (n === this.#buckets.length) return;
    const held = this.entries();
    this.#buckets = new Array<GroupEntry | null>(n).fill(null);
    this.#mask = n - 1;
    for (const e of held) {
      e.next = null;
      this.insert(e);
    }
  }

  /** The bucket of (`vlan`, the `family` group at `b[at]`), read in place. */
  bucketOf(family: 4 | 6, vlan: number, b: Uint8Array, at: number): number {
    const a = this.#a;
    // Each term is below 2^31 * 2^16: ten of them stay below 2^53, exact in a double.
    let h = a[8]! * (vlan * 2 + (family === 6 ? 1 : 0)) + a[9]! +
      a[0]! * ((b[at]! << 8) | b[at + 1]!) + a[1]! * ((b[at + 2]! << 8) | b[at + 3]!);
    if (family === 6) {
      h += a[2]! * ((b[at + 4]! << 8) | b[at + 5]!) + a[3]! * ((b[at + 6]! << 8) | b[at + 7]!) +
        a[4]! * ((b[at + 8]! << 8) | b[at + 9]!) + a[5]! * ((b[at + 10]! << 8) | b[at + 11]!) +
        a[6]! * ((b[at + 12]! << 8) | b[at + 13]!) + a[7]! * ((b[at + 14]! << 8) | b[at + 15]!);
    }
    return mod31(h) & this.#mask;
  }

  /** The entry of (`vlan`, the `family` group at `b[at]`), or undefined. */
  find(family: 4 | 6, vlan: number, b: Uint8Array, at: number): GroupEntry | undefined {
    const n = family === 4 ? 4 : 16;
    let e: GroupEntry | null = this.#buckets[this.bucketOf(family, vlan, b, at)]!;
    for (; e !== null; e = e.next) {
      if (e.vlan !== vlan || e.family !== family) continue;
      const addr = e.addr;
      let i = 0;
      while (i < n && addr[i] === b[at + i]) i++;
      if (i === n) return e;
    }
    return undefined;
  }

  /** Adds `entry` (not already in); false when its bucket already holds CHAIN_MAX entries. */
  insert(entry: GroupEntry): boolean {
    const i = this.bucketOf(entry.family, entry.vlan, entry.addr, 0);
    const head: GroupEntry | null = this.#buckets[i]!;
    let length = 0;
    for (let e: GroupEntry | null = head; e !== null; e = e.next) length++;
    if (length >= CHAIN_MAX) return false;
    entry.next = head;
    this.#buckets[i] = entry;
    return true;
  }

  /** Takes `entry` out of its chain (nothing if it is not in). */
  remove(entry: GroupEntry): void {
    const i = this.bucketOf(entry.family, entry.vlan, entry.addr, 0);
    let e: GroupEntry | null = this.#buckets[i]!;
    if (e === entry) {
      this.#buckets[i] = entry.next;
    } else {
      while (e !== null && e.next !== entry) e = e.next;
      if (e === null) return;
      e.next = entry.next;
    }
    entry.next = null;
  }

  /** Every entry (off the data path: a new array). */
  entries(): GroupEntry[] {
    const out: GroupEntry[] = [];
    for (const head of this.#buckets) {
      for (let e: GroupEntry | null = head; e !== null; e = e.next) out.push(e);
    }
    return out;
  }
}
