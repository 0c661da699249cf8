/**
 * A worker's first posted message throws V8's optimized typed-array code
 * away ("dependent prototype chain changed"), once; the data-plane workers'
 * "loaded" word, posted as their module runs, is that first message, so a
 * warm-up's code survives the "warmed" post after it. Pinned through V8's
 * own `--trace-deopt`, since it is V8's and Deno's behaviour we rely on.
 */
import assert from "node:assert/strict";

async function deoptsAfterWarmedPost(announce: boolean): Promise<string[]> {
  const probe = new URL("./_first_message_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    // Optimized on the worker's thread, not a compiler thread's: a starved compiler thread (load 25) could
    // install the reader's code only after the post, and the cold run then showed no deopt to count.
    args: [
      "run",
      "-A",
      "--v8-flags=--trace-deopt,--no-concurrent-recompilation",
      probe,
      announce ? "loaded" : "cold",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => line.includes("dependent prototype chain changed") && line.includes("probeReader"));
}

Deno.test("a worker's first post throws optimized typed-array code away, and not after its loaded word", async () => {
  assert.ok(
    (await deoptsAfterWarmedPost(false)).length > 0,
    "the first post no longer deoptimizes: the ordering rule in worker_loaded.ts may go",
  );
  assert.deepEqual(await deoptsAfterWarmedPost(true), []);
});
