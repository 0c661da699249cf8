/**
 * The lab's system helpers: a shell command run in a host's namespace that
 * runs past its time (the console's `exec h1 ping 10.0.0.9`, 120 s) is
 * killed with what it started, as its "killed after N s" says, not only the
 * shell around it: the command itself used to run on in the lab's namespace.
 */
import assert from "node:assert/strict";
import { processesMentioning, RUN_PREFIX, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { deleteNetns, ip, runCommand, runInNetns } from "../../src/lab/system.ts";
import { missingProgram } from "../../src/os/command_lookup.ts";

/** Runs `body` with a namespace and a directory of its own, removed after it. */
async function withNetns(name: string, body: (ns: string, dir: string) => Promise<void>): Promise<void> {
  const ns = `${RUN_PREFIX}${name}`;
  const dir = await Deno.makeTempDir({ prefix: RUN_PREFIX });
  await ip("netns", "add", ns);
  try {
    await body(ns, dir);
  } finally {
    await deleteNetns(ns);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a namespace command killed for its time takes what it started with it", async (t) => {
  if (skipUnlessRoot(t)) return;
  const mark = `700.${Deno.pid}`;
  await withNetns("sys", async (ns, dir) => {
    // 3 s for `ip netns exec` and the echo to run on a loaded 2-core CI machine; the sleep needs 700.
    const r = await runInNetns(ns, `echo started; exec sleep ${mark}`, 3000, dir);
    assert.equal(r.timedOut, true);
    assert.equal(r.output, "started\n");
    // SIGKILL is not instant: the group's processes go within moments, never after the command's own time.
    await waitFor(() => processesMentioning(mark).length === 0 || undefined, {
      timeoutMs: 5000,
      what: "the sleep the timed-out command started to end",
    });
  });
});

Deno.test("a namespace command that ends in time leaves what it put in the background running", async (t) => {
  if (skipUnlessRoot(t)) return;
  const mark = `701.${Deno.pid}`;
  await withNetns("sys2", async (ns, dir) => {
    const r = await runInNetns(ns, `sleep ${mark} & echo left`, 10_000, dir);
    assert.equal(r.timedOut, false);
    assert.equal(r.code, 0);
    assert.equal(r.output, "left\n");
    // The sleep alone: the group's anchor is a fork of the shell that names the command until it execs
    // cat, which may come a moment after a command this short has ended.
    await waitFor(() => processesMentioning(mark).length === 1 || undefined, {
      timeoutMs: 5000,
      what: `the background sleep alone to run on (${processesMentioning(mark).length})`,
    });
  });
  assert.deepEqual(processesMentioning(mark), [], "deleting the namespace ends it");
});

Deno.test("a namespace command that is not there is said as sh says it at a terminal, naming no temporary file", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNetns("sys3", async (ns, dir) => {
    const r = await runInNetns(ns, "nosuchcommand-vde", 10_000, dir);
    assert.equal(r.code, 127);
    assert.equal(r.output, "sh: 1: nosuchcommand-vde: not found\n");
    // exit, && and a quoted argument still mean what they say.
    const q = await runInNetns(ns, `echo "a  b" && exit 3; echo never`, 10_000, dir);
    assert.deepEqual([q.code, q.output], [3, "a  b\n"]);
  });
});

/**
 * A process given `pid` as its own and leading a group of its own (`setsid sleep`), as the kernel may give
 * a freed group's number to the next process: /proc/sys/kernel/ns_last_pid set to the one before, then a
 * spawn, until one gets it (another process may fork in between; a zombie of the group, not yet reaped by
 * init, holds the number a moment) or `withinMs` has passed: then the last one spawned, with another pid.
 */
async function strangerAt(pid: number, withinMs: number): Promise<Deno.ChildProcess> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    await Deno.writeTextFile("/proc/sys/kernel/ns_last_pid", String(pid - 1));
    const child = new Deno.Command("setsid", { args: ["sleep", "60"], stdout: "null", stderr: "null" })
      .spawn();
    if (child.pid === pid || Date.now() > deadline) return child;
    child.kill("SIGKILL");
    await child.status;
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("a namespace command stopped with a grace keeps its group's number until the SIGKILL that follows: a process given that number once the command ended, leading a group of its own, is not killed", async () => {
  const mark = `702.${Deno.pid}`;
  await withNetns("sys4", async (ns, dir) => {
    const stop = new AbortController();
    let group = 0;
    const grace = 1500;
    // The mark split by '' in the shell's line: only the sleep, after the echo, mentions it (the shell's own
    // command line did, before its echo ran, and the stop came before any output 1 time in 3 under load).
    const run = runInNetns(ns, `echo started; exec sleep 702.''${Deno.pid}`, 30_000, dir, stop.signal, {
      stopGraceMs: grace,
      onStart: (pid) => group = pid,
    });
    await waitFor(() => processesMentioning(mark).length > 0 || undefined, {
      timeoutMs: 5000,
      what: "the command to run",
    });
    stop.abort();
    // The SIGTERM ends the command (its leader too) well within the grace.
    assert.equal((await run).output, "started\n");
    const stranger = await strangerAt(group, grace / 2);
    try {
      const ended = await Promise.race([
        stranger.status.then((s) => s.signal ?? `exit ${s.code}`),
        new Promise<null>((r) => setTimeout(() => r(null), grace + 1000)),
      ]);
      assert.equal(ended, null, `process ${stranger.pid} (the group was ${group}) was ended: ${ended}`);
    } finally {
      try {
        stranger.kill("SIGKILL");
      } catch { /* ended */ }
      await stranger.status;
    }
  });
});

Deno.test("a namespace command has no child it did not start: the group's anchor is not its child, and is gone once it ends", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withNetns("sys5", async (ns, dir) => {
    let group = 0;
    // `read` is the shell's own: it forks nothing, so the children listed are those the command had.
    const r = await runInNetns(
      ns,
      'read -r k < /proc/$$/task/$$/children; echo "[$k]"',
      10_000,
      dir,
      undefined,
      {
        onStart: (pid) => group = pid,
      },
    );
    assert.deepEqual([r.code, r.output], [0, "[]\n"]);
    await waitFor(() => !groupHasProcesses(group) || undefined, {
      timeoutMs: 5000,
      what: `the anchor of group ${group} to end with the command`,
    });
  });
});

/** Whether any process is in group `pgid` (/proc/PID/stat's fifth field). */
function groupHasProcesses(pgid: number): boolean {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid) return true;
    } catch { /* gone */ }
  }
  return false;
}

Deno.test("a program the lab runs that is not on the PATH is named, with the PATH looked in and its Debian package", async () => {
  await assert.rejects(
    runCommand(["vde-test-no-such-program"]),
    new Error(`cannot run vde-test-no-such-program: it is not on the PATH (${Deno.env.get("PATH")})`),
  );
  assert.equal(
    missingProgram("ip", "/usr/local/bin:/usr/bin", ["/usr/local/bin", "/usr/bin"]),
    "cannot run ip: it is not on the PATH (/usr/local/bin:/usr/bin); it is Debian's iproute2 (apt-get install iproute2)",
  );
  assert.equal(missingProgram("/opt/x/ip", ""), "cannot run /opt/x/ip: there is no such file");
});

Deno.test("a program installed in a system directory the PATH leaves out (su without -) is said to be there, not to install", () => {
  // iproute2 is installed here: `ip` is in /usr/sbin, or /usr/bin with usrmerge's links.
  const dir = ["/usr/sbin", "/usr/bin"].find((d) => {
    try {
      return Deno.statSync(`${d}/ip`).isFile;
    } catch {
      return false;
    }
  });
  assert.ok(dir !== undefined, "iproute2's ip in /usr/sbin or /usr/bin");
  assert.equal(
    missingProgram("ip", "/usr/local/bin"),
    `cannot run ip: it is in ${dir}, which the PATH (/usr/local/bin) leaves out: add it (PATH=$PATH:${dir})`,
  );
});
