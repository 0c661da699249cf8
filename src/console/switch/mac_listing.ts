/**
 * `hash/print` of a big MAC table as bytes, cheaply: the listing a full table
 * (65,536 entries) gives must not hold the main thread, which also serves
 * the control plane and the links that live on it.
 *
 * Theory of operation. The table is read once into typed arrays (numbers
 * only, no string or object per entry), each entry's vde_switch bucket is
 * computed, and the entries are put in vde_switch's order (bucket, then MAC,
 * then VLAN) by a radix sort (stable counting passes, no comparison
 * callback). The lines are then written as ASCII straight into 64 KiB
 * chunks with a precomputed hex table, and handed over as those chunks,
 * each as soon as it is full: the management socket writes the listing's
 * header at once and each chunk as it comes, so a client that waits a
 * second between reads (Debian's `unixcmd`) never waits for the whole
 * listing, and a client that left stops it at the next chunk (the consumer
 * stops asking). The bytes are those of `formatHashLine`, which stays the
 * statement of the format (tests compare the two).
 *
 * Every phase is paced (`Pacer`): every quarter of a millisecond of work
 * the thread offers its core (`sched_yield`: whoever waits for this core
 * runs first, at once; nobody waiting costs a microsecond), and about every
 * millisecond it serves the event loop. A listing of 65,536 entries takes
 * about 25 ms of CPU; a thread that runs without a pause is preempted by a
 * thread that wakes on its core only once its scheduler slice is over (up to
 * a timer tick, 4 ms at HZ=250), and on two cores the switch thread, the
 * plugs and the guests' stacks a ping crosses waited that long behind it.
 * Sleeping between bursts instead cost 1.5-1.8x the CPU per listing
 * (measured: each wake-up from a timer costs the thread a few hundred µs
 * on a busy machine).
 */
import type { ConsoleContext } from "./context.ts";
import { vdeBucketOf } from "../../switch/vde_bucket.ts";
import { libc } from "../../../ffi/libc.ts";

/** Listing work between two offers of the core, in ms. */
const BURST_MS = 0.25;
/** Listing work between two turns of the event loop, in ms. */
const SLICE_MS = 1;
/** Lines (or table slots) handled between two looks at the clock. */
const CHECK_EVERY = 256;
/** Size of one output chunk: the management socket writes one per call. */
const CHUNK_BYTES = 64 * 1024;
/** More than the longest line can take (7-digit bucket, 10-digit port and age). */
const MAX_LINE_BYTES = 128;

// "00".."ff" as two ASCII codes each.
const HEX = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const s = i.toString(16).padStart(2, "0");
  HEX[i * 2] = s.charCodeAt(0);
  HEX[i * 2 + 1] = s.charCodeAt(1);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HASH = ascii("Hash: ");
const ADDR = ascii(" Addr: ");
const VLAN = ascii(" VLAN ");
const TO_PORT = ascii(" to port: ");
const AGE = ascii("  age ");
const SECS = ascii(" secs\n");

/** The MAC table's entries in vde_switch's order, as parallel arrays. */
interface SortedEntries {
  count: number;
  order: Uint32Array;
  bucket: Uint32Array;
  hi: Uint16Array;
  lo: Uint32Array;
  vlan: Uint16Array;
  port: Int32Array;
  age: Int32Array;
}

/** The `hash/print` lines of the switch's MAC table, as ASCII chunks, each given once it is full. */
export async function* hashPrintChunks(
  ctx: ConsoleContext,
  offerCore = yieldCore,
): AsyncGenerator<Uint8Array> {
  const pacer = new Pacer(offerCore);
  const e = await sortedEntries(ctx, pacer);
  let buf = new Uint8Array(CHUNK_BYTES);
  let at = 0;
  for (let i = 0; i < e.count; i++) {
    if (at + MAX_LINE_BYTES > buf.length) {
      yield buf.subarray(0, at);
      buf = new Uint8Array(CHUNK_BYTES);
      at = 0;
    }
    const k = e.order[i]!;
    at = put(buf, at, HASH);
    at = putDecimal(buf, at, e.bucket[k]!, 4);
    at = put(buf, at, ADDR);
    at = putMac(buf, at, e.hi[k]!, e.lo[k]!);
    at = put(buf, at, VLAN);
    at = putDecimal(buf, at, e.vlan[k]!, 4);
    at = put(buf, at, TO_PORT);
    at = putDecimal(buf, at, e.port[k]!, 3);
    at = put(buf, at, AGE);
    at = putDecimal(buf, at, e.age[k]!, 1);
    at = put(buf, at, SECS);
    if ((i + 1) % CHECK_EVERY === 0) await pacer.check();
  }
  if (at > 0) yield buf.subarray(0, at);
}

/** Lets a thread that waits for this core run first (`sched_yield`); returns at once if none does. */
function yieldCore(): void {
  libc().sched_yield();
}

/** Paces a listing: `check` every CHECK_EVERY units of work. */
class Pacer {
  readonly #offerCore: () => void;
  #burst = performance.now();
  #slice = this.#burst;

  constructor(offerCore: () => void) {
    this.#offerCore = offerCore;
  }

  /** Offers the core after BURST_MS of work, serves the event loop after SLICE_MS; at once otherwise. */
  async check(): Promise<void> {
    const now = performance.now();
    if (now - this.#burst < BURST_MS) return;
    this.#offerCore();
    this.#burst = performance.now();
    if (now - this.#slice < SLICE_MS) return;
    await new Promise((r) => setTimeout(r, 0));
    this.#slice = this.#burst = performance.now();
  }
}

async function sortedEntries(ctx: ConsoleContext, pacer: Pacer): Promise<SortedEntries> {
  const table = ctx.sw.engine.macTable;
  // Room for entries learnt while this runs; any beyond that wait for the next listing.
  const cap = table.size + 256;
  const hi = new Uint16Array(cap), lo = new Uint32Array(cap), vlan = new Uint16Array(cap);
  const port = new Int32Array(cap), age = new Int32Array(cap), bucket = new Uint32Array(cap);
  const buckets = ctx.hashBuckets;
  const now = Math.floor(ctx.nowSeconds());
  let n = 0;
  // The table may be written by the data-plane thread meanwhile: never read past what was sized.
  const take = (h: number, l: number, v: number, p: number, seen: number) => {
    if (n >= cap) return;
    hi[n] = h;
    lo[n] = l;
    vlan[n] = v;
    port[n] = p;
    // Clamped to int32 so the decimal writer can divide with `| 0`.
    age[n] = Math.min(0x7fffffff, Math.max(0, now - Math.floor(seen)));
    bucket[n] = vdeBucketOf(h, l, v, buckets);
    n++;
  };
  // In pieces, so the walk can pause: a table on this thread that grows meanwhile may show an
  // entry twice or not at all in this listing, as one the data-plane thread moves may.
  for (let from = 0; from < table.slots; from += CHECK_EVERY * 16) {
    table.forEachEntry(take, from, from + CHECK_EVERY * 16);
    await pacer.check();
  }
  // vde_switch's order (bucket, MAC, VLAN) by stable counting passes from
  // the least significant field up: no comparison callback, a few ms at most.
  let order = new Uint32Array(n), spare = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const counts = new Uint32Array(Math.max(0x10000, buckets) + 1);
  const passes: [Uint16Array | Uint32Array, number, number][] = [
    [vlan, 0, 0x1000],
    [lo, 0, 0x10000],
    [lo, 16, 0x10000],
    [hi, 0, 0x10000],
    [bucket, 0, buckets],
  ];
  for (const [key, shift, radix] of passes) {
    countingPass(order, spare, n, key, shift, radix, counts);
    [order, spare] = [spare, order];
    await pacer.check();
  }
  return { count: n, order, bucket, hi, lo, vlan, port, age };
}

/** Stably sorts `order[0..n)` by `(key[i] >>> shift) & (radix - 1)` into `out`. */
function countingPass(
  order: Uint32Array,
  out: Uint32Array,
  n: number,
  key: Uint16Array | Uint32Array,
  shift: number,
  radix: number,
  counts: Uint32Array,
): void {
  const mask = radix - 1;
  counts.fill(0, 0, radix + 1);
  for (let i = 0; i < n; i++) counts[((key[order[i]!]! >>> shift) & mask) + 1]!++;
  for (let d = 0; d < radix; d++) counts[d + 1]! += counts[d]!;
  for (let i = 0; i < n; i++) {
    const k = order[i]!;
    out[counts[(key[k]! >>> shift) & mask]!++] = k;
  }
}

// A byte loop: `set` costs more than it copies for a few bytes.
function put(buf: Uint8Array, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[at + i] = bytes[i]!;
  return at + bytes.length;
}

function putMac(buf: Uint8Array, at: number, hi: number, lo: number): number {
  at = putHex(buf, at, hi >>> 8);
  buf[at++] = 0x3a;
  at = putHex(buf, at, hi & 0xff);
  for (let shift = 24; shift >= 0; shift -= 8) {
    buf[at++] = 0x3a;
    at = putHex(buf, at, (lo >>> shift) & 0xff);
  }
  return at;
}

function putHex(buf: Uint8Array, at: number, byte: number): number {
  buf[at] = HEX[byte * 2]!;
  buf[at + 1] = HEX[byte * 2 + 1]!;
  return at + 2;
}

/** A non-negative integer, zero-padded to `width` digits, as `padStart` does. */
function putDecimal(buf: Uint8Array, at: number, n: number, width: number): number {
  // Every field is below 2^31 (bucket < 2^20, VLAN < 4096, port and age int32), so `| 0` divides exactly.
  let digits = 1;
  for (let x = n; x >= 10; x = (x / 10) | 0) digits++;
  const end = at + (digits > width ? digits : width);
  let pos = end;
  for (let x = n; pos > at; x = (x / 10) | 0) buf[--pos] = 0x30 + (x % 10);
  return end;
}
