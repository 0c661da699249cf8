/**
 * A lab's state file outlives its `vde up` when that is killed; the pid it
 * names is then given to some other process in time. That process is no
 * lab's owner: `vde down` removes the lab's leftovers without signalling it,
 * and nothing reports the lab as up.
 */
import assert from "node:assert/strict";
import {
  alreadyThere,
  cleanupLab,
  labNamesPath,
  markStoppingOf,
  ownerRuns,
  readLabNames,
  readState,
  removeLabFiles,
  runState,
  STOPPING_FILE,
  writeState,
  writeWhole,
} from "../../src/lab/state.ts";
import { LabRunner, whyDirTaken } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { labDir, labsBaseDir } from "../../src/lab/names.ts";
import { machineUid } from "../../src/os/user_namespace.ts";
import { commandLine, processStartTime } from "../../src/os/processes.ts";
import { skipUnlessRoot, waitFor } from "../helpers/processes.ts";

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

/**
 * A Deno program (as vde up is) that outlives a lab, whose SIGTERM runs `onTerm` (a script); returned once
 * it says it is ready (its listener set).
 */
async function lingering(onTerm: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.addSignalListener("SIGTERM", () => { ${onTerm} }); console.log("ready"); setTimeout(() => {}, 30_000)`,
    ],
    stdin: "null",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  child.stdout.cancel();
  return child;
}

Deno.test("vde down ends the recorded process outside a rootless lab that outlived it, SIGKILL if it must, not one started later", async () => {
  const name = `outer${Deno.pid}`;
  const up = await lingering("Deno.exit(0);");
  const stubborn = await lingering("");
  // The lab's own vde up, which takes its directory (and state file) along as it stops.
  const lab = await lingering(
    `Deno.removeSync(${JSON.stringify(labDir(name))}, { recursive: true }); Deno.exit(0);`,
  );
  try {
    const state = (pid: number, pidStart: number, owner = 1 << 30) => ({
      name,
      pid: owner,
      ...(owner === 1 << 30 ? {} : { pidStart: processStartTime(owner)! }),
      file: "",
      namespaces: [],
      started: new Date().toISOString(),
      outsideProcess: { pid, pidStart },
    });
    // Its number given to a later process: that one is left be.
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState(state(up.pid, processStartTime(up.pid)! - 1));
    assert.deepEqual(await cleanupLab(name, 200), [`removed lab ${name}`]);
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState(state(up.pid, processStartTime(up.pid)!));
    assert.deepEqual(await cleanupLab(name, 200), [
      `stopped vde up --rootless outside the lab's namespaces (pid ${up.pid})`,
      `removed lab ${name}`,
    ]);
    assert.equal((await up.status).code, 0);
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState(state(stubborn.pid, processStartTime(stubborn.pid)!, lab.pid));
    assert.deepEqual(await cleanupLab(name, 200), [
      `stopped vde up (pid ${lab.pid})`,
      `killed vde up --rootless outside the lab's namespaces (pid ${stubborn.pid}) after 200 ms`,
      `removed lab ${name}`,
    ]);
    assert.equal((await stubborn.status).signal, "SIGKILL");
  } finally {
    for (const c of [up, stubborn, lab]) {
      try {
        c.kill("SIGKILL");
      } catch { /* ended */ }
      await c.status;
    }
    // Its names file too, which each writeState writes: every run left /run/vde/outerPID.names.json.
    removeLabFiles(name);
  }
});

Deno.test("vde down ends a stopped (SIGSTOP, Ctrl-Z) process outside a rootless lab by its SIGTERM, not a SIGKILL after the grace", async () => {
  const name = `stopped${Deno.pid}`;
  const up = await lingering("Deno.exit(0);");
  try {
    Deno.kill(up.pid, "SIGSTOP");
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({
      name,
      pid: 1 << 30,
      file: "",
      namespaces: [],
      started: new Date().toISOString(),
      outsideProcess: { pid: up.pid, pidStart: processStartTime(up.pid)! },
    });
    // A stopped process takes its SIGTERM only once it runs again.
    assert.deepEqual(await cleanupLab(name, 60_000), [
      `stopped vde up --rootless outside the lab's namespaces (pid ${up.pid})`,
      `removed lab ${name}`,
    ]);
    assert.equal((await up.status).code, 0);
  } finally {
    try {
      up.kill("SIGKILL");
    } catch { /* ended */ }
    await up.status;
    await Deno.remove(labDir(name), { recursive: true }).catch(() => {});
  }
});

Deno.test("a lab's names file is removed before its directory, so a new vde up of the name never loses its own", () => {
  const removed: string[] = [];
  removeLabFiles("order", (path) => void removed.push(path));
  assert.deepEqual(removed, [labNamesPath("order"), labDir("order")]);
});

Deno.test("vde down of a lab whose name a new vde up claims as its vde up stops leaves the new lab's directory and names file", async () => {
  const name = `renewed${Deno.pid}`;
  const state = new URL("../../src/lab/state.ts", import.meta.url).href;
  // The old lab's vde up takes its lab down on SIGTERM, and a new vde up of the name claims the directory
  // at once (mkdir, then its record and names file), before vde down goes on.
  const owner = await lingering(
    `import("${state}").then((s) => { s.removeLabFiles("${name}"); ` +
      `Deno.mkdirSync("${labDir(name)}", { mode: 0o700 }); ` +
      `s.writeState({ name: "${name}", pid: ${
        1 << 30
      }, file: "", namespaces: ["vde-${name}-h9"], started: "later" }); ` +
      `Deno.exit(0); });`,
  );
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    const pidStart = processStartTime(owner.pid) ?? undefined;
    writeState({
      name,
      pid: owner.pid,
      pidStart,
      file: "",
      namespaces: [],
      started: new Date().toISOString(),
    });
    const done = await cleanupLab(name, 10_000);
    assert.match(done.at(-1)!, /a new vde up of .* has its directory now/, done.join("\n"));
    assert.equal(readState(name)?.started, "later", "the new lab's record is there");
    assert.deepEqual(readLabNames(name, machineUid(), labsBaseDir())?.hosts, ["h9"], "and its names file");
  } finally {
    await endOwner(owner, labDir(name), labNamesPath(name));
  }
});

/** Ends lab owner `owner` if it has not (SIGKILL), then removes `paths` (recursively) where they are. */
async function endOwner(owner: Deno.ChildProcess, ...paths: string[]): Promise<void> {
  try {
    owner.kill("SIGKILL");
  } catch { /* it exited, as it should */ }
  await owner.status;
  for (const p of paths) await Deno.remove(p, { recursive: true }).catch(() => {});
}

/** A pid no process has: one that ran and was reaped. */
async function deadPid(): Promise<number> {
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  return gone.pid;
}

/**
 * Plants copies of lab `name`'s names file as a vde killed between its write and its rename leaves them
 * (this vde's under a dead pid, an earlier vde's), live writer `live`'s (not this process: its own
 * writeState would take it) and another lab's; returns their paths.
 */
async function plantCopies(name: string, live: number) {
  const dead = await deadPid();
  const names = labNamesPath(name);
  const stale = [`${names}.${dead}.tmp`, `${names}.tmp`];
  const kept = [`${names}.${live}.tmp`, `${labNamesPath(`${name}x`)}.${dead}.tmp`];
  Deno.mkdirSync(labsBaseDir(), { recursive: true });
  for (const p of [...stale, ...kept]) Deno.writeTextFileSync(p, "{}\n");
  return { stale, kept };
}

const exists = (p: string) => {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test("writeWhole writes beside its file under its own pid and leaves nothing beside it", () => {
  const base = Deno.makeTempDirSync({ prefix: "vde-small5-whole-" });
  try {
    writeWhole(`${base}/f.json`, "1\n");
    assert.deepEqual([...Deno.readDirSync(base)].map((e) => e.name), ["f.json"]);
  } finally {
    Deno.removeSync(base, { recursive: true });
  }
});

Deno.test("vde down sweeps its lab's names-file copies that a killed writer left, not a live writer's nor another lab's", async () => {
  const name = `swept${Deno.pid}`;
  const writer = new Deno.Command("sleep", { args: ["60"], stdin: "null" }).spawn();
  const { stale, kept } = await plantCopies(name, writer.pid);
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ name, pid: 1 << 30, file: "", namespaces: [], started: new Date().toISOString() });
    assert.deepEqual(await cleanupLab(name, 1000), [`removed lab ${name}`]);
    assert.deepEqual(stale.filter(exists), [], "the dead writers' copies are gone");
    assert.deepEqual(kept.filter(exists), kept, "a live writer's and another lab's stay");
  } finally {
    for (const p of [...stale, ...kept]) await Deno.remove(p).catch(() => {});
    writer.kill("SIGKILL");
    await writer.status;
    await Deno.remove(labDir(name), { recursive: true }).catch(() => {});
  }
});

Deno.test("vde up of a lab sweeps the names-file copies a killed vde up of it left, not a live writer's nor another lab's", async () => {
  const name = `resw${Deno.pid}`;
  const writer = new Deno.Command("sleep", { args: ["60"], stdin: "null" }).spawn();
  const { stale, kept } = await plantCopies(name, writer.pid);
  const { lab } = validateLab(
    `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n  links: []\n`,
    {},
  );
  assert.ok(lab !== undefined);
  try {
    const r = await LabRunner.up(lab, { file: "", baseDir: Deno.cwd() });
    try {
      assert.deepEqual(stale.filter(exists), [], "the dead writers' copies are gone");
      assert.deepEqual(kept.filter(exists), kept, "a live writer's and another lab's stay");
      assert.ok(exists(labNamesPath(name)), "its own names file is written");
    } finally {
      await r.down();
    }
    assert.ok(!exists(labNamesPath(name)) && !exists(labDir(name)), "down takes both");
  } finally {
    for (const p of [...stale, ...kept]) await Deno.remove(p).catch(() => {});
    writer.kill("SIGKILL");
    await writer.status;
  }
});

Deno.test("vde down marks its lab as stopping before it signals its vde up, whose console closes first", async () => {
  const name = `stopping${Deno.pid}`;
  const saw = `${labDir(name)}.saw`;
  // The lab's vde up, as it takes SIGTERM: what vde status would say of its lab then.
  const state = new URL("../../src/lab/state.ts", import.meta.url).href;
  const owner = await lingering(
    `import("${state}").then((s) => { Deno.writeTextFileSync("${saw}", ` +
      `s.runState("${name}", s.readState("${name}"))); Deno.exit(0); });`,
  );
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ name, pid: owner.pid, file: "", namespaces: [], started: new Date().toISOString() });
    assert.equal(runState(name, readState(name)!), "starting", "no console yet, and not marked");
    assert.deepEqual(await cleanupLab(name, 10_000), [
      `stopped vde up (pid ${owner.pid})`,
      `removed lab ${name}`,
    ]);
    assert.equal(Deno.readTextFileSync(saw), "stopping");
  } finally {
    await endOwner(owner, saw, labDir(name));
  }
});

Deno.test("vde down marks its lab as stopping only while the directory holds that lab's record, never a new vde up's of the name", () => {
  const name = `remark${Deno.pid}`;
  const mark = `${labDir(name)}/${STOPPING_FILE}`;
  const old = { name, pid: Deno.pid, file: "", namespaces: [], started: "earlier" };
  try {
    // The lab's vde up removed its directory as it stopped, and a new vde up of the name claimed it since.
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ ...old, started: "later" });
    assert.equal(markStoppingOf(name, old).how, "gone");
    assert.throws(() => Deno.lstatSync(mark), Deno.errors.NotFound, "the new lab is not marked");
    assert.equal(runState(name, readState(name)!), "starting");
    // Its own directory still: marked.
    writeState(old);
    const first = markStoppingOf(name, old);
    assert.equal(first.how, "marked");
    assert.equal(runState(name, readState(name)!), "stopping");
    assert.equal(markStoppingOf(name, old).how, "under way", "marked already: a stop is under way");
    first.release();
    assert.equal(runState(name, readState(name)!), "stopping", "its record there: the lab's to remove");
    Deno.removeSync(labDir(name), { recursive: true });
    assert.equal(markStoppingOf(name, old).how, "gone", "gone: nothing to mark");
  } finally {
    Deno.removeSync(labNamesPath(name));
    try {
      Deno.removeSync(labDir(name), { recursive: true });
    } catch { /* removed by the test */ }
  }
});

/** Lab `name`'s directory and record, its vde up process `pid` (since when it started) with `namespaces`. */
function recordLab(name: string, pid: number, namespaces: string[] = []): void {
  Deno.mkdirSync(labDir(name), { recursive: true });
  const pidStart = processStartTime(pid) ?? undefined;
  writeState({ name, pid, pidStart, file: "", namespaces, started: new Date().toISOString() });
}

Deno.test("a vde down whose mark lands in its lab's directory as that is being removed removes the directory, not leaving it holding only the mark", async () => {
  const name = `late${Deno.pid}`;
  const dir = JSON.stringify(labDir(name));
  // The lab's vde up, stopping by itself (Ctrl-C), is removing its directory: it listed it before vde
  // down's mark came in (so takes its record and names file, not the mark), and its rmdir, last, fails.
  const owner = await lingering(
    `Deno.removeSync(${dir} + "/state.json"); Deno.removeSync(${JSON.stringify(labNamesPath(name))}); ` +
      `try { Deno.removeSync(${dir}); } catch { /* not empty: the mark */ } Deno.exit(0);`,
  );
  try {
    recordLab(name, owner.pid);
    assert.deepEqual(await cleanupLab(name, 10_000), [
      `stopped vde up (pid ${owner.pid})`,
      `removed lab ${name}`,
    ]);
    assert.throws(() => Deno.lstatSync(labDir(name)), Deno.errors.NotFound, "no directory left behind");
  } finally {
    await endOwner(owner, labDir(name));
  }
});

Deno.test("a second vde down of a lab being taken down waits for its vde up to stop rather than hurrying it with a second SIGTERM", async () => {
  const name = `second${Deno.pid}`;
  const signalled = `${labDir(name)}.signalled`;
  // The lab's vde up, which the first vde down signalled: it is stopping, and done in a moment.
  const owner = await lingering(`Deno.writeTextFileSync("${signalled}", "again");`);
  try {
    recordLab(name, owner.pid);
    // The first vde down's mark (this process is that vde down), made before its SIGTERM.
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, `${Deno.pid}\n`);
    setTimeout(() => owner.kill("SIGKILL"), 300);
    assert.deepEqual(await cleanupLab(name, 10_000), [
      `vde up (pid ${owner.pid}) was stopping already: waited for it`,
      `removed lab ${name}`,
    ]);
    assert.throws(() => Deno.lstatSync(signalled), Deno.errors.NotFound, "no second SIGTERM");
    assert.throws(() => Deno.lstatSync(labDir(name)), Deno.errors.NotFound);
  } finally {
    await endOwner(owner, signalled, labDir(name), labNamesPath(name));
  }
});

Deno.test("a vde down finding the stop mark of a vde down that was killed before its SIGTERM stops the lab at once, not after waiting out its grace", async () => {
  const name = `stale${Deno.pid}`;
  const dir = JSON.stringify(labDir(name));
  // The lab's vde up, which runs on: no stop is under way, whatever the mark says.
  const owner = await lingering(`Deno.removeSync(${dir}, { recursive: true }); Deno.exit(0);`);
  try {
    recordLab(name, owner.pid);
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, `${await deadPid()}\n`);
    const began = Date.now();
    assert.deepEqual(await cleanupLab(name, 10_000), [
      `stopped vde up (pid ${owner.pid})`,
      `removed lab ${name}`,
    ]);
    assert.ok(Date.now() - began < 5_000, "no grace waited out for a stop nobody began");
    assert.throws(() => Deno.lstatSync(labDir(name)), Deno.errors.NotFound);
  } finally {
    await endOwner(owner, labDir(name), labNamesPath(name));
  }
});

Deno.test("vde up of a lab whose name another run has says how that run stands: up, coming up, being taken down, or left behind", () => {
  const name = `there${Deno.pid}`;
  const run = { name, pid: Deno.pid, file: "", namespaces: [], started: new Date().toISOString() };
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState(run);
    assert.equal(
      alreadyThere(name, run),
      `lab ${name} is coming up already (its vde up, pid ${Deno.pid}, is bringing it up): ` +
        "`vde status` lists it as starting until it is up",
    );
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, "");
    assert.equal(
      alreadyThere(name, run),
      `lab ${name} is being taken down (its vde up, pid ${Deno.pid}, is stopping): ` +
        "`vde status` lists it as stopping until it is gone; bring it up again then",
    );
    assert.equal(
      alreadyThere(name, { ...run, pid: 1 << 30 }),
      `lab ${name} was not taken down (its vde up, pid ${1 << 30}, is gone): run \`vde down ${name}\``,
    );
  } finally {
    Deno.removeSync(labDir(name), { recursive: true });
    Deno.removeSync(labNamesPath(name));
  }
});

Deno.test("the loser of two vde up at once, whose mkdir found the winner's directory, is told how the winner's run stands", async () => {
  const name = `lost${Deno.pid}`;
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    // No record yet (the winner between its mkdir and its record): nothing more to say.
    assert.equal(
      await whyDirTaken(name, labDir(name)),
      `lab ${name} is starting or stopping (${labDir(name)} exists); if not, remove it`,
    );
    // The winner wrote its record since the loser looked for one: coming up, not "remove it".
    writeState({ name, pid: Deno.pid, file: "", namespaces: [], started: new Date().toISOString() });
    assert.equal(
      await whyDirTaken(name, labDir(name)),
      `lab ${name} is coming up already (its vde up, pid ${Deno.pid}, is bringing it up): ` +
        "`vde status` lists it as starting until it is up",
    );
  } finally {
    Deno.removeSync(labDir(name), { recursive: true });
    try {
      Deno.removeSync(labNamesPath(name));
    } catch { /* no record written */ }
  }
});

Deno.test("a lab marked as stopping is stopping while its vde up runs, and dead once that is gone; a mark whose maker is gone says nothing", async () => {
  const name = `marked${Deno.pid}`;
  try {
    Deno.mkdirSync(labDir(name), { recursive: true });
    writeState({ name, pid: Deno.pid, file: "", namespaces: [], started: new Date().toISOString() });
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, "");
    assert.equal(runState(name, readState(name)!), "stopping");
    assert.equal(runState(name, { ...readState(name)!, pid: 1 << 30 }), "dead");
    // Marked by a vde down that was killed before its SIGTERM: nothing stops the lab, which runs on.
    Deno.writeTextFileSync(`${labDir(name)}/${STOPPING_FILE}`, `${await deadPid()}\n`);
    assert.equal(
      runState(name, readState(name)!),
      "starting",
      "no console in this test: starting, not stopping",
    );
  } finally {
    Deno.removeSync(labDir(name), { recursive: true });
    Deno.removeSync(labNamesPath(name));
  }
});

Deno.test("vde down of a lab whose vde up removed its record as it stopped deletes none of a new vde up's namespaces of the name", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `rv25b${Deno.pid}`;
  const ns = `vde-${name}-h1`;
  // The old lab's vde up deletes its namespaces and directory on SIGTERM; a new vde up of the name claims
  // the directory at once and makes its own h1 (its record not read yet), before vde down goes on.
  const owner = await lingering(
    `Deno.removeSync(${JSON.stringify(labDir(name))}, { recursive: true }); ` +
      `Deno.mkdirSync(${JSON.stringify(labDir(name))}, { mode: 0o700 }); ` +
      `new Deno.Command("ip", { args: ["netns", "add", "${ns}"] }).outputSync(); Deno.exit(0);`,
  );
  try {
    recordLab(name, owner.pid, [ns]);
    const done = await cleanupLab(name, 10_000);
    assert.match(done.at(-1)!, /a new vde up of .* has its directory now/, done.join("\n"));
    const listed = new TextDecoder().decode(
      new Deno.Command("ip", { args: ["netns", "list"] }).outputSync().stdout,
    );
    assert.match(listed, new RegExp(`^${ns}\\b`, "m"), "the new lab's h1 is there");
  } finally {
    await endOwner(owner, labDir(name));
    await new Deno.Command("ip", { args: ["netns", "delete", ns], stderr: "null" }).output();
    // Its names file too: every run left /run/vde/rv25bPID.names.json.
    removeLabFiles(name);
  }
});
