/**
 * The V8 flags vde is run with, wherever it is started: `deno task vde` and `deno task install`
 * (deno.json, which cannot import this, spells them out; test/cli/v8_flags.test.ts keeps them equal),
 * the bundle's `#!` line, `deno task compile`'s binary, a `--daemon` copy started without its own
 * argv, the benchmarks and the tests' helpers.
 *
 * Theory of operation: Deno takes its fast FFI path (a direct call from compiled code) only from
 * TurboFan code; from Maglev, V8's middle tier, each call goes through a slow callback
 * (scripts/ffi_tier_cost.ts: four calls after a sleep 7-8 µs against 2.5-3). A data-plane thread
 * enters its wait loop once and keeps running the code it was entered with, so with Maglev on the
 * switch thread's `run` stayed Maglev code for good, whatever its warm-up did. `--no-maglev` makes
 * V8 tier up from Sparkplug straight to TurboFan: the functions the loop calls to wait and serve, hot
 * after warm-up, are TurboFan code when the real loop is entered. V8 flags are per process (a worker's isolate has the
 * flags of its process) and cannot be set once V8 runs (`node:v8`'s setFlagsFromString is ignored),
 * so every command line that starts vde carries them. Without them vde works the same, its data-plane
 * threads spending more CPU per lone frame (README, Install and test).
 */

/** The value of `--v8-flags=`. */
export const V8_FLAGS = "--no-maglev";

/** `deno run` as vde is run: every permission and the V8 flags (the entry point and its arguments follow). */
export const DENO_RUN: readonly string[] = ["run", "-A", `--v8-flags=${V8_FLAGS}`];
