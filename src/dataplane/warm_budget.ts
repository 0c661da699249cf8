/**
 * When a data-plane thread's warm-up (switch_warmup.ts, plug_warmup.ts)
 * stops: after a budget of the thread's own CPU time, or a longer cap of
 * wall time, whichever comes first.
 *
 * Theory of operation: what a warm-up buys is rounds of its loop, enough
 * for V8 to compile the loop's functions with the optimizing tier (a
 * synchronous FFI call from code V8 has not optimized takes Deno's slow
 * path). A wall-clock budget gave a loaded machine far fewer rounds: on two
 * cores shared with other benchmarks the thread had a third of a core, and
 * `--trace-opt` showed warm-ups that ended with the wait and receive
 * functions still in V8's middle tier, thrown into the first real frames.
 * Counted in the thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`)
 * the rounds are the same on any load; the wall cap bounds how long a
 * starved thread keeps its first frames waiting.
 */
import { threadCpuMs } from "../../ffi/libc.ts";

/** Returns a check that says true once `cpuMs` of this thread's CPU or `wallMs` of wall time have passed. */
export function warmBudget(cpuMs: number, wallMs: number): () => boolean {
  const cpuEnd = threadCpuMs() + cpuMs;
  const wallEnd = performance.now() + wallMs;
  return () => threadCpuMs() > cpuEnd || performance.now() > wallEnd;
}
