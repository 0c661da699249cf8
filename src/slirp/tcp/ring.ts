/**
 * A byte ring for one direction of one TCP connection.
 *
 * Theory of operation: `length` bytes starting at `head` are the ring's
 * contents (for the send side: unacknowledged and unsent data; for the
 * receive side: in-order data not yet written to the host). Bytes past
 * `length` may also hold data (the receive side keeps out-of-order segments
 * there, at their offsets), so growing the ring copies the whole buffer, not
 * just the contents. The capacity is a power of two that starts small and
 * doubles on demand up to `max`, so an idle connection costs little and a
 * fast one gets its full window. Views handed out (`readable`, `writable`)
 * stay valid while an asynchronous host read or write uses them: the head
 * only moves on `consume`, never back to zero, and a growth leaves the old
 * buffer to the pending operation (its bytes are the same).
 */

/** Smallest power of two at least `n` (n >= 1). */
export function pow2AtLeast(n: number): number {
  let c = 1;
  while (c < n) c *= 2;
  return c;
}

/** A growable power-of-two byte ring. */
export class ByteRing {
  /** The storage; replaced on growth. */
  buf: Uint8Array<ArrayBuffer>;
  /** Offset of the first byte of the contents. */
  head = 0;
  /** Bytes of contents. */
  length = 0;
  /** Largest capacity this ring may grow to (a power of two). */
  readonly max: number;
  #mask: number;

  /** @param reuse storage of exactly the initial capacity to start with (a pooled buffer), or null */
  constructor(initial: number, max: number, reuse: Uint8Array<ArrayBuffer> | null = null) {
    this.max = pow2AtLeast(Math.max(1, max));
    const cap = ByteRing.initialCapacity(initial, max);
    this.buf = reuse !== null && reuse.length === cap ? reuse : new Uint8Array(cap);
    this.#mask = cap - 1;
  }

  /** The capacity a ring made with `initial` and `max` starts at. */
  static initialCapacity(initial: number, max: number): number {
    return Math.min(pow2AtLeast(Math.max(1, initial)), pow2AtLeast(Math.max(1, max)));
  }

  /** Current capacity. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Free bytes at the current capacity. */
  get free(): number {
    return this.buf.length - this.length;
  }

  /** Grows the capacity (doubling) to at least `n`, up to `max`; returns false if `n` exceeds `max`. */
  ensureCapacity(n: number): boolean {
    if (n <= this.buf.length) return true;
    if (n > this.max) return false;
    const cap = pow2AtLeast(n);
    const next = new Uint8Array(cap);
    const old = this.buf;
    // Unwrap the whole old buffer from head, keeping bytes past `length` at their offsets.
    next.set(old.subarray(this.head), 0);
    if (this.head > 0) next.set(old.subarray(0, this.head), old.length - this.head);
    this.buf = next;
    this.head = 0;
    this.#mask = cap - 1;
    return true;
  }

  /** The contiguous run of contents at the head, at most `maxLen` bytes (a view; may be empty). */
  readable(maxLen = Infinity): Uint8Array<ArrayBuffer> {
    const end = Math.min(this.head + this.length, this.buf.length, this.head + maxLen);
    return this.buf.subarray(this.head, end);
  }

  /** Drops `n` bytes from the head. */
  consume(n: number): void {
    if (n <= 0) return;
    if (n > this.length) n = this.length;
    this.head = (this.head + n) & this.#mask;
    this.length -= n;
  }

  /** The contiguous free run after the contents, at most `maxLen` bytes (a view; may be empty). */
  writable(maxLen = Infinity): Uint8Array<ArrayBuffer> {
    const cap = this.buf.length;
    const tail = (this.head + this.length) & this.#mask;
    if (this.length === cap) return this.buf.subarray(tail, tail);
    const end = Math.min(tail < this.head ? this.head : cap, tail + maxLen);
    return this.buf.subarray(tail, end);
  }

  /** Adds `n` bytes, already written past the contents, to the contents. */
  commit(n: number): void {
    this.length += n;
  }

  /**
   * Copies `len` bytes of `src` from `srcOff` to offset `offset` past the
   * head, growing as needed. Does not change `length`.
   *
   * @returns false when `offset + len` exceeds `max`
   */
  writeAt(offset: number, src: Uint8Array, srcOff: number, len: number): boolean {
    if (len <= 0) return true;
    if (!this.ensureCapacity(offset + len)) return false;
    const cap = this.buf.length;
    const pos = (this.head + offset) & this.#mask;
    const first = Math.min(len, cap - pos);
    this.buf.set(src.subarray(srcOff, srcOff + first), pos);
    if (first < len) this.buf.set(src.subarray(srcOff + first, srcOff + len), 0);
    return true;
  }

  /** Copies `len` bytes at `offset` past the head into `dst[dstOff..]`. */
  copyOut(offset: number, dst: Uint8Array, dstOff: number, len: number): void {
    if (len <= 0) return;
    const cap = this.buf.length;
    const pos = (this.head + offset) & this.#mask;
    const first = Math.min(len, cap - pos);
    dst.set(this.buf.subarray(pos, pos + first), dstOff);
    if (first < len) dst.set(this.buf.subarray(0, len - first), dstOff + first);
  }
}
