/**
 * A lab link: an in-memory wire with two Link ends, an optional wirefilter
 * in the middle, and a switch to cut it (`link A-B down`).
 *
 * Theory of operation. Each end is a Link; what one end is sent comes out
 * of the other. Frames never cross synchronously: `send` copies the frame
 * into a pooled slot and a microtask delivers the batch, so one switch
 * never re-enters another (or itself, around a loop) in the middle of its
 * own forwarding. Slots are reused, so a busy wire allocates nothing per
 * frame once warm; a full queue drops and counts. With impairments, frames
 * go through a WireFilter (its L->R is from end a to end b) and leave from
 * its outputs into the same queue. Impairments can be set, changed and
 * cleared while frames flow. Frames the filter holds (a `rate`, a `delay`)
 * are bounded per direction by the link's `limit` (queueFrames), as tc
 * netem's.
 */
import { BaseLink } from "../link/link.ts";
import { dropsOf } from "../link/wire_link.ts";
import { type DirectionCounters, type ParamName, WireFilter } from "../wirefilter/filter.ts";
import { LR, RL, type WireSetting } from "../wirefilter/value.ts";
import type { Impairments } from "./spec.ts";
import { DEFAULT_RATE_LIMIT } from "./values.ts";
import { NETEM_FRAME_BYTES } from "../wirefilter/netem_values.ts";

/** Frames waiting for delivery per direction before the wire drops. */
const QUEUE_SLOTS = 512;

/** A queue of frame copies in reused buffers. */
class FrameQueue {
  readonly #bufs: Uint8Array[] = [];
  readonly #lens = new Int32Array(QUEUE_SLOTS);
  #count = 0;

  /** Copies `frame` in; false when full. */
  push(frame: Uint8Array): boolean {
    if (this.#count === QUEUE_SLOTS) return false;
    let buf = this.#bufs[this.#count];
    if (buf === undefined || buf.length < frame.length) {
      buf = new Uint8Array(Math.max(frame.length, 2048));
      this.#bufs[this.#count] = buf;
    }
    buf.set(frame);
    this.#lens[this.#count++] = frame.length;
    return true;
  }

  /** Hands every queued frame to `out`, oldest first, and empties the queue. */
  drain(out: (frame: Uint8Array) => void): void {
    // Frames queued while draining (a reply sent from `out`) wait for the next drain.
    const n = this.#count;
    const pending = this.#bufs.splice(0, n);
    const lens = this.#lens.slice(0, n);
    this.#count = 0;
    for (let i = 0; i < n; i++) out(pending[i]!.subarray(0, lens[i]!));
    // Give the buffers back for reuse.
    this.#bufs.push(...pending);
  }

  get length(): number {
    return this.#count;
  }
}

/** One end of a LabWire. */
export class WireEnd extends BaseLink {
  readonly kind = "memory" as const;
  readonly #wire: LabWire;
  readonly #side: 0 | 1;

  constructor(wire: LabWire, side: 0 | 1, description: string) {
    super(description);
    this.#wire = wire;
    this.#side = side;
  }

  /** Implements Link.send: into the wire towards the other end. */
  send(frame: Uint8Array): void {
    if (!this.countOut(frame)) return;
    this.#wire.enter(this.#side, frame);
  }

  /** Hands a frame that crossed the wire to this end's receiver. */
  receive(frame: Uint8Array): void {
    this.deliver(frame);
  }

  protected teardown(): void {
    this.#wire.close();
  }
}

/**
 * The frames a link holds waiting per direction: its `limit`, else netem's
 * default where a `rate` makes frames wait (a 1 Mbit/s link would hold
 * wirefilter's 8 MiB, over a minute of queue), else no bound of its own.
 */
export function queueFrames(i: Impairments): number {
  return i.limit ?? (i.rate ? DEFAULT_RATE_LIMIT : 0);
}

/** Impairments as wirefilter settings. */
function settings(i: Impairments): [ParamName, WireSetting][] {
  const both = [LR, RL] as const;
  const s = (value: number, plus = 0): WireSetting => ({ value, plus, alg: "U", dirs: both, node: 0 });
  const out: [ParamName, WireSetting][] = [
    ["loss", s(i.loss ?? 0)],
    ["delay", s(i.delay ?? 0, i.jitter ?? 0)],
    ["dup", s(i.dup ?? 0)],
    ["band", s(i.rate ?? 0)],
    ["mtu", s(i.mtu ?? 0)],
    ["capacity", s(queueFrames(i) * NETEM_FRAME_BYTES)],
  ];
  return out;
}

/** A two-ended wire with optional impairments. */
export class LabWire {
  readonly a: WireEnd;
  readonly b: WireEnd;
  /** False while the wire is cut: every frame is dropped. */
  up = true;
  /** Frames dropped because the wire was cut or its queue was full. */
  dropped = 0;
  #impair: Impairments = {};
  #filter: WireFilter | null = null;
  readonly #queues = [new FrameQueue(), new FrameQueue()];
  #scheduled = false;
  #closed = false;

  constructor(name: string, impair: Impairments = {}) {
    this.a = new WireEnd(this, 0, `lab link ${name}`);
    this.b = new WireEnd(this, 1, `lab link ${name}`);
    this.impair = impair;
  }

  /** The impairments in force. */
  get impair(): Impairments {
    return { ...this.#impair };
  }

  /** Replaces the impairments; an empty set takes the filter out of the path. */
  set impair(i: Impairments) {
    this.#impair = { ...i };
    const any = Object.values(i).some((v) => v !== undefined && v !== 0);
    if (!any) {
      this.#filter?.close();
      this.#filter = null;
      return;
    }
    if (this.#filter === null) {
      const f = new WireFilter();
      f.outputs[LR] = (frame) => this.#queue(1, frame);
      f.outputs[RL] = (frame) => this.#queue(0, frame);
      this.#filter = f;
    }
    for (const [param, setting] of settings(i)) this.#filter.set(param, setting);
  }

  /** Frames the filter dropped, both directions (loss, mtu, queue). */
  get filterDrops(): number {
    const f = this.#filter;
    if (f === null) return 0;
    return dropsOf(f.counters[LR]) + dropsOf(f.counters[RL]);
  }

  /** The filter's counters by direction (LR: end a to end b), or null while the wire has no impairments. */
  get filterCounters(): readonly [DirectionCounters, DirectionCounters] | null {
    return this.#filter?.counters ?? null;
  }

  /** A frame sent into end `side`. */
  enter(side: 0 | 1, frame: Uint8Array): void {
    if (!this.up || this.#closed) {
      this.dropped++;
      return;
    }
    if (this.#filter !== null) this.#filter.input(side === 0 ? LR : RL, frame);
    else this.#queue(side === 0 ? 1 : 0, frame);
  }

  #queue(to: 0 | 1, frame: Uint8Array): void {
    if (!this.#queues[to]!.push(frame)) {
      this.dropped++;
      return;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) return;
    this.#queues[1]!.drain((f) => this.b.receive(f));
    this.#queues[0]!.drain((f) => this.a.receive(f));
  }

  /** Closes both ends and the filter. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#filter?.close();
    this.a.close("lab link removed");
    this.b.close("lab link removed");
  }
}
