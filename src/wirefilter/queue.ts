/**
 * The queues wirefilter keeps frames in: a time-ordered heap (frames
 * waiting for their delivery time) and a plain FIFO (frames waiting for an
 * interface that is still sending, `speed`).
 *
 * Theory of operation: a queued frame must be copied (the view a link
 * hands over is borrowed), so every queued frame lives in an entry that
 * owns a buffer. Entries are recycled through a pool, buffers and all, so
 * in a steady state queueing a frame allocates nothing: it copies into a
 * buffer that an earlier frame used. The pool keeps at most `maxFree`
 * idle entries, so a burst does not pin its memory forever. How many
 * bytes may be queued at all is the filter's business (capacity option
 * and hard bound), not the queues'.
 */
import type { Dir } from "./value.ts";

/** Smallest buffer an entry gets: a full-size Ethernet frame fits. */
const MIN_BUFFER = 2048;

/** One queued frame: a copy in a pooled buffer, with its due time. */
export interface QueuedFrame {
  /** Due time, ms on the filter's clock. */
  at: number;
  /** Arrival order, to keep equal times in order and to count reordering. */
  seq: number;
  dir: Dir;
  /** The wire size the filter accounted for it (frame length + 2). */
  size: number;
  buf: Uint8Array;
  len: number;
}

/** A pool of entries and their buffers. */
export class EntryPool {
  readonly #free: QueuedFrame[] = [];
  readonly #maxFree: number;

  constructor(maxFree = 4096) {
    this.#maxFree = maxFree;
  }

  /** An entry holding a copy of `frame`. */
  take(frame: Uint8Array, at: number, seq: number, dir: Dir, size: number): QueuedFrame {
    let e = this.#free.pop();
    if (e === undefined) {
      e = { at, seq, dir, size, buf: new Uint8Array(Math.max(MIN_BUFFER, frame.length)), len: 0 };
    } else {
      e.at = at;
      e.seq = seq;
      e.dir = dir;
      e.size = size;
      if (e.buf.length < frame.length) e.buf = new Uint8Array(frame.length);
    }
    e.buf.set(frame);
    e.len = frame.length;
    return e;
  }

  /** Returns an entry for reuse. */
  release(e: QueuedFrame): void {
    if (this.#free.length < this.#maxFree) this.#free.push(e);
  }

  /** Idle entries held. */
  get idle(): number {
    return this.#free.length;
  }
}

function before(a: QueuedFrame, b: QueuedFrame): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** A binary min-heap of entries by (due time, arrival order). */
export class TimedQueue {
  readonly #heap: QueuedFrame[] = [];

  /** Entries held. */
  get size(): number {
    return this.#heap.length;
  }

  /** The entry due first, if any. */
  peek(): QueuedFrame | undefined {
    return this.#heap[0];
  }

  /** Adds an entry. */
  push(e: QueuedFrame): void {
    const h = this.#heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(e, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = e;
  }

  /** Removes and returns the entry due first. */
  pop(): QueuedFrame | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      if (!before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Removes every entry, handing each to `fn`. */
  drain(fn: (e: QueuedFrame) => void): void {
    for (const e of this.#heap.splice(0)) fn(e);
  }
}

/** A FIFO of entries (array with a moving head; compacted as it empties). */
export class FrameFifo {
  #items: QueuedFrame[] = [];
  #head = 0;

  /** Entries held. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes (wire sizes) held. */
  bytes = 0;

  /** Adds an entry at the tail. */
  push(e: QueuedFrame): void {
    this.#items.push(e);
    this.bytes += e.size;
  }

  /** Removes the entry at the head. */
  shift(): QueuedFrame | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const e = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as unknown as QueuedFrame;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.bytes -= e.size;
    return e;
  }

  /** Removes every entry, handing each to `fn`. */
  drain(fn: (e: QueuedFrame) => void): void {
    for (let e = this.shift(); e !== undefined; e = this.shift()) fn(e);
  }
}
