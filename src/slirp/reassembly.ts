/**
 * IP fragment reassembly with bounded memory, for IPv4 and IPv6 alike.
 *
 * Theory of operation: a datagram in progress is keyed by its addresses,
 * protocol and identification, and holds one buffer (at most 64 KiB, the
 * largest datagram) plus the list of byte ranges received. A fragment that
 * overlaps one already received drops the whole datagram (RFC 5722 makes
 * that the rule for IPv6; for IPv4 it is the safe choice against
 * overlapping-fragment attacks). The datagram is complete when the last
 * fragment has fixed the total length and the ranges cover it without gap.
 *
 * Bounds: at most `maxDatagrams` in progress and `maxBytes` of buffers
 * (the oldest is evicted to make room), each lives `timeoutMs` at most.
 * Every drop is counted by reason.
 *
 * Cost: a fragment is checked against the ranges already received, so a
 * datagram takes at most {@link MAX_FRAGMENTS} fragments (more drops it):
 * without the bound, a flood of tiny fragments would cost each one time
 * proportional to all before it. A datagram's buffer starts at the size its
 * fragments need and doubles as they reach further, so a stream of tiny
 * fragments with fresh identifications costs little each; the byte bound
 * still counts every datagram at its largest size.
 */

/** Limits of a reassembler. */
export interface ReassemblyLimits {
  maxDatagrams: number;
  maxBytes: number;
  timeoutMs: number;
}

/** Defaults: 64 datagrams, 4 MiB, 30 s. */
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxDatagrams: 64,
  maxBytes: 4 << 20,
  timeoutMs: 30_000,
};

const MAX_PAYLOAD = 65535;
/** Fragments one datagram may take (a 64 KiB datagram over a 576-byte path needs 114). */
export const MAX_FRAGMENTS = 128;

const EMPTY = new Uint8Array(0);

interface Pending {
  buf: Uint8Array;
  /** Received ranges [start, end), unsorted. */
  ranges: number[];
  received: number;
  total: number;
  created: number;
  /** Context of the first fragment (offset 0) that the caller needs back. */
  first: Uint8Array | null;
}

/** Drop counters of a reassembler. */
export interface ReassemblyStats {
  completed: number;
  overlaps: number;
  tooLarge: number;
  tooManyFragments: number;
  timeouts: number;
  evicted: number;
  bad: number;
}

/** One reassembler (one per IP version). */
export class Reassembler {
  readonly #pending = new Map<string, Pending>();
  #bytes = 0;
  readonly stats: ReassemblyStats = {
    completed: 0,
    overlaps: 0,
    tooLarge: 0,
    tooManyFragments: 0,
    timeouts: 0,
    evicted: 0,
    bad: 0,
  };

  constructor(readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Datagrams in progress. */
  get size(): number {
    return this.#pending.size;
  }

  /** Bytes of buffers held. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Adds one fragment: `data` (borrowed) goes at byte `offset` of the
   * datagram whose key is `key`; `more` is the MF flag. `first` is saved
   * from the fragment at offset 0 (the caller's header bytes).
   *
   * @returns the complete payload and the saved first-fragment context
   *   when this fragment completes the datagram, else null
   */
  add(
    key: string,
    offset: number,
    data: Uint8Array,
    more: boolean,
    now: number,
    first?: Uint8Array,
  ): { payload: Uint8Array; first: Uint8Array | null } | null {
    const end = offset + data.length;
    if (end > MAX_PAYLOAD) {
      this.stats.tooLarge++;
      this.#drop(key);
      return null;
    }
    if ((more && data.length % 8 !== 0) || (more && data.length === 0)) {
      this.stats.bad++;
      this.#drop(key);
      return null;
    }
    let p = this.#pending.get(key);
    if (p === undefined) {
      this.#makeRoom(now);
      p = { buf: EMPTY, ranges: [], received: 0, total: -1, created: now, first: null };
      this.#pending.set(key, p);
      this.#bytes += MAX_PAYLOAD;
    }
    if (!more) {
      if ((p.total >= 0 && p.total !== end) || end < this.#highest(p)) {
        this.stats.bad++;
        this.#drop(key);
        return null;
      }
      p.total = end;
    } else if (p.total >= 0 && end > p.total) {
      this.stats.bad++;
      this.#drop(key);
      return null;
    }
    const r = p.ranges;
    if (r.length >= 2 * MAX_FRAGMENTS) {
      this.stats.tooManyFragments++;
      this.#drop(key);
      return null;
    }
    for (let i = 0; i < r.length; i += 2) {
      if (offset < r[i + 1]! && end > r[i]!) {
        this.stats.overlaps++;
        this.#drop(key);
        return null;
      }
    }
    r.push(offset, end);
    if (end > p.buf.length) {
      const grown = new Uint8Array(Math.min(MAX_PAYLOAD, Math.max(end, 2 * p.buf.length, 256)));
      grown.set(p.buf);
      p.buf = grown;
    }
    p.buf.set(data, offset);
    p.received += data.length;
    if (offset === 0 && first !== undefined) p.first = first.slice();
    if (p.total >= 0 && p.received === p.total) {
      this.#drop(key);
      this.stats.completed++;
      return { payload: p.buf.subarray(0, p.total), first: p.first };
    }
    return null;
  }

  #highest(p: Pending): number {
    let h = 0;
    for (let i = 1; i < p.ranges.length; i += 2) h = Math.max(h, p.ranges[i]!);
    return h;
  }

  #drop(key: string): void {
    if (this.#pending.delete(key)) this.#bytes -= MAX_PAYLOAD;
  }

  #makeRoom(now: number): void {
    this.expire(now);
    while (
      this.#pending.size >= this.limits.maxDatagrams || this.#bytes + MAX_PAYLOAD > this.limits.maxBytes
    ) {
      // Maps iterate in insertion order: the first key is the oldest.
      const oldest = this.#pending.keys().next();
      if (oldest.done) break;
      this.#drop(oldest.value);
      this.stats.evicted++;
    }
  }

  /** Drops datagrams older than the timeout. */
  expire(now: number): void {
    for (const [key, p] of this.#pending) {
      if (now - p.created < this.limits.timeoutMs) break;
      this.#drop(key);
      this.stats.timeouts++;
    }
  }

  /** When the oldest datagram times out, or Infinity. */
  nextDeadline(): number {
    const first = this.#pending.values().next();
    return first.done ? Infinity : first.value.created + this.limits.timeoutMs;
  }
}
