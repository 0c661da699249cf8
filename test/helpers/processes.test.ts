/**
 * The test rig's `run`: its time bound holds even when the command leaves a
 * background job that keeps its output pipes open (a script that failed
 * half way through, its `&` jobs still running), where reading to EOF would
 * wait for that job. The README walkthrough's test hung so in CI.
 */
import assert from "node:assert/strict";
import { run, spawnManaged } from "./processes.ts";

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

Deno.test("a background child's status waits for what is still in its pipes: stderr read right after it holds the last line", async () => {
  // The exit comes first and the line after it, as on a loaded machine a refused cable client's last line
  // (printed just before it exits) may be read after its status: a job the child left writes it.
  const late = spawnManaged(["sh", "-c", "(sleep 0.3; echo 'refused: wrong key' >&2) & exit 1"], {
    name: "late",
  });
  assert.equal((await late.status).code, 1);
  assert.match(late.stderr, /refused: wrong key/);
  assert.equal(late.exitStatus?.code, 1, "exitStatus is set with status, the output complete");
  const m = await late.waitForOutput(/refused: (wrong key)/, 10_000, "stderr");
  assert.equal(m[1], "wrong key");
  await late.stop();

  const silent = spawnManaged(["sh", "-c", "echo other >&2; exit 1"], { name: "silent" });
  const t0 = Date.now();
  await assert.rejects(
    silent.waitForOutput(/refused/, 10_000, "stderr"),
    /silent exited \(exit 1\) before printing/,
  );
  assert.ok(Date.now() - t0 < 5_000, "not the whole timeout");
  await silent.stop();
});

Deno.test("a background child's status, and waitForOutput after it, are bounded when a job it left keeps its pipes open", async () => {
  const mark = `sleep 598.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const t0 = Date.now();
  const child = spawnManaged(["bash", "-c", `${mark} & exit 2`], { name: "leaver" });
  try {
    assert.equal((await child.status).code, 2);
    assert.ok(Date.now() - t0 < 10_000, "bounded by the drain grace, not the job's end");
    const t1 = Date.now();
    await assert.rejects(child.waitForOutput(/never/, 30_000), /leaver exited \(exit 2\) before printing/);
    assert.ok(Date.now() - t1 < 1_000, "at once: the exit is known");
  } finally {
    await run(["pkill", "-xf", mark], { check: false });
    await child.stop();
  }
});
