/**
 * Cost ratio of two workloads, robust on a loaded machine: the test asks how
 * much slower the worst input of an adversarial family is than a typical
 * input of the same size, never how fast either is.
 *
 * Theory of operation: both functions are warmed up (so the JIT has compiled
 * them), then timed in alternating rounds of many calls each; a round's
 * time per call is one sample, and the ratio is that of the two medians.
 * The calls per round are sized from the fastest of several probes, never
 * from one: a one-off cost on the main thread (a lazy compile of the
 * path's first call, a collection) landing in a single short probe would
 * otherwise make a round of a microsecond call a handful of calls long,
 * and every sample of that side would then be the timer's own cost and
 * the rounds' fixed costs rather than the input's (a 2-call round read
 * tiny IPv4 fragments as 20-40x a typical frame, against 2.5x).
 * Time is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), not
 * the wall clock: on a machine shared with other work a round may wait for
 * a CPU, and that wait is no cost of the input; nor is the work of the
 * runtime's other threads. Bursts that remain (a
 * collection, a cache flushed by a neighbour) land in a few rounds of either
 * side and the median ignores them; alternating keeps slow drifts
 * (frequency scaling) out of the ratio.
 */
import { libc } from "../../ffi/libc.ts";

import assert from "node:assert/strict";

/** What `costRatio` measured. */
export interface CostRatio {
  /** Median time per call of the worst input, in microseconds. */
  worstUs: number;
  /** Median time per call of the typical input, in microseconds. */
  typicalUs: number;
  /** worstUs / typicalUs. */
  ratio: number;
  /** Calls per round of the worst input and of the typical one. */
  worstCalls: number;
  typicalCalls: number;
}

/** Options of `costRatio`. */
export interface CostRatioOptions {
  /** Alternating rounds (samples per side). Default 31. */
  rounds?: number;
  /** Target CPU time of one round in milliseconds. Default 2. */
  roundMs?: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

const CLOCK_THREAD_CPUTIME_ID = 3;
const timespec = new BigInt64Array(2);
const timespecBytes = new Uint8Array(timespec.buffer);

/** CPU time of this thread in milliseconds. */
export function cpuMs(): number {
  libc().clock_gettime(CLOCK_THREAD_CPUTIME_ID, timespecBytes);
  return Number(timespec[0]!) * 1000 + Number(timespec[1]!) / 1e6;
}

/** CPU milliseconds of `n` calls of `fn`. */
function timeCalls(fn: () => void, n: number): number {
  const t = cpuMs();
  for (let i = 0; i < n; i++) fn();
  return cpuMs() - t;
}

/** Probes that confirm a long one: the fastest of them counts (see the file comment). */
const PROBES = 3;

/** Calls of `fn` that take about `ms` milliseconds of CPU (at least 1). */
function callsFor(fn: () => void, ms: number): number {
  for (let n = 1;; n *= 2) {
    let took = timeCalls(fn, n);
    // A probe that reaches a quarter round may owe it to a one-off cost: the fastest of more decides.
    for (let p = 0; p < PROBES && took >= ms / 4; p++) took = Math.min(took, timeCalls(fn, n));
    if (took >= ms / 4 || n >= 1 << 22) return Math.max(1, Math.round((n * ms) / Math.max(took, 0.001)));
  }
}

/** Times `worst` against `typical` (see the file comment). */
export function costRatio(worst: () => void, typical: () => void, options: CostRatioOptions = {}): CostRatio {
  const rounds = options.rounds ?? 31;
  const roundMs = options.roundMs ?? 2;
  const nWorst = callsFor(worst, roundMs);
  const nTypical = callsFor(typical, roundMs);
  const w: number[] = [];
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let s = cpuMs();
    for (let i = 0; i < nWorst; i++) worst();
    w.push(((cpuMs() - s) * 1000) / nWorst);
    s = cpuMs();
    for (let i = 0; i < nTypical; i++) typical();
    t.push(((cpuMs() - s) * 1000) / nTypical);
  }
  const worstUs = median(w);
  const typicalUs = median(t);
  return { worstUs, typicalUs, ratio: worstUs / typicalUs, worstCalls: nWorst, typicalCalls: nTypical };
}

/** The figures as one line for the test log. */
export function describeCost(name: string, c: CostRatio): string {
  return `${name}: worst ${c.worstUs.toFixed(2)} us (${c.worstCalls} calls a round), typical ${
    c.typicalUs.toFixed(2)
  } us (${c.typicalCalls}), ratio ${c.ratio.toFixed(2)}x`;
}

export let sink = 0;
/** Keeps a result alive so the measured call cannot be optimised away. */
export function use(x: unknown): void {
  if (x !== undefined) sink++;
}

/**
 * Measures each member of an adversarial family against one typical input,
 * logs every figure, and asserts that the worst ratio is at most `limit`.
 */
export function assertCostRatio(
  name: string,
  family: [string, () => void][],
  typical: () => void,
  limit = 20,
): void {
  let worst = 0;
  for (const [member, fn] of family) {
    const c = costRatio(fn, typical);
    console.log(describeCost(`${name} / ${member}`, c));
    worst = Math.max(worst, c.ratio);
  }
  assert.ok(
    worst <= limit,
    `${name}: the worst input costs ${worst.toFixed(1)}x a typical one (limit ${limit}x)`,
  );
}
