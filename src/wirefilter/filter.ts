/**
 * The wirefilter model: what happens to each frame on an impaired wire,
 * in each direction, with vde2 wirefilter's parameters (spec 7.2).
 *
 * Theory of operation. A frame entering direction d (`input`) goes
 * through, in order:
 * 1. the interface (`speed`): while the previous frames are still being
 *    "transmitted" the input is blocked, so the frame waits in a bounded
 *    input FIFO (wirefilter leaves it in the kernel's buffers instead);
 * 2. MTU: frames longer than the MTU are dropped;
 * 3. loss: independent (Bernoulli) or, with `lostburst`, the Gilbert
 *    two-state model (enter the bad state with p = loss/(burst(1-loss)),
 *    leave it with p = 1/burst, every frame lost while bad);
 * 4. duplication: each further copy with probability `dup`, repeatedly;
 * 5. for every copy: the channel buffer (`capacity`: drop when the bytes
 *    already waiting plus this frame exceed it), the interface time
 *    (`speed`), the bottleneck (`band`: copies leave one after the other
 *    at that rate), the extra `delay` with its jitter; in FIFO mode (the
 *    default) a copy is never due before one queued earlier;
 * 6. at output, `noise` flips random bits (each further flip with the same
 *    probability, noise x size / 2^20).
 * As in wirefilter every size counts the 2-byte stream length prefix: a
 * 998-byte frame is 1000 bytes for MTU, capacity, band and speed.
 *
 * Time: frames that are not due yet wait in one time-ordered heap shared
 * by both directions (copies in pooled buffers), and one timer on the
 * Clock is armed for the earliest thing due (a queued frame, a blocked
 * input, a Markov transition). Frames due now leave synchronously, so a
 * filter without delays adds no latency and no copy. Queued bytes are
 * bounded per direction by `capacity` when set and always by
 * `maxQueueBytes`; blocked input by `maxInputBytes`.
 *
 * Markov mode (`markov-numnodes N`): N parameter sets; every `markov-time`
 * ms the current node moves along weighted edges (percent; a node's
 * self-edge is 100 minus its other edges). Values without `[n]` set node 0.
 *
 * Randomness comes from seeded generators, one per direction and one for
 * Markov transitions, so with a seed each direction's choices depend only
 * on its own frames.
 */
import { type Clock, realClock, type TimerId } from "./clock.ts";
import { EntryPool, FrameFifo, type QueuedFrame, TimedQueue } from "./queue.ts";
import { type Random, randomSeed, Xoshiro128 } from "./prng.ts";
import { type Dir, LR, RL, type WireSetting, type WireValue } from "./value.ts";

/** The parameters, in `showinfo` order. */
export const PARAMS = [
  "loss",
  "lostburst",
  "delay",
  "dup",
  "band",
  "speed",
  "noise",
  "mtu",
  "capacity",
] as const;

/** A parameter's name. */
export type ParamName = typeof PARAMS[number];

const P_LOSS = 0;
const P_BURST = 1;
const P_DELAY = 2;
const P_DUP = 3;
const P_BAND = 4;
const P_SPEED = 5;
const P_NOISE = 6;
const P_MTU = 7;
const P_CAP = 8;
const NP = PARAMS.length;
const PARAM_INDEX: Record<ParamName, number> = Object.fromEntries(PARAMS.map((p, i) => [p, i])) as Record<
  ParamName,
  number
>;

/** Bytes of the stream length prefix that wirefilter counts in every size. */
export const SIZE_OVERHEAD = 2;
/** Most copies `dup` makes of one frame (wirefilter has no bound: dup 100 would never end). */
export const MAX_COPIES = 64;
/** Default bound of the bytes waiting in the delay queue, per direction. */
export const DEFAULT_MAX_QUEUE_BYTES = 8 << 20;
/** Default bound of the bytes waiting for a busy interface (`speed`), per direction. */
export const DEFAULT_MAX_INPUT_BYTES = 256 << 10;
/** Default Markov transition period, ms. */
export const DEFAULT_MARKOV_TIME = 100;
/** Most Markov nodes. */
export const MAX_NODES = 1024;

/** What the filter did in one direction. */
export interface DirectionCounters {
  /** Frames and bytes that entered. */
  framesIn: number;
  bytesIn: number;
  /** Frames and bytes that left (copies included). */
  framesOut: number;
  bytesOut: number;
  /** Dropped for being longer than the MTU. */
  mtuDrops: number;
  /** Dropped by independent loss. */
  lossDrops: number;
  /** Dropped in a Gilbert loss burst. */
  burstDrops: number;
  /** Extra copies made by `dup`. */
  dupCopies: number;
  /** Dropped because the channel buffer (`capacity`) was full. */
  capacityDrops: number;
  /** Dropped because the delay queue hit its hard bound (`maxQueueBytes`). */
  overflowDrops: number;
  /** Dropped because the input buffer of a busy interface (`speed`) was full. */
  inputDrops: number;
  /** Dropped because `band` or `speed` drew a rate of zero or less. */
  rateDrops: number;
  /** Copies that waited in the delay queue. */
  delayed: number;
  /** Frames that left after a frame that entered later. */
  reordered: number;
  /** Frames damaged by noise, and the bits flipped. */
  noiseFrames: number;
  noiseBits: number;
  /** Frames still queued when the filter closed. */
  closeDrops: number;
}

function newCounters(): DirectionCounters {
  return {
    framesIn: 0,
    bytesIn: 0,
    framesOut: 0,
    bytesOut: 0,
    mtuDrops: 0,
    lossDrops: 0,
    burstDrops: 0,
    dupCopies: 0,
    capacityDrops: 0,
    overflowDrops: 0,
    inputDrops: 0,
    rateDrops: 0,
    delayed: 0,
    reordered: 0,
    noiseFrames: 0,
    noiseBits: 0,
    closeDrops: 0,
  };
}

/** Settings of a WireFilter. */
export interface WireFilterOptions {
  /** Time source; default the real clock. */
  clock?: Clock;
  /** Seed of every random choice; default a random one (see `seed`). */
  seed?: number;
  /** Bound of the delay queue per direction, bytes; default 8 MiB. */
  maxQueueBytes?: number;
  /** Bound of the frames waiting for a busy interface per direction, bytes; default 256 KiB. */
  maxInputBytes?: number;
  /**
   * Frames due within this many ms of a timer firing leave with it, so a
   * fast stream of frames costs a timer per slack period, not per frame.
   * Default 1 ms; 0 for exact timing under a fake clock.
   */
  slackMs?: number;
  /** Told every Markov transition (for `markov-debug`). */
  onMarkov?: (from: number, to: number) => void;
}

/** Outcome of changing a setting. */
export type SetResult = "ok" | "bad-node";

/** Receives frames leaving one direction; the view is valid only during the call. */
export type Output = (frame: Uint8Array) => void;

const nothing: Output = () => {};
const DIRS: readonly Dir[] = [LR, RL];

/**
 * WireFilter applies wirefilter's impairments to frames in two directions.
 *
 * @example
 * ```ts
 * import { WireFilter } from "./filter.ts";
 * import { FakeClock } from "./clock.ts";
 * import { LR, parseWireValue, type WireSetting } from "./value.ts";
 * const clock = new FakeClock();
 * const f = new WireFilter({ clock, seed: 1, slackMs: 0 });
 * const seen: number[] = [];
 * f.outputs[LR] = () => seen.push(clock.now());
 * f.set("delay", parseWireValue("50") as WireSetting);
 * f.input(LR, new Uint8Array(60));
 * clock.advance(50);
 * // seen is [50]
 * ```
 */
export class WireFilter {
  /** Where frames leave, per direction: [LR, RL]. */
  readonly outputs: [Output, Output] = [nothing, nothing];
  /** What happened, per direction: [LR, RL]. */
  readonly counters: [DirectionCounters, DirectionCounters] = [newCounters(), newCounters()];
  /** The seed in use (given or drawn), so a run can be repeated. */
  readonly seed: number;
  /** Told every Markov transition. */
  onMarkov: ((from: number, to: number) => void) | undefined;
  /** Told every frame that leaves, with its direction and length (for `--blink`). */
  onEmit: ((dir: Dir, length: number) => void) | undefined;

  readonly #clock: Clock;
  readonly #rng: [Random, Random];
  readonly #markovRng: Random;
  readonly #maxQueueBytes: number;
  readonly #maxInputBytes: number;
  readonly #slack: number;
  readonly #pool = new EntryPool();
  readonly #heap = new TimedQueue();
  readonly #input: [FrameFifo, FrameFifo] = [new FrameFifo(), new FrameFifo()];
  readonly #scratch: [Uint8Array, Uint8Array] = [new Uint8Array(2048), new Uint8Array(2048)];

  // Parameters: index ((node * NP) + param) * 2 + dir.
  #values = new Float64Array(NP * 2);
  #plus = new Float64Array(NP * 2);
  #normal = new Uint8Array(NP * 2);
  #fifo = true;

  // Markov state.
  #nodes = 1;
  #names: string[] = [""];
  #edges = new Float64Array(1);
  #current = 0;
  #markovTime = DEFAULT_MARKOV_TIME;
  #nextMarkovAt = Infinity;

  // Per-direction state.
  readonly #inputReadyAt = [-Infinity, -Infinity];
  readonly #bandFreeAt = [-Infinity, -Infinity];
  readonly #lastDue = [-Infinity, -Infinity];
  readonly #queuedBytes = [0, 0];
  readonly #queuedFrames = [0, 0];
  readonly #lastSeqOut = [-1, -1];
  readonly #bad = [false, false];
  #seq = 0;

  #timer: TimerId | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(options: WireFilterOptions = {}) {
    this.#clock = options.clock ?? realClock;
    this.seed = options.seed ?? randomSeed();
    this.#rng = [new Xoshiro128(this.seed, 0), new Xoshiro128(this.seed, 1)];
    this.#markovRng = new Xoshiro128(this.seed, 2);
    this.#maxQueueBytes = options.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES;
    this.#maxInputBytes = options.maxInputBytes ?? DEFAULT_MAX_INPUT_BYTES;
    this.#slack = options.slackMs ?? 1;
    this.onMarkov = options.onMarkov;
  }

  // ---------------------------------------------------------------------------
  // Settings

  /**
   * Applies a parsed value to `param` in its directions and node.
   *
   * @returns "bad-node" when the node does not exist
   */
  set(param: ParamName, setting: WireSetting): SetResult {
    if (setting.node < 0 || setting.node >= this.#nodes) return "bad-node";
    const p = PARAM_INDEX[param];
    for (const d of setting.dirs) {
      const i = (setting.node * NP + p) * 2 + d;
      this.#values[i] = setting.value;
      this.#plus[i] = setting.plus;
      this.#normal[i] = setting.alg === "N" ? 1 : 0;
    }
    return "ok";
  }

  /** The setting of `param` in direction `dir` of `node` (default the current node). */
  get(param: ParamName, dir: Dir, node: number = this.#current): WireValue {
    const i = (node * NP + PARAM_INDEX[param]) * 2 + dir;
    return { value: this.#values[i]!, plus: this.#plus[i]!, alg: this.#normal[i] ? "N" : "U" };
  }

  /** The MTU of `dir` in `node` as wirefilter shows it (the low end of its range); 0 is none. */
  mtu(dir: Dir, node: number = this.#current): number {
    const i = (node * NP + P_MTU) * 2 + dir;
    return this.#values[i]! - Math.abs(this.#plus[i]!);
  }

  /** FIFO mode: no frame overtakes one queued before it (default true). */
  get fifo(): boolean {
    return this.#fifo;
  }

  set fifo(on: boolean) {
    this.#fifo = on;
  }

  // ---------------------------------------------------------------------------
  // Markov mode

  /** Number of Markov nodes (1 when Markov mode is off). */
  get nodes(): number {
    return this.#nodes;
  }

  /** The current Markov node. */
  get currentNode(): number {
    return this.#current;
  }

  /** Transition period, ms. */
  get markovTime(): number {
    return this.#markovTime;
  }

  /** The name of `node`. */
  nodeName(node: number): string {
    return this.#names[node] ?? "";
  }

  /**
   * Sets the number of Markov nodes: the settings, names and edges of the
   * nodes kept stay, new nodes start with everything off.
   *
   * @returns false when `n` is not between 1 and MAX_NODES
   */
  setNodes(n: number): boolean {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) return false;
    const keep = Math.min(n, this.#nodes);
    const size = n * NP * 2;
    const values = new Float64Array(size);
    const plus = new Float64Array(size);
    const normal = new Uint8Array(size);
    values.set(this.#values.subarray(0, keep * NP * 2));
    plus.set(this.#plus.subarray(0, keep * NP * 2));
    normal.set(this.#normal.subarray(0, keep * NP * 2));
    const edges = new Float64Array(n * n);
    for (let i = 0; i < keep; i++) {
      for (let j = 0; j < keep; j++) edges[i * n + j] = this.#edges[i * this.#nodes + j]!;
    }
    this.#values = values;
    this.#plus = plus;
    this.#normal = normal;
    this.#edges = edges;
    this.#names = Array.from({ length: n }, (_, i) => this.#names[i] ?? "");
    this.#nodes = n;
    if (this.#current >= n) this.#current = 0;
    this.#restartMarkov();
    return true;
  }

  /** Makes `node` the current one; false if it does not exist. */
  setCurrentNode(node: number): boolean {
    if (!Number.isInteger(node) || node < 0 || node >= this.#nodes) return false;
    this.#current = node;
    return true;
  }

  /** Names `node`; false if it does not exist. */
  setNodeName(node: number, name: string): boolean {
    if (!Number.isInteger(node) || node < 0 || node >= this.#nodes) return false;
    this.#names[node] = name;
    return true;
  }

  /** Sets the transition period; false unless it is a positive number. */
  setMarkovTime(ms: number): boolean {
    if (!Number.isFinite(ms) || ms <= 0) return false;
    this.#markovTime = ms;
    this.#restartMarkov();
    return true;
  }

  /**
   * Sets the weight (percent) of the edge `from` -> `to`; the self-edge
   * takes what is left of 100.
   *
   * @returns false for a node that does not exist or a self-edge
   */
  setEdge(from: number, to: number, weight: number): boolean {
    const n = this.#nodes;
    if (![from, to].every((x) => Number.isInteger(x) && x >= 0 && x < n) || !Number.isFinite(weight)) {
      return false;
    }
    if (from === to) return false;
    this.#edges[from * n + to] = weight;
    return true;
  }

  /** The weight of edge `from` -> `to` (a self-edge is 100 minus the others). */
  edgeWeight(from: number, to: number): number {
    const n = this.#nodes;
    if (from !== to) return this.#edges[from * n + to] ?? 0;
    let rest = 100;
    for (let k = 0; k < n; k++) if (k !== from) rest -= this.#edges[from * n + k]!;
    return rest;
  }

  #restartMarkov(): void {
    if (this.#nodes > 1 && !this.#closed) {
      this.#nextMarkovAt = this.#clock.now() + this.#markovTime;
      this.#arm(this.#nextMarkovAt);
    } else {
      this.#nextMarkovAt = Infinity;
    }
  }

  #markovStep(): void {
    const from = this.#current;
    let r = this.#markovRng.next() * 100;
    let to = from;
    for (let k = 0; k < this.#nodes; k++) {
      const w = this.edgeWeight(from, k);
      if (w <= 0) continue;
      if (r < w) {
        to = k;
        break;
      }
      r -= w;
    }
    if (to === from) return;
    this.#current = to;
    try {
      this.onMarkov?.(from, to);
    } catch { /* an observer must not stop the filter */ }
  }

  // ---------------------------------------------------------------------------
  // Queues

  /** Frames waiting in the delay queue in `dir`. */
  queuedFrames(dir: Dir): number {
    return this.#queuedFrames[dir]!;
  }

  /** Bytes (wire sizes) waiting in the delay queue in `dir`. */
  queuedBytes(dir: Dir): number {
    return this.#queuedBytes[dir]!;
  }

  /** Frames waiting for a busy interface in `dir`. */
  blockedFrames(dir: Dir): number {
    return this.#input[dir].size;
  }

  /** Idle pooled entries (for tests of the allocation-free path). */
  get pooledEntries(): number {
    return this.#pool.idle;
  }

  // ---------------------------------------------------------------------------
  // The data path

  /** Takes a frame entering direction `dir`; the view is not kept. */
  input(dir: Dir, frame: Uint8Array): void {
    if (this.#closed) return;
    const c = this.counters[dir];
    c.framesIn++;
    c.bytesIn += frame.length;
    const now = this.#clock.now();
    const waiting = this.#input[dir];
    const readyAt = this.#inputReadyAt[dir]!;
    if (waiting.size > 0 || readyAt > now) {
      const size = frame.length + SIZE_OVERHEAD;
      if (waiting.bytes + size > this.#maxInputBytes) {
        c.inputDrops++;
        return;
      }
      waiting.push(this.#pool.take(frame, readyAt, 0, dir, size));
      this.#arm(readyAt);
      return;
    }
    this.#process(dir, frame, now);
  }

  #draw(i: number, rng: Random): number {
    const plus = this.#plus[i]!;
    const value = this.#values[i]!;
    if (plus === 0) return value;
    if (this.#normal[i]) return value + (plus / 3) * rng.normal();
    return value + plus * (2 * rng.next() - 1);
  }

  #max(i: number): number {
    return this.#values[i]! + Math.abs(this.#plus[i]!);
  }

  #process(d: Dir, frame: Uint8Array, now: number): void {
    const c = this.counters[d];
    const rng = this.#rng[d];
    const size = frame.length + SIZE_OVERHEAD;
    const base = this.#current * NP * 2 + d;
    const iMtu = base + P_MTU * 2;
    if (this.#values[iMtu]! > 0) {
      const mtu = this.#values[iMtu]! - Math.abs(this.#plus[iMtu]!);
      if (mtu > 0 && size > mtu) {
        c.mtuDrops++;
        return;
      }
    }
    const iLoss = base + P_LOSS * 2;
    if (this.#max(iLoss) > 0) {
      if (this.#values[iLoss]! - Math.abs(this.#plus[iLoss]!) >= 100) {
        c.lossDrops++;
        return;
      }
      const iBurst = base + P_BURST * 2;
      if (this.#max(iBurst) > 0) {
        const loss = this.#draw(iLoss, rng) / 100;
        const burst = Math.max(1, this.#draw(iBurst, rng));
        if (this.#bad[d]) {
          if (rng.next() < 1 / burst) this.#bad[d] = false;
        } else if (loss >= 1 || (loss > 0 && rng.next() < loss / (burst * (1 - loss)))) {
          this.#bad[d] = true;
        }
        if (this.#bad[d]) {
          c.burstDrops++;
          return;
        }
      } else if (rng.next() * 100 < this.#draw(iLoss, rng)) {
        c.lossDrops++;
        return;
      }
    }
    let copies = 1;
    const iDup = base + P_DUP * 2;
    if (this.#max(iDup) > 0) {
      const p = this.#draw(iDup, rng) / 100;
      while (copies < MAX_COPIES && rng.next() < p) copies++;
      c.dupCopies += copies - 1;
    }
    const iCap = base + P_CAP * 2;
    const iSpeed = base + P_SPEED * 2;
    const iBand = base + P_BAND * 2;
    const iDelay = base + P_DELAY * 2;
    for (let k = 0; k < copies; k++) {
      if (this.#max(iCap) > 0) {
        const cap = this.#draw(iCap, rng);
        if (cap > 0 && this.#queuedBytes[d]! + size > cap) {
          c.capacityDrops++;
          continue;
        }
      }
      let t = now;
      if (this.#max(iSpeed) > 0) {
        const speed = this.#draw(iSpeed, rng);
        if (speed <= 0) {
          c.rateDrops++;
          continue;
        }
        t = Math.max(this.#inputReadyAt[d]!, now) + (size * 1000) / speed;
        this.#inputReadyAt[d] = t;
      }
      if (this.#max(iBand) > 0) {
        const band = this.#draw(iBand, rng);
        if (band <= 0) {
          c.rateDrops++;
          continue;
        }
        t = Math.max(this.#bandFreeAt[d]!, t) + (size * 1000) / band;
        this.#bandFreeAt[d] = t;
      }
      if (this.#max(iDelay) > 0) {
        const delay = this.#draw(iDelay, rng);
        if (delay > 0) t += delay;
      }
      const seq = this.#seq++;
      if (this.#fifo) {
        if (t < this.#lastDue[d]!) t = this.#lastDue[d]!;
        this.#lastDue[d] = t;
      }
      if (t <= now && (!this.#fifo || this.#queuedFrames[d] === 0)) {
        this.#emit(d, frame, frame.length, seq, false);
        continue;
      }
      if (this.#queuedBytes[d]! + size > this.#maxQueueBytes) {
        c.overflowDrops++;
        continue;
      }
      this.#heap.push(this.#pool.take(frame, t, seq, d, size));
      this.#queuedBytes[d]! += size;
      this.#queuedFrames[d]!++;
      c.delayed++;
      this.#arm(t);
    }
  }

  /** Sends one frame out of `d`, with noise; `owned` frames may be damaged in place. */
  #emit(d: Dir, buf: Uint8Array, len: number, seq: number, owned: boolean): void {
    const c = this.counters[d];
    let frame = len === buf.length ? buf : buf.subarray(0, len);
    const iNoise = this.#current * NP * 2 + d + P_NOISE * 2;
    if (this.#max(iNoise) > 0) {
      const rng = this.#rng[d];
      const p = (this.#draw(iNoise, rng) * (len + SIZE_OVERHEAD)) / (1 << 20);
      const bits = len * 8;
      let flips = 0;
      while (flips < bits && rng.next() < p) {
        if (flips === 0 && !owned) {
          if (this.#scratch[d].length < len) this.#scratch[d] = new Uint8Array(len);
          this.#scratch[d].set(frame);
          frame = this.#scratch[d].subarray(0, len);
        }
        const bit = Math.floor(rng.next() * bits);
        frame[bit >> 3]! ^= 1 << (bit & 7);
        flips++;
      }
      if (flips > 0) {
        c.noiseFrames++;
        c.noiseBits += flips;
      }
    }
    if (seq < this.#lastSeqOut[d]!) c.reordered++;
    else this.#lastSeqOut[d] = seq;
    c.framesOut++;
    c.bytesOut += len;
    try {
      this.onEmit?.(d, len);
      this.outputs[d](frame);
    } catch { /* an output must not break the queues */ }
  }

  #arm(at: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      this.#clock.clearTimer(this.#timer);
    }
    this.#timerAt = at;
    // Timers fire a little late; asking `slack` early and delivering what is due
    // within `slack` of the wake-up centres the error on zero.
    this.#timer = this.#clock.setTimer(at - this.#slack - this.#clock.now(), this.#onTimer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#closed) return;
    const now = this.#clock.now();
    const horizon = now + this.#slack;
    if (this.#nodes > 1) {
      while (this.#nextMarkovAt <= horizon) {
        this.#markovStep();
        this.#nextMarkovAt += this.#markovTime;
        if (this.#nextMarkovAt < now) this.#nextMarkovAt = now + this.#markovTime;
      }
    }
    for (const d of DIRS) {
      const waiting = this.#input[d];
      while (waiting.size > 0 && this.#inputReadyAt[d]! <= horizon) {
        const e = waiting.shift()!;
        this.#process(d, e.buf.subarray(0, e.len), now);
        this.#pool.release(e);
      }
    }
    for (let e = this.#heap.peek(); e !== undefined && e.at <= horizon; e = this.#heap.peek()) {
      this.#heap.pop();
      this.#queuedBytes[e.dir]! -= e.size;
      this.#queuedFrames[e.dir]!--;
      this.#emit(e.dir, e.buf, e.len, e.seq, true);
      this.#pool.release(e);
    }
    this.#rearm();
  };

  #rearm(): void {
    let next = this.#heap.peek()?.at ?? Infinity;
    for (const d of DIRS) {
      if (this.#input[d].size > 0) next = Math.min(next, this.#inputReadyAt[d]!);
    }
    if (this.#nodes > 1) next = Math.min(next, this.#nextMarkovAt);
    if (next < Infinity) this.#arm(next);
  }

  /** Stops the filter: queued frames are dropped (and counted), the timer is cancelled. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    const drop = (e: QueuedFrame) => {
      this.counters[e.dir].closeDrops++;
      this.#pool.release(e);
    };
    this.#heap.drain(drop);
    this.#input[LR].drain(drop);
    this.#input[RL].drain(drop);
    this.#queuedBytes[LR] = this.#queuedBytes[RL] = 0;
    this.#queuedFrames[LR] = this.#queuedFrames[RL] = 0;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
}
