/**
 * A lab's state file outlives its `vde up` when that is killed; the pid it
 * names is then given to some other process in time. That process is no
 * lab's owner: `vde down` removes the lab's leftovers without signalling it,
 * and nothing reports the lab as up.
 */
import assert from "node:assert/strict";
import { cleanupLab, ownerRuns, writeState } from "../../src/lab/state.ts";
import { labDir } from "../../src/lab/names.ts";
import { commandLine, processStartTime } from "../../src/os/processes.ts";
import { waitFor } from "../helpers/processes.ts";

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

Deno.test("a dead lab's pid, reused by a vde program that started later, is not its owner: vde down leaves it be", async () => {
  // A Deno program (as any vde command is) given the number of a lab's vde up that started earlier.
  const later = new Deno.Command(Deno.execPath(), {
    args: ["eval", "setTimeout(() => {}, 30_000)"],
    stdin: "null",
  }).spawn();
  const name = `reused${Deno.pid}`;
  try {
    await waitFor(() => commandLine(later.pid)?.includes("eval") === true, {
      timeoutMs: 10_000,
      what: "deno eval to start",
    });
    const start = processStartTime(later.pid);
    assert.ok(start !== null && start > 0);
    assert.equal(ownerRuns(later.pid, start), true, "the process that started then is the owner");
    assert.equal(ownerRuns(later.pid, start - 1), false);
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({
      name,
      pid: later.pid,
      pidStart: start - 1,
      file: "",
      namespaces: [],
      started: new Date().toISOString(),
    });
    assert.deepEqual(await cleanupLab(name, 1000), [`removed lab ${name}`]);
    const exited = await Promise.race([
      later.status,
      new Promise((r) => setTimeout(() => r("running"), 200)),
    ]);
    assert.equal(exited, "running", "the later process was not signalled");
  } finally {
    later.kill("SIGKILL");
    await later.status;
    await Deno.remove(labDir(name), { recursive: true }).catch(() => {});
  }
});
