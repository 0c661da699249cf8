/**
 * The test rig's `run`: its time bound holds even when the command leaves a
 * background job that keeps its output pipes open (a script that failed
 * half way through, its `&` jobs still running), where reading to EOF would
 * wait for that job. The README walkthrough's test hung so in CI.
 */
import assert from "node:assert/strict";
import { run } from "./processes.ts";

Deno.test("run returns at its bound, with the output so far, when a job the command left holds its pipes", async () => {
  // A duration no other process sleeps, to find this one again.
  const mark = `sleep 599.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  try {
    const r = await run(["bash", "-c", `echo before; ${mark} & exit 3`], {
      check: false,
      timeoutMs: 1500,
    });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, 3, "the command's own status");
    assert.equal(r.stdout, "before\n");
    const left = await run(["pgrep", "-xf", mark], { check: false });
    assert.equal(left.code, 0, "returned while the job still holds the pipes, not at its end");
  } finally {
    await run(["pkill", "-xf", mark], { check: false });
  }
});

Deno.test("run of a command that ends with its pipes reads all of its output and is not timed out", async () => {
  const r = await run(["bash", "-c", "seq 1 20000; echo done >&2"], { timeoutMs: 20_000 });
  assert.equal(r.timedOut, false);
  assert.equal(r.stdout.split("\n").length, 20001);
  assert.equal(r.stderr, "done\n");
});
