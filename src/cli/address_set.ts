/**
 * The IP addresses `vde plug -L` has logged in one session: a set of IPv4
 * and IPv6 addresses, bounded, asked once per frame from the stream side.
 *
 * Theory of operation: the addresses are kept sorted in one buffer, each a
 * key of 17 bytes (the family, then the address, an IPv4 one's last 12
 * bytes zero), and found by binary search of their exact bytes, read where
 * they lie in the frame: a frame from a known address allocates nothing and
 * costs at most log2(capacity) + 1 comparisons, whatever the addresses. A
 * hash table would let the remote peer, who chooses the source addresses,
 * send thousands that hash alike and make every frame scan them all.
 */

/** Bytes of one key: the family (4 or 6), then 16 of address. */
const KEY = 17;

/** A bounded set of IPv4 and IPv6 addresses, read from inside a frame. */
export class AddressSet {
  readonly capacity: number;
  readonly #keys: Uint8Array;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#keys = new Uint8Array(capacity * KEY);
  }

  /** How many addresses it holds. */
  get size(): number {
    return this.#size;
  }

  /** Whether it holds the IPv`family` address at `at` in `b`. */
  has(family: 4 | 6, b: Uint8Array, at: number): boolean {
    return this.#find(family, b, at) >= 0;
  }

  /**
   * Adds the IPv`family` address at `at` in `b` (4 or 16 bytes, the caller checked they are there).
   *
   * @returns false where it was there already or the set is full
   */
  add(family: 4 | 6, b: Uint8Array, at: number): boolean {
    const found = this.#find(family, b, at);
    if (found >= 0 || this.#size === this.capacity) return false;
    const pos = -found - 1;
    const k = this.#keys;
    k.copyWithin((pos + 1) * KEY, pos * KEY, this.#size * KEY);
    const len = family === 4 ? 4 : 16;
    k[pos * KEY] = family;
    for (let j = 0; j < len; j++) k[pos * KEY + 1 + j] = b[at + j]!;
    k.fill(0, pos * KEY + 1 + len, (pos + 1) * KEY);
    this.#size++;
    return true;
  }

  /** The index of the address, or -(where it would go) - 1. */
  #find(family: 4 | 6, b: Uint8Array, at: number): number {
    const len = family === 4 ? 4 : 16;
    let lo = 0;
    let hi = this.#size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.#compare(mid, family, b, at, len);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -lo - 1;
  }

  /** Key `i` against the address: negative, 0 or positive as it sorts before, equal or after. */
  #compare(i: number, family: number, b: Uint8Array, at: number, len: number): number {
    const k = this.#keys;
    const base = i * KEY;
    if (k[base] !== family) return k[base]! - family;
    for (let j = 0; j < len; j++) {
      const d = k[base + 1 + j]! - b[at + j]!;
      if (d !== 0) return d;
    }
    return 0;
  }
}
