/**
 * The message primer: the first message a Deno thread posts throws away
 * V8's optimized typed-array code ("dependent prototype chain changed"),
 * once; a throwaway message posted before that code is compiled (before a
 * warm-up) keeps the later first post from doing it. Pinned through V8's
 * own `--trace-deopt`, since it is V8's and Deno's behaviour we rely on.
 */
import assert from "node:assert/strict";

async function deoptsAfterPost(prime: boolean): Promise<string[]> {
  const probe = new URL("./_message_primer_probe.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--trace-deopt", probe, prime ? "prime" : "cold"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((line) => line.includes("dependent prototype chain changed") && line.includes("probeReader"));
}

Deno.test("a first postMessage throws optimized typed-array code away, and not after primeMessaging", async () => {
  assert.ok(
    (await deoptsAfterPost(false)).length > 0,
    "the unprimed post no longer deoptimizes: the primer may go",
  );
  assert.deepEqual(await deoptsAfterPost(true), []);
});
