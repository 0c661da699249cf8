import assert from "node:assert/strict";
import { pathExists, run, RUN_STUDENT, skipUnlessRoot, STUDENT_PREFIX, waitFor } from "./processes.ts";
import { sweepStale } from "./netns.ts";

const HELD = new URL("./student_held.ts", import.meta.url).pathname;

/** Whether `name` is a user here. */
async function userExists(name: string): Promise<boolean> {
  return (await run(["getent", "passwd", name], { check: false })).code === 0;
}

for (const signal of ["SIGTERM", "SIGINT", "SIGKILL"] as const) {
  Deno.test(`a test run killed by ${signal} while a student runs leaves no user, no process of theirs, no directory`, async (t) => {
    if (skipUnlessRoot(t)) return;
    const dir = await Deno.makeTempDir({ prefix: "vde-student-held-" });
    const said = `${dir}/student.json`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", HELD],
      env: { VDE_STUDENT_HELD: said },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let student: { name: string; uid: number; tmp: string } | undefined;
    try {
      // The bundle is built first (seconds, more under load).
      await waitFor(async () => await Deno.stat(said).then(() => true, () => false), {
        timeoutMs: 180_000,
        what: "the held run's student",
      });
      student = JSON.parse(await Deno.readTextFile(said));
      assert.ok(student!.name.startsWith(STUDENT_PREFIX) && await userExists(student!.name));
      child.kill(signal);
      await child.status;
      const { name, uid, tmp } = student!;
      // SIGTERM: the run's listener removes them before it exits; SIGINT under deno test and SIGKILL: the
      // run's reaper, once it sees the run gone (it looks every second).
      const left = async () => {
        const what: string[] = [];
        if (await userExists(name)) what.push(`user ${name}`);
        const pids = (await run(["pgrep", "-u", String(uid)], { check: false })).stdout.trim();
        if (pids !== "") what.push(`processes of uid ${uid}: ${pids.replaceAll("\n", " ")}`);
        if (await pathExists(tmp)) what.push(tmp);
        return what;
      };
      if (signal === "SIGTERM") assert.deepEqual(await left(), [], "left once the run exited");
      await waitFor(async () => (await left()).length === 0, {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: "the student's removal",
      }).catch(async (err) => {
        throw new Error(`${err instanceof Error ? err.message : err}: left ${(await left()).join(", ")}`);
      });
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* ended */ }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("the sweep removes a test user left by a run that is over, and keeps this run's", async (t) => {
  if (skipUnlessRoot(t)) return;
  // A pid that was a run and is over: a process that has ended (and holds no run lock).
  const ended = new Deno.Command("true").spawn();
  await ended.status;
  const name = `${STUDENT_PREFIX}${ended.pid}`;
  try {
    for (const user of [name, RUN_STUDENT]) await run(["useradd", "--no-create-home", "--user-group", user]);
    await sweepStale();
    assert.deepEqual([await userExists(name), await userExists(RUN_STUDENT)], [false, true]);
  } finally {
    for (const user of [name, RUN_STUDENT]) {
      if (await userExists(user)) await run(["userdel", user], { check: false });
    }
  }
});
