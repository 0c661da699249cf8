/**
 * A ring of frames in a SharedArrayBuffer: one thread writes, one reads.
 *
 * Theory of operation: records are `[i32 length][i32 tag][bytes]`, padded to 8 bytes,
 * laid end to end in a power-of-two data area. `write` and `read` are byte
 * counters that only grow (modulo 2^32; their difference is what is in use),
 * each stored by one side only and read by the other with Atomics, so no
 * lock is needed: the producer publishes records by storing `write` after
 * their bytes, the consumer frees them by storing `read` after using them.
 * A record never wraps: when the rest of the area is too short, the producer
 * writes a wrap marker (length -1) and starts again at offset 0.
 *
 * Sleeping is explicit. A consumer that found the ring empty sets `sleeping`
 * and checks `write` once more; a producer that published records takes
 * `sleeping` back with compareExchange and, only if it got it, wakes the
 * consumer (an eventfd write). Both steps are sequentially consistent
 * atomics, so one of them always sees the other: no lost wake-up, and one
 * wake-up per burst, not per frame. The other way, a producer that finds the
 * ring full sets `producerWaiting` and waits on `read` (Atomics.wait); the
 * consumer notifies after freeing space.
 *
 * The same layout is built by the side that creates the ring and attached by
 * the other from the SharedArrayBuffer it was posted.
 *
 * A tagged record (`putTagged`/`drainTagged`, the switch thread's port
 * rings) carries a port number in its tag; a plain one (`put`/`drain`)
 * leaves it 0. One ring holds one kind of record. The tag word is there in
 * both so a frame's bytes start 8-aligned, as the buffers they are copied
 * from and to do: V8 copies to and from shared memory with relaxed atomics,
 * word by word when both sides are aligned alike and byte by byte
 * otherwise (measured for 9 KB: 0.3-0.4 µs against 3-4 µs).
 */
import { libc } from "../../ffi/libc.ts";

/** Indexes in the Int32 header. */
const WRITE = 0;
const READ = 1;
const SLEEPING = 2;
const STOP = 3;
const PRODUCER_WAITING = 4;
const OVERSIZE = 5;
const ERROR = 6;
const HEADER_BYTES = 64;
/** Record header: the frame length and the tag, as i32s. */
const RECORD_HEADER = 8;
const WRAP = -1;

/**
 * From this length up a frame leaves shared memory through libc's memcpy:
 * V8's `set` out of a SharedArrayBuffer moves a word at a time (9 KB: about
 * 170 ns against 60), and only below about 1 KB does the FFI call's own cost
 * make `set` the cheaper one.
 */
const MEMCPY_MIN = 1024;

/**
 * Copies a frame handed out by `drain`/`drainTagged` into `dst` (private
 * memory the consumer may keep using after the record is freed) and returns
 * the copied span, or null when the frame is longer than `dst`: a producer
 * never publishes one, and the check keeps memcpy inside `dst` regardless.
 */
export function copyOutOfRing(dst: Uint8Array, frame: Uint8Array): Uint8Array | null {
  const n = frame.length;
  if (n > dst.length) return null;
  if (n >= MEMCPY_MIN) libc().memcpy(dst, frame, n);
  else dst.set(frame);
  return dst.subarray(0, n);
}

/** Bytes a record of `length` takes in the data area. */
export function recordSize(length: number): number {
  return (RECORD_HEADER + length + 7) & ~7;
}

/** The shared state of one ring, seen from either side. */
export class FrameRing {
  readonly sab: SharedArrayBuffer;
  /** Bytes of the data area (a power of two). */
  readonly capacity: number;
  readonly #header: Int32Array;
  readonly #data: Uint8Array;
  readonly #lengths: Int32Array;
  readonly #mask: number;

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.capacity = sab.byteLength - HEADER_BYTES;
    if (this.capacity <= 0 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new Error(`frame ring data area must be a power of two, got ${this.capacity}`);
    }
    this.#mask = this.capacity - 1;
    this.#header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.#data = new Uint8Array(sab, HEADER_BYTES, this.capacity);
    this.#lengths = new Int32Array(sab, HEADER_BYTES, this.capacity / 4);
  }

  /** A new, empty ring with a data area of `capacity` bytes (a power of two); the consumer starts asleep. */
  static create(capacity: number): FrameRing {
    const ring = new FrameRing(new SharedArrayBuffer(HEADER_BYTES + capacity));
    Atomics.store(ring.#header, SLEEPING, 1);
    return ring;
  }

  /** The ring whose buffer another thread created. */
  static attach(sab: SharedArrayBuffer): FrameRing {
    return new FrameRing(sab);
  }

  // ---- producer side ----

  /** Bytes free for records. */
  free(): number {
    return this.capacity - ((Atomics.load(this.#header, WRITE) - Atomics.load(this.#header, READ)) | 0);
  }

  /**
   * Appends one frame; the caller has checked `free()` for
   * `recordSize(length) + the largest record` (room for a wrap). Not visible
   * to the consumer until `publish`.
   */
  put(frame: Uint8Array, pending: number): number {
    return this.#put(frame, pending, 0);
  }

  /** `put` with a tag the consumer gets back from `drainTagged`. */
  putTagged(tag: number, frame: Uint8Array, pending: number): number {
    return this.#put(frame, pending, tag);
  }

  #put(frame: Uint8Array, pending: number, tag: number): number {
    let w = pending;
    let pos = w & this.#mask;
    const length = frame.length;
    const size = recordSize(length);
    if (this.capacity - pos < size) {
      this.#lengths[pos >> 2] = WRAP;
      w = (w + this.capacity - pos) | 0;
      pos = 0;
    }
    this.#lengths[pos >> 2] = length;
    this.#lengths[(pos + 4) >> 2] = tag;
    this.#data.set(frame, pos + RECORD_HEADER);
    return (w + size) | 0;
  }

  /**
   * The producer's unpublished write position (start a batch of `put`s here); read by the consumer,
   * the end of what has been published so far.
   */
  get writePosition(): number {
    return Atomics.load(this.#header, WRITE);
  }

  /** How far the consumer has freed: a byte count that wraps at 2^32, as `writePosition`. */
  get readPosition(): number {
    return Atomics.load(this.#header, READ);
  }

  /** Makes records up to `write` visible; true when the consumer was asleep and must be woken. */
  publish(write: number): boolean {
    Atomics.store(this.#header, WRITE, write);
    return Atomics.compareExchange(this.#header, SLEEPING, 1, 0) === 1;
  }

  /** Waits (blocking this thread) up to `ms` for the consumer to free space. */
  waitForSpace(ms: number): void {
    const read = Atomics.load(this.#header, READ);
    Atomics.store(this.#header, PRODUCER_WAITING, 1);
    // Returns at once if the consumer freed space since `read` was loaded.
    Atomics.wait(this.#header, READ, read, ms);
    Atomics.store(this.#header, PRODUCER_WAITING, 0);
  }

  /** Counts a frame the producer dropped for being larger than a frame may be. */
  countOversize(): void {
    Atomics.add(this.#header, OVERSIZE, 1);
  }

  /** Records a receive error (errno) for the consumer; the producer has stopped. */
  fail(errno: number): boolean {
    Atomics.store(this.#header, ERROR, errno);
    return Atomics.compareExchange(this.#header, SLEEPING, 1, 0) === 1;
  }

  /** True once the consumer asked the producer to stop. */
  get stopping(): boolean {
    return Atomics.load(this.#header, STOP) !== 0;
  }

  // ---- consumer side ----

  /**
   * Calls `onFrame` with each published record, oldest first, at most
   * `budget` of them, with a view into the shared area (valid during the
   * call only). Frees space as it goes. Returns the number delivered.
   */
  drain(onFrame: (frame: Uint8Array) => void, budget: number): number {
    return this.#drain(onFrame, null, budget);
  }

  /**
   * `drain` for records written by `putTagged`: `onFrame` gets each record's tag too. With `until`
   * (a `writePosition` read earlier), only the records published before it.
   */
  drainTagged(onFrame: (tag: number, frame: Uint8Array) => void, budget: number, until?: number): number {
    return this.#drain(null, onFrame, budget, until);
  }

  #drain(
    plain: ((frame: Uint8Array) => void) | null,
    tagged: ((tag: number, frame: Uint8Array) => void) | null,
    budget: number,
    until?: number,
  ): number {
    let r = Atomics.load(this.#header, READ);
    let w = until ?? Atomics.load(this.#header, WRITE);
    let n = 0;
    // A distance, not r !== w: an `until` the reader has passed (it never should) ends the drain.
    while (((w - r) | 0) > 0 && n < budget) {
      const pos = r & this.#mask;
      const len = this.#lengths[pos >> 2]!;
      if (len === WRAP) {
        r = (r + this.capacity - pos) | 0;
        continue;
      }
      const end = pos + RECORD_HEADER + len;
      if (tagged !== null) {
        tagged(this.#lengths[(pos + 4) >> 2]!, this.#data.subarray(pos + RECORD_HEADER, end));
      } else plain!(this.#data.subarray(pos + RECORD_HEADER, end));
      r = (r + recordSize(len)) | 0;
      // Free space in batches, so a waiting producer resumes before a long drain ends.
      if ((++n & 63) === 0) {
        this.#release(r);
        if (until === undefined) w = Atomics.load(this.#header, WRITE);
      }
    }
    this.#release(r);
    return n;
  }

  #release(read: number): void {
    Atomics.store(this.#header, READ, read);
    if (Atomics.load(this.#header, PRODUCER_WAITING) !== 0) Atomics.notify(this.#header, READ);
  }

  /**
   * Declares the consumer asleep if the ring is empty: true when it is (the
   * producer will wake it), false when records arrived meanwhile.
   */
  sleep(): boolean {
    Atomics.store(this.#header, SLEEPING, 1);
    if (Atomics.load(this.#header, WRITE) === Atomics.load(this.#header, READ)) return true;
    // Records arrived: take the flag back. If the producer took it first, a wake-up is on its way anyway.
    Atomics.compareExchange(this.#header, SLEEPING, 1, 0);
    return false;
  }

  /** True when every published record has been consumed. */
  get empty(): boolean {
    return Atomics.load(this.#header, WRITE) === Atomics.load(this.#header, READ);
  }

  /** Frames the producer dropped as oversize so far. */
  get oversize(): number {
    return Atomics.load(this.#header, OVERSIZE);
  }

  /** The producer's receive errno, or 0. */
  get error(): number {
    return Atomics.load(this.#header, ERROR);
  }

  /**
   * Producer, after `publish` or `fail` returned true: wakes a consumer
   * parked in `parkAsync`; false when none was parked (wake it another way).
   */
  wakeParked(): boolean {
    return Atomics.notify(this.#header, SLEEPING, 1) > 0;
  }

  /**
   * Consumer, after `sleep` returned true: a promise that settles when the
   * producer clears `sleeping`, or null when it already has (its wake-up
   * then went the other way, as `wakeParked` found no one parked).
   */
  parkAsync(): Promise<unknown> | null {
    const r = Atomics.waitAsync(this.#header, SLEEPING, 1);
    return r.async ? r.value : null;
  }

  /** Consumer: settles a pending `parkAsync` (at shutdown). */
  unpark(): void {
    Atomics.notify(this.#header, SLEEPING);
  }

  /** Asks the producer to stop (it also needs a wake-up if it is blocked in a system call). */
  requestStop(): void {
    Atomics.store(this.#header, STOP, 1);
    Atomics.notify(this.#header, READ);
  }
}
