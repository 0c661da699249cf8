/**
 * A lab's state file outlives its `vde up` when that is killed; the pid it
 * names is then given to some other process in time. That process is no
 * lab's owner: `vde down` removes the lab's leftovers without signalling it,
 * and nothing reports the lab as up.
 */
import assert from "node:assert/strict";
import { cleanupLab, ownerRuns, writeState } from "../../src/lab/state.ts";
import { labDir } from "../../src/lab/names.ts";

Deno.test("a dead lab's pid, reused by a process that is no vde, is not its owner: vde down leaves that process be", async () => {
  // Not a vde program by its executable or any argument (sleep's own name, a number).
  const stranger = new Deno.Command("sleep", { args: ["30"], stdin: "null" }).spawn();
  const name = `stale${Deno.pid}`;
  try {
    assert.equal(ownerRuns(Deno.pid), true, "a vde program (this Deno) may be an owner");
    assert.equal(ownerRuns(stranger.pid), false);
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ name, pid: stranger.pid, file: "", namespaces: [], started: new Date().toISOString() });
    assert.deepEqual(await cleanupLab(name, 1000), [`removed lab ${name}`]);
    assert.throws(() => Deno.statSync(labDir(name)), Deno.errors.NotFound);
    const exited = await Promise.race([
      stranger.status,
      new Promise((r) => setTimeout(() => r("running"), 200)),
    ]);
    assert.equal(exited, "running", "the stranger was not signalled");
  } finally {
    stranger.kill("SIGKILL");
    await stranger.status;
    await Deno.remove(labDir(name), { recursive: true }).catch(() => {});
  }
});
