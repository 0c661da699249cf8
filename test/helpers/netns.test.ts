/**
 * The sweeper of dead runs' leftovers (netns.ts sweepStale, run_id.ts):
 * a run is over when its lock is free, not when its pid is missing, so a
 * sweep in another pid namespace spares a live run, while a killed run's
 * namespace, temp dir and lock file all go.
 */
import assert from "node:assert/strict";
import { sweepStale, withNetns } from "./netns.ts";
import { hasCommand, hasRoot, run, skipUnless, skipUnlessRoot } from "./processes.ts";
import { claimRunId, RunJudge, runLockPath, RUNS_DIR } from "./run_id.ts";
import { exists } from "../../src/os/paths.ts";

const NETNS = new URL("./netns.ts", import.meta.url).href;
const RUN_ID_MODULE = new URL("./run_id.ts", import.meta.url).href;

Deno.test("claimRunId takes the pid when free, an id above any pid when another run holds it; RunJudge reads the locks", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-run-id-" });
  try {
    const first = claimRunId(4242, dir);
    assert.equal(first.id, 4242);
    const second = claimRunId(4242, dir);
    assert.ok(second.id > 4_194_304, `another run's pid is not taken again: ${second.id}`);
    const judge = new RunJudge(dir);
    assert.equal(judge.over(4242), false, "held: live, whatever pid 4242 is here");
    assert.equal(judge.over(second.id), false);
    // Without the sticky bit the file stays at release: a run that ended and left its lock file, free.
    await Deno.chmod(dir, 0o777);
    first.lock!.release();
    assert.ok(exists(runLockPath(4242, dir)));
    const later = new RunJudge(dir);
    assert.equal(later.over(4242), true, "free: over");
    assert.equal(claimRunId(4242, dir).id === 4242, false, "held by the sweeper meanwhile: not reused");
    later.release();
    // No lock file: an older helper's run, judged by its pid.
    assert.equal(later.over(Deno.pid), false);
    assert.equal(later.over(4_194_304 + 4242), true);
    second.lock!.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sweepStale in a nested pid namespace spares the namespaces of a live run outside it", async (t) => {
  if (skipUnless(t, hasRoot() ?? (await hasCommand("unshare") ? null : "no unshare"))) return;
  await withNetns(async (lab) => {
    const ns = await lab.namespace("spared");
    // This run's pid names nothing in there: only its lock says it lives.
    const sweep = await run([
      "unshare",
      "--pid",
      "--fork",
      "--mount-proc",
      Deno.execPath(),
      "eval",
      `import { sweepStale } from "${NETNS}";\nconsole.log(JSON.stringify(await sweepStale()));`,
    ], { timeoutMs: 60_000 });
    const removed = JSON.parse(sweep.stdout) as string[];
    assert.ok(Array.isArray(removed), "the sweep ran there");
    assert.ok(!removed.includes(ns.name), sweep.stdout);
    assert.ok(exists(`/run/netns/${ns.name}`), "the live run's namespace is there");
  });
});

Deno.test("sweepStale removes a killed run's namespace, temp dir and lock file", async (t) => {
  if (skipUnlessRoot(t)) return;
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { RUN_ID } from "${RUN_ID_MODULE}";\nconsole.log(RUN_ID);\nsetInterval(() => {}, 1000);`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = holder.stdout.getReader();
  const id = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  holder.kill("SIGKILL");
  await holder.status;
  await holder.stdout.cancel().catch(() => {});
  const name = `vdet${id}x0-killed`;
  const tmp = `${Deno.env.get("TMPDIR") ?? "/tmp"}/vdet${id}x0-killed`;
  try {
    assert.ok(exists(runLockPath(id)), `the killed run's lock file is in ${RUNS_DIR}`);
    await run(["ip", "netns", "add", name]);
    await Deno.mkdir(tmp);
    const removed = await sweepStale();
    assert.ok(removed.includes(name) && removed.includes(tmp), removed.join(" "));
    assert.equal(exists(`/run/netns/${name}`), false);
    assert.equal(exists(tmp), false);
    assert.equal(exists(runLockPath(id)), false, "its lock file went with them");
  } finally {
    await run(["ip", "netns", "del", name], { check: false });
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
