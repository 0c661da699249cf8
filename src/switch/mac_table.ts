/**
 * The switch's MAC learning table: (MAC, VLAN) -> port, with the time each
 * entry was last seen (spec section 6.1).
 *
 * Theory of operation. Entries live in parallel typed arrays forming one
 * open-addressing hash table with linear probing. A slot is empty when its
 * port is -1. Deletion shifts the following entries of the probe run back
 * ("backward-shift"), so there are no tombstones and a lookup stops at the
 * first empty slot. The capacity is a power of two kept at least twice the
 * number of entries, so probe runs stay short; it doubles as the table
 * fills, up to the size needed for `maxEntries`. When `maxEntries` entries
 * exist, new keys are refused: a flood of random source MACs costs a bounded
 * amount of memory and only delays learning of real hosts until aging frees
 * room.
 *
 * A MAC is keyed as two numbers (top 16 bits, low 32 bits) so lookups and
 * learning allocate nothing; only growth allocates, at most a handful of
 * times over the table's life. The hash mixes a seed in, so a switch that
 * picks a random seed makes it hard to aim colliding MACs at it.
 *
 * The slot order has nothing to do with vde_switch's bucket order; for
 * printing `Hash: NNNN` as vde_switch does, use `vdeHashIndex`.
 *
 * Aging walks the slots, not the entries: a pass reads each slot's lastSeen
 * first (an empty slot holds +Infinity there, so an entry not due and an
 * empty slot cost one read and one compare) in one typed-array loop, and
 * skips at once a block of 32 slots that holds no entry (the writer counts
 * entries per block), so a sparse table costs little. A full table is still
 * 131,072 slots for 65,536 entries (0.1 ms), so `expireSome` walks a pass
 * in pieces: at most `maxSlots` slots a call (a skipped block counts as one,
 * a removal as REMOVAL_SLOTS plus the slots its backward shift walked), from
 * a cursor kept between calls; `expire` is one whole pass.
 *
 * A pass starts just after an empty slot E and ends with E itself, its slots
 * numbered 0..capacity-1 from there ("positions"); the cursor is the next
 * position to look at. The table may change between calls. A new entry put
 * behind the cursor is fresh: the next pass looks at it. A refresh or a port
 * move changes no slot. But a deletion (one key, a port's or a VLAN's
 * entries, or the pass's own) shifts entries back, and one moved from at or
 * after the cursor to before it would miss this pass and wait for the next,
 * as many passes in a row as it has slots between it and its home slot. So
 * while a pass is in progress such a move pulls the cursor back to where the
 * entry landed instead: the slots between are looked at again (an entry not
 * due stays; a due one goes once, as a removal takes the slot's occupant at
 * that time), and every entry that is in the table from a pass's first call
 * to its last is looked at during it. An entry with lastSeen + expireSeconds
 * before the `now` of a pass's first call is therefore gone by its last
 * call, and none goes before its time: each look compares with that call's
 * `now`. A shift that wraps from position 0 to the end only moves an entry
 * to be looked at again. Growing (a table not in shared storage) rehashes
 * everything and starts the pass in progress over: at most a dozen times in
 * a table's life.
 *
 * Shared between threads (`shared`), the arrays live in one
 * SharedArrayBuffer at their final capacity (never grown, so the other
 * thread's views never go stale): the data-plane thread's table is the one
 * writer, the main thread's a reader whose mutators do nothing (the control
 * plane forwards them to the writer), so only the writer ages it, and the
 * pass's cursor is the writer's own. A reader may see an entry mid-move
 * while the writer shifts a probe run: a listing can miss or repeat one
 * entry, never crash or loop, since every read is bounded by the capacity.
 */
import { formatMacNumbers } from "../wire/ethernet.ts";

/** Outcomes of `MacTable.learn`; `previousPort` tells the old port for Moved and Kept. */
export const LearnResult = {
  /** The key was not in the table and now is. */
  New: 0,
  /** The key was already on this port; its time was refreshed. */
  Refreshed: 1,
  /** The key was on another port long enough and now points to this one. */
  Moved: 2,
  /** The key is on another port and too recent to move: left untouched. */
  Kept: 3,
  /** The key was not in the table and the table is full: not learned. */
  Full: 4,
} as const;

/** One of the `LearnResult` values. */
export type LearnResult = typeof LearnResult[keyof typeof LearnResult];

/** One entry as `MacTable.entries` yields it. */
export interface MacEntry {
  /** Lower-case colon-separated MAC. */
  mac: string;
  vlan: number;
  port: number;
  /** Seconds, on the clock the entry was learned with. */
  lastSeen: number;
}

/** Settings of a `MacTable`. */
export interface MacTableOptions {
  /** Most entries the table will hold; default 65536. */
  maxEntries?: number;
  /** Mixed into the hash; pass a random 32-bit value to resist collision floods. */
  seed?: number;
  /** Minimum age in seconds before an entry may move to another port; default 3. */
  minPersistenceSeconds?: number;
  /** Storage shared with another thread (from `MacTable.sharedBuffer`), and whether this side writes it. */
  shared?: { buffer: SharedArrayBuffer; writer: boolean };
}

/** Called for every entry a bulk removal deletes. */
export type RemovedEntry = (hi: number, lo: number, vlan: number, port: number) => void;

const EMPTY = -1;
const INITIAL_CAPACITY = 64;
/** Slots per block of `#blocks` (a power of two): an aging pass skips a block without entries at once. */
const BLOCK_SHIFT = 5;
const BLOCK_SLOTS = 1 << BLOCK_SHIFT;
/**
 * What one removal by an aging pass counts against its slot budget, besides the slots its shift
 * walks: about what looking at that many slots costs (a hash per entry shifted, the size written).
 */
const REMOVAL_SLOTS = 16;
/** Bytes one slot takes across the parallel arrays (lastSeen, lo, port, hi, vlan). */
const SLOT_BYTES = 8 + 4 + 4 + 2 + 2;

/**
 * A bounded (MAC, VLAN) -> port table with zero-allocation lookup and learn.
 *
 * @example
 * ```ts
 * import { MacTable, LearnResult } from "./mac_table.ts";
 * const table = new MacTable();
 * if (table.learn(0x0200, 1, 0, 3, 0) !== LearnResult.New) throw new Error("not new");
 * if (table.lookup(0x0200, 1, 0) !== 3) throw new Error("not found");
 * ```
 */
export class MacTable {
  /** Most entries the table holds; learning a new key beyond this is refused. */
  readonly maxEntries: number;
  /** Minimum age in seconds before an entry may move to another port. */
  minPersistenceSeconds: number;
  #seed: number;
  #maxCapacity: number;
  #mask = 0;
  #size = 0;
  #previousPort = -1;
  #previousSeen = -1;
  #hi: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  #lo: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  #vlan: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
  #port: Int32Array<ArrayBufferLike> = new Int32Array(0);
  #lastSeen: Float64Array<ArrayBufferLike> = new Float64Array(0);
  /** In shared storage: the entry count, for the reader; null otherwise. */
  #sizeCell: Int32Array | null = null;
  /** A reader of shared storage: mutators do nothing. */
  readonly #readOnly: boolean;
  /** An aging pass is in progress (`expireSome`). */
  #sweeping = false;
  /** The slot at the pass's position 0: just after a slot that was empty when the pass began. */
  #sweepStart = 0;
  /** The pass's next position to look at, 0..capacity. */
  #sweepPos = 0;
  /**
   * The slot the last `learn` found its key in, and the last lookup's (`#find`): the frames of a
   * burst carry the same source and the same destination, and looking at that slot first skips
   * the hash, a chain of dependent multiplies, for each. Checked, never trusted (`#holds`).
   */
  #learnHint = 0;
  #findHint = 0;
  /** Entries in each block of BLOCK_SLOTS slots: the writer's own count, not shared. */
  #blocks: Uint8Array = new Uint8Array(0);

  /** Bytes of shared storage a table of `maxEntries` needs. */
  static sharedBytes(maxEntries = 65536): number {
    return 8 + nextPowerOfTwo(maxEntries * 2) * SLOT_BYTES;
  }

  /**
   * Shared storage for a table of `maxEntries`, empty from its birth: zeroed memory reads as an
   * entry on port 0 in every slot, and a writer on another thread that marked the slots empty
   * itself raced the readers already listing it (/metrics counted hundreds of phantom entries
   * right after a start). Nothing else ever sees this buffer before it is empty.
   */
  static sharedBuffer(maxEntries = 65536): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer(MacTable.sharedBytes(maxEntries));
    const cap = nextPowerOfTwo(maxEntries * 2);
    new Float64Array(buffer, 8, cap).fill(Infinity);
    new Int32Array(buffer, 8 + cap * 12, cap).fill(EMPTY);
    return buffer;
  }

  /** @throws RangeError if `maxEntries` is not a positive integer, or `shared` is too small */
  constructor(options: MacTableOptions = {}) {
    const maxEntries = options.maxEntries ?? 65536;
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 1 << 24) {
      throw new RangeError(`Expected maxEntries between 1 and ${1 << 24}, found ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
    this.minPersistenceSeconds = options.minPersistenceSeconds ?? 3;
    this.#seed = (options.seed ?? 0) | 0;
    this.#maxCapacity = nextPowerOfTwo(maxEntries * 2);
    this.#readOnly = options.shared !== undefined && !options.shared.writer;
    if (options.shared === undefined) {
      this.#allocate(Math.min(INITIAL_CAPACITY, this.#maxCapacity));
      return;
    }
    const buffer = options.shared.buffer;
    if (buffer.byteLength < MacTable.sharedBytes(maxEntries)) {
      throw new RangeError(`Expected ${MacTable.sharedBytes(maxEntries)} bytes of shared storage`);
    }
    const cap = this.#maxCapacity;
    this.#mask = cap - 1;
    this.#sizeCell = new Int32Array(buffer, 0, 1);
    this.#lastSeen = new Float64Array(buffer, 8, cap);
    this.#lo = new Uint32Array(buffer, 8 + cap * 8, cap);
    this.#port = new Int32Array(buffer, 8 + cap * 12, cap);
    this.#hi = new Uint16Array(buffer, 8 + cap * 16, cap);
    this.#vlan = new Uint16Array(buffer, 8 + cap * 18, cap);
    // Not cleared here: readers may already list it (`sharedBuffer` makes it empty).
    this.#size = this.#sizeCell[0]!;
    if (this.#readOnly) return;
    this.#blocks = new Uint8Array(blockCount(cap));
    for (let slot = 0; slot < cap; slot++) {
      if (this.#port[slot] !== EMPTY) this.#blocks[slot >> BLOCK_SHIFT]!++;
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.#sizeCell === null ? this.#size : this.#sizeCell[0]!;
  }

  #setSize(size: number): void {
    this.#size = size;
    if (this.#sizeCell !== null) this.#sizeCell[0] = size;
  }

  /** Number of slots currently allocated (a power of two). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /**
   * The port the key was on before the last `learn` call: the old port for
   * Moved and Kept, the same port for Refreshed, -1 for New and Full.
   */
  get previousPort(): number {
    return this.#previousPort;
  }

  /** When the key was last seen before the last `learn` call, for Moved and Kept only (else stale). */
  get previousSeen(): number {
    return this.#previousSeen;
  }

  /**
   * Finds the port of a (MAC, VLAN) key.
   *
   * @returns the port, or -1 if the key is not in the table
   */
  lookup(hi: number, lo: number, vlan: number): number {
    const slot = this.#find(hi, lo, vlan);
    return slot < 0 ? -1 : this.#port[slot]!;
  }

  /**
   * Tells when a key was last seen.
   *
   * @returns seconds, or -1 if the key is not in the table
   */
  lastSeen(hi: number, lo: number, vlan: number): number {
    const slot = this.#find(hi, lo, vlan);
    return slot < 0 ? -1 : this.#lastSeen[slot]!;
  }

  /**
   * Records that a key was seen on `port` at time `now` (seconds). A key
   * already on another port moves only if it was last seen more than
   * `minPersistenceSeconds` ago; otherwise it keeps its port and time, so a
   * host answering on two ports at once cannot make the entry flap.
   *
   * @returns what happened; `previousPort` then tells the old port
   */
  learn(hi: number, lo: number, vlan: number, port: number, now: number): LearnResult {
    if (this.#readOnly) return LearnResult.Full;
    let slot = this.#learnHint;
    if (!this.#holds(slot, hi, lo, vlan)) {
      slot = this.#probe(hi, lo, vlan);
      if (this.#port[slot] === EMPTY) return this.#learnNew(slot, hi, lo, vlan, port, now);
      this.#learnHint = slot;
    }
    const old = this.#port[slot]!;
    this.#previousPort = old;
    if (old === port) {
      this.#lastSeen[slot] = now;
      return LearnResult.Refreshed;
    }
    // The rare branches: only they keep the entry's time before this call, for the loop detector.
    const seen = this.#lastSeen[slot]!;
    this.#previousSeen = seen;
    if (now - seen > this.minPersistenceSeconds) {
      this.#port[slot] = port;
      this.#lastSeen[slot] = now;
      return LearnResult.Moved;
    }
    return LearnResult.Kept;
  }

  /** A key that is not in the table, into the empty slot `slot` where its probe ended (if there is room). */
  #learnNew(slot: number, hi: number, lo: number, vlan: number, port: number, now: number): LearnResult {
    this.#previousPort = -1;
    if (this.#size >= this.maxEntries) return LearnResult.Full;
    if ((this.#size + 1) * 2 > this.#mask + 1) {
      this.#grow();
      slot = this.#emptySlotFor(hi, lo, vlan);
    }
    this.#put(slot, hi, lo, vlan, port, now);
    this.#blocks[slot >> BLOCK_SHIFT]!++;
    this.#setSize(this.#size + 1);
    return LearnResult.New;
  }

  /**
   * Removes one key.
   *
   * @returns true if it was in the table
   */
  delete(hi: number, lo: number, vlan: number): boolean {
    const slot = this.#readOnly ? -1 : this.#find(hi, lo, vlan);
    if (slot < 0) return false;
    this.#removeAt(slot);
    return true;
  }

  /**
   * Removes every entry on `port` (the port went inactive or changed VLAN).
   *
   * @param onRemoved told about each removed entry
   * @returns how many entries were removed
   */
  deletePort(port: number, onRemoved?: RemovedEntry): number {
    return this.deleteMatching(port, -1, onRemoved);
  }

  /**
   * Removes every entry in `vlan` (a spanning-tree topology change).
   *
   * @returns how many entries were removed
   */
  deleteVlan(vlan: number, onRemoved?: RemovedEntry): number {
    return this.deleteMatching(-1, vlan, onRemoved);
  }

  /**
   * Removes every entry on `port` in `vlan`, -1 standing for any port or any
   * VLAN (both -1: the whole table), telling `onRemoved` of each, as
   * `bridge fdb flush` does.
   *
   * @returns how many entries were removed
   */
  deleteMatching(port: number, vlan: number, onRemoved?: RemovedEntry): number {
    return this.#removeWhere(
      (slot) => (port < 0 || this.#port[slot] === port) && (vlan < 0 || this.#vlan[slot] === vlan),
      onRemoved,
    );
  }

  /**
   * Ages the table in one full pass: removes entries with `lastSeen + expireSeconds < now`. A pass
   * `expireSome` had in progress is replaced by this one.
   *
   * @param now current time, seconds
   * @param expireSeconds entry lifetime, seconds
   * @param onRemoved told about each removed entry
   * @returns how many entries were removed
   */
  expire(now: number, expireSeconds: number, onRemoved?: RemovedEntry): number {
    this.#sweeping = false;
    return this.expireSome(now, expireSeconds, Infinity, onRemoved);
  }

  /**
   * Ages part of the table: continues the pass in progress, or starts one, and looks at up to
   * `maxSlots` slots of it (a removal counts the slots its backward shift touched), removing entries
   * with `lastSeen + expireSeconds < now`. Repeated until `sweeping` is false, it removes every entry
   * that was due at its first call and was not refreshed meanwhile, however the table changed
   * between calls (the file's theory).
   *
   * @param now current time, seconds
   * @param expireSeconds entry lifetime, seconds
   * @param maxSlots most slots to look at in this call (at least 1)
   * @param onRemoved told about each removed entry
   * @returns how many entries were removed
   */
  expireSome(now: number, expireSeconds: number, maxSlots: number, onRemoved?: RemovedEntry): number {
    if (this.#readOnly) return 0;
    if (!this.#sweeping) {
      if (this.#size === 0) return 0;
      this.#beginSweep();
    }
    const mask = this.#mask;
    const lastSeen = this.#lastSeen, port = this.#port, blocks = this.#blocks;
    const start = this.#sweepStart;
    const budget = Math.max(1, maxSlots);
    let pos = this.#sweepPos;
    let removed = 0;
    let walked = 0;
    while (pos <= mask && walked < budget) {
      // The rest of this slot's block, or of the pass.
      const first = (start + pos) & mask;
      const blockEnd = Math.min(mask + 1, pos + BLOCK_SLOTS - (first & (BLOCK_SLOTS - 1)));
      if (blocks[first >> BLOCK_SHIFT] === 0) {
        pos = blockEnd;
        walked++;
        continue;
      }
      const from = pos;
      const stop = Math.min(blockEnd, pos + (budget - walked));
      // An empty slot holds +Infinity: an entry not due and an empty slot both stop at this test.
      while (pos < stop && !(lastSeen[(start + pos) & mask]! + expireSeconds < now)) pos++;
      walked += pos - from;
      if (pos === stop) continue;
      const slot = (start + pos) & mask;
      if (port[slot] === EMPTY) { // a slot emptied before +Infinity marked empty slots
        pos++;
        walked++;
        continue;
      }
      onRemoved?.(this.#hi[slot]!, this.#lo[slot]!, this.#vlan[slot]!, port[slot]!);
      // The slot is looked at again (an entry may have shifted into it); the shift may pull the
      // cursor back.
      this.#sweepPos = pos;
      walked += REMOVAL_SLOTS + this.#removeAt(slot);
      pos = this.#sweepPos;
      removed++;
    }
    this.#sweepPos = pos;
    if (pos > mask) this.#sweeping = false;
    return removed;
  }

  /** A pass that `expireSome` started has slots left to look at. */
  get sweeping(): boolean {
    return this.#sweeping;
  }

  /** How far the pass in progress is: the next position it looks at, 0..`slots`. */
  get sweepPosition(): number {
    return this.#sweepPos;
  }

  /** Removes every entry; keeps the allocated capacity. */
  clear(): void {
    if (this.#readOnly) return;
    this.#port.fill(EMPTY);
    this.#lastSeen.fill(Infinity);
    this.#blocks.fill(0);
    this.#setSize(0);
  }

  /**
   * Yields every entry, in slot order, for printing. Do not change the table
   * while iterating.
   */
  *entries(): IterableIterator<MacEntry> {
    for (let slot = 0; slot <= this.#mask; slot++) {
      const port = this.#port[slot]!;
      const lastSeen = this.#lastSeen[slot]!;
      // +Infinity: the writer emptied the slot after its port was read.
      if (port === EMPTY || lastSeen === Infinity) continue;
      yield {
        mac: formatMacNumbers(this.#hi[slot]!, this.#lo[slot]!),
        vlan: this.#vlan[slot]!,
        port,
        lastSeen,
      };
    }
  }

  /** The number of slots, the range `forEachEntry` walks. */
  get slots(): number {
    return this.#mask + 1;
  }

  /**
   * Calls `fn` for every entry, in slot order, with the key as numbers: what
   * a big listing reads, without a string or an object per entry; only the
   * slots from `from` up to (not including) `to` when given, so a reader can
   * walk the table in pieces. Do not change the table from `fn`.
   */
  forEachEntry(
    fn: (hi: number, lo: number, vlan: number, port: number, lastSeen: number) => void,
    from: number = 0,
    to: number = this.#mask + 1,
  ): void {
    const end = Math.min(to, this.#mask + 1);
    for (let slot = Math.max(0, from); slot < end; slot++) {
      const port = this.#port[slot]!;
      const lastSeen = this.#lastSeen[slot]!;
      // +Infinity: the writer emptied the slot after its port was read.
      if (port !== EMPTY && lastSeen !== Infinity) {
        fn(this.#hi[slot]!, this.#lo[slot]!, this.#vlan[slot]!, port, lastSeen);
      }
    }
  }

  // A murmur3-style finaliser over the three key parts: cheap, no
  // allocation, and every input bit reaches the low bits that index slots.
  #hash(hi: number, lo: number, vlan: number): number {
    let h = Math.imul(lo ^ this.#seed, 0xcc9e2d51);
    h = (h << 15) | (h >>> 17);
    h ^= Math.imul(hi | (vlan << 16), 0x1b873593);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h;
  }

  #find(hi: number, lo: number, vlan: number): number {
    if (this.#holds(this.#findHint, hi, lo, vlan)) return this.#findHint;
    const slot = this.#probe(hi, lo, vlan);
    if (this.#port[slot] === EMPTY) return -1;
    this.#findHint = slot;
    return slot;
  }

  /** The slot that holds the key, or the empty slot its probe run ends at. */
  #probe(hi: number, lo: number, vlan: number): number {
    const mask = this.#mask;
    let slot = this.#hash(hi, lo, vlan) & mask;
    while (this.#port[slot] !== EMPTY && !this.#holds(slot, hi, lo, vlan)) slot = (slot + 1) & mask;
    return slot;
  }

  /**
   * Whether `slot` holds the key. A key is in one slot at most, so a slot that holds it is its
   * entry, wherever it was found before: the hints need no invalidation when entries move or go.
   * The low halves are compared as signed 32-bit numbers (the same bits): an element of the
   * Uint32Array against a key of unknown range was compared as doubles on the forwarding path.
   */
  #holds(slot: number, hi: number, lo: number, vlan: number): boolean {
    return slot <= this.#mask && this.#port[slot] !== EMPTY && (this.#lo[slot]! | 0) === (lo | 0) &&
      this.#hi[slot] === hi &&
      this.#vlan[slot] === vlan;
  }

  #emptySlotFor(hi: number, lo: number, vlan: number): number {
    const mask = this.#mask;
    let slot = this.#hash(hi, lo, vlan) & mask;
    while (this.#port[slot] !== EMPTY) slot = (slot + 1) & mask;
    return slot;
  }

  // The port last: a reader that finds it set finds the rest of the entry (lastSeen of an empty slot
  // is +Infinity, not a time).
  #put(slot: number, hi: number, lo: number, vlan: number, port: number, lastSeen: number): void {
    this.#hi[slot] = hi;
    this.#lo[slot] = lo;
    this.#vlan[slot] = vlan;
    this.#lastSeen[slot] = lastSeen;
    this.#port[slot] = port;
  }

  // Starts a pass just after an empty slot, looked for from the last pass's start so successive
  // passes do not all begin at the front. The table is never more than half full: there is one.
  #beginSweep(): void {
    const mask = this.#mask;
    let empty = (this.#sweepStart - 1) & mask;
    while (this.#port[empty] !== EMPTY) empty = (empty + 1) & mask;
    this.#sweepStart = (empty + 1) & mask;
    this.#sweepPos = 0;
    this.#sweeping = true;
  }

  #allocate(capacity: number): void {
    this.#mask = capacity - 1;
    this.#hi = new Uint16Array(capacity);
    this.#lo = new Uint32Array(capacity);
    this.#vlan = new Uint16Array(capacity);
    this.#port = new Int32Array(capacity).fill(EMPTY);
    this.#lastSeen = new Float64Array(capacity).fill(Infinity);
    this.#blocks = new Uint8Array(blockCount(capacity));
  }

  #grow(): void {
    const hi = this.#hi, lo = this.#lo, vlan = this.#vlan, port = this.#port, lastSeen = this.#lastSeen;
    this.#allocate(Math.min(port.length * 2, this.#maxCapacity));
    for (let slot = 0; slot < port.length; slot++) {
      if (port[slot] === EMPTY) continue;
      const to = this.#emptySlotFor(hi[slot]!, lo[slot]!, vlan[slot]!);
      this.#put(to, hi[slot]!, lo[slot]!, vlan[slot]!, port[slot]!, lastSeen[slot]!);
      this.#blocks[to >> BLOCK_SHIFT]!++;
    }
    // Every entry moved: a pass in progress starts over on the new slots.
    if (this.#sweeping) this.#beginSweep();
  }

  // Backward-shift deletion: walk the probe run after the hole and move back
  // every entry whose home slot does not lie cyclically in (hole, here], so
  // each remaining entry stays reachable from its home without tombstones.
  // An entry that moves from at or after an aging pass's cursor to before it
  // pulls the cursor back to it (the file's theory). Returns the slots walked.
  #removeAt(slot: number): number {
    const mask = this.#mask;
    const blocks = this.#blocks;
    blocks[slot >> BLOCK_SHIFT]!--;
    let hole = slot;
    let here = slot;
    for (;;) {
      here = (here + 1) & mask;
      if (this.#port[here] === EMPTY) break;
      const home = this.#hash(this.#hi[here]!, this.#lo[here]!, this.#vlan[here]!) & mask;
      const stays = hole <= here ? hole < home && home <= here : hole < home || home <= here;
      if (stays) continue;
      if (this.#sweeping) {
        const to = (hole - this.#sweepStart) & mask;
        if (to < this.#sweepPos && ((here - this.#sweepStart) & mask) >= this.#sweepPos) this.#sweepPos = to;
      }
      this.#put(
        hole,
        this.#hi[here]!,
        this.#lo[here]!,
        this.#vlan[here]!,
        this.#port[here]!,
        this.#lastSeen[here]!,
      );
      blocks[hole >> BLOCK_SHIFT]!++;
      blocks[here >> BLOCK_SHIFT]!--;
      hole = here;
    }
    this.#port[hole] = EMPTY;
    this.#lastSeen[hole] = Infinity;
    this.#setSize(this.#size - 1);
    return ((here - slot) & mask) + 1;
  }

  // Scans from just after an empty slot, so no probe run wraps past the scan
  // start: every backward shift then lands on the slot being examined or on
  // one not yet reached or already kept, and no entry is skipped.
  #removeWhere(matches: (slot: number) => boolean, onRemoved?: RemovedEntry): number {
    if (this.#size === 0 || this.#readOnly) return 0;
    const mask = this.#mask;
    let start = 0;
    while (this.#port[start] !== EMPTY) start++;
    let removed = 0;
    let slot = (start + 1) & mask;
    for (let seen = 0; seen < mask;) {
      if (this.#port[slot] !== EMPTY && matches(slot)) {
        onRemoved?.(this.#hi[slot]!, this.#lo[slot]!, this.#vlan[slot]!, this.#port[slot]!);
        this.#removeAt(slot);
        removed++;
        continue; // another entry may have shifted into this slot
      }
      slot = (slot + 1) & mask;
      seen++;
    }
    return removed;
  }
}

/** Blocks of BLOCK_SLOTS covering `capacity` slots (one for a table smaller than a block). */
function blockCount(capacity: number): number {
  return (capacity + BLOCK_SLOTS - 1) >> BLOCK_SHIFT;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

const MASK64 = (1n << 64n) - 1n;

/**
 * The bucket index vde_switch shows as `Hash: NNNN` in hash/print (spec
 * section 6.1): the 64-bit key `mac[0] | mac[1]<<8 | ... | mac[5]<<40 |
 * vlan<<48` through a murmur3 64-bit finaliser, masked to the bucket count.
 * For display only; it uses BigInt.
 *
 * @param mac the six MAC bytes
 * @param vlan VLAN id, 0..4095
 * @param buckets bucket count, a power of two (vde_switch's default is 128)
 * @returns the bucket index, 0..buckets-1
 * @throws RangeError if `mac` is shorter than six bytes or `buckets` is not a power of two
 * @example
 * ```ts
 * import { vdeHashIndex } from "./mac_table.ts";
 * if (vdeHashIndex(new Uint8Array([2, 0, 0, 0, 0, 1]), 0, 128) !== 43) throw new Error("bad hash");
 * ```
 */
export function vdeHashIndex(mac: Uint8Array, vlan: number, buckets: number): number {
  if (mac.length < 6) throw new RangeError(`Expected a 6-byte MAC, found ${mac.length} bytes`);
  if (!Number.isInteger(buckets) || buckets < 1 || (buckets & (buckets - 1)) !== 0) {
    throw new RangeError(`Expected a power-of-two bucket count, found ${buckets}`);
  }
  let k = 0n;
  for (let i = 0; i < 6; i++) k |= BigInt(mac[i]!) << BigInt(8 * i);
  k |= BigInt(vlan & 0xffff) << 48n;
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  return Number(k & BigInt(buckets - 1));
}
