/**
 * A host's `exec` commands as lab files write them: a server left in the
 * background (`busybox httpd ...`, `sleep N &`) must not hold `vde up` (its
 * output used to be a pipe that process kept open, so bring-up waited a
 * minute and failed, leaving a dead lab), and `vde down` ends it. A signal
 * while a slow `exec` runs takes the lab down at once and says so in one
 * line, in the background (`vde up -d`, Ctrl-C while it waits) too. The
 * console's `exec` starts after the change under way, not in its midst, unless that change's own exec
 * runs it; a console client that goes stops its command.
 */
import assert from "node:assert/strict";
import {
  processesMentioning,
  skipUnless,
  skipUnlessRoot,
  spawnManaged,
  waitFor,
} from "../helpers/processes.ts";
import { tmuxMissing, TmuxSession } from "../console/_tmux.ts";
import { labDir, labsBaseDir } from "../../src/lab/names.ts";
import { LabRunner } from "../../src/lab/runner.ts";
import { validateLab } from "../../src/lab/validate.ts";
import {
  forceDown,
  hostWithExec,
  leftovers,
  TWO_HOSTS,
  uniqueLab,
  vde,
  vdeCommand,
  withLabFile,
  withLabUp,
} from "./_helpers.ts";

/** A sleep that only this test's process runs, found again by its command line. */
const MARK = `600.${Deno.pid}`;

const BACKGROUND_LAB = hostWithExec("10.9.2.1/24", [`sleep ${MARK} &`, "echo after it"]);

Deno.test("vde up -d of a host whose exec leaves a process in the background comes up at once; vde down ends that process", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: BACKGROUND_LAB }, async (name, file) => {
    const started = Date.now();
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.ok(Date.now() - started < 30_000, `vde up -d took ${Date.now() - started} ms`);
    const log = await Deno.readTextFile(`${labsBaseDir()}/${name}.log`);
    assert.match(log, /h1 {2}after it/, "the next exec ran and was logged");
    assert.equal(processesMentioning(MARK).length, 1, "the background process runs");
    // Its output file is in the lab's runtime directory, where it can be seen growing (not a deleted
    // /tmp file); the finished exec's file is gone.
    assert.equal(outputFiles(name).length, 1, `exec output files: ${outputFiles(name).join(", ")}`);
    // The same from the lab's console: the reply comes when the shell ends, not when the sleep does.
    const term = await vde(["term", name, "-c", `exec h1 sleep ${MARK}1 & echo started`], 30_000);
    assert.equal(term.code, 0, term.stderr);
    assert.equal(term.stdout, "started\n");
    assert.equal(outputFiles(name).length, 2, "the console's exec left one more, held by its sleep");
    // A host's name runs a command there, as a switch's name runs its console command; a host added live too.
    const byName = await vde(
      ["term", name, "-c", "h1 echo by name", "-c", "add host h2 address 10.9.2.2/24", "-c", "h2 echo added"],
      30_000,
    );
    assert.equal(byName.stdout, "by name\nadded host h2\nadded\n", byName.stderr);
    // A command that fails says so, its output and status on stderr, not a bare 1005 Input/output error.
    const failed = await vde(["term", name, "-c", "h1 sh -c 'echo oops; exit 3'"], 30_000);
    assert.equal(failed.code, 1);
    assert.equal(failed.stderr, "vde: h1 sh -c 'echo oops; exit 3': oops\n(sh exited with status 3)\n");
    const bare = await vde(["term", name, "-c", "h1"]);
    assert.equal(bare.stderr, "vde: h1: usage: h1 COMMAND (as exec h1 COMMAND)\n");
    const down = await vde(["down", name]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(processesMentioning(MARK), [], "vde down ends what exec left running");
    assert.deepEqual(await leftovers(name), []);
  });
});

/** The output files of `exec`s in lab `name`'s runtime directory. */
function outputFiles(name: string): string[] {
  return [...Deno.readDirSync(labDir(name))].map((e) => e.name).filter((n) => /^exec-.*\.out$/.test(n));
}

Deno.test("a host's exec that runs past its time says it was killed after that time, not its last output line", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = uniqueLab();
  const text = hostWithExec("10.9.2.1/24", [`echo last words; sleep ${MARK}2`]).replace(
    "name: x",
    `name: ${name}`,
  );
  const { lab } = validateLab(text);
  assert.ok(lab !== undefined);
  try {
    await assert.rejects(
      LabRunner.up(lab, { file: "", baseDir: Deno.cwd(), execTimeoutMs: 1000 }),
      new RegExp(`^Error: h1: exec "echo last words; sleep ${MARK}2" failed: killed after 1 s$`),
    );
    assert.deepEqual(await leftovers(name), []);
  } finally {
    await forceDown(name);
  }
});

const SLOW_LAB = hostWithExec("10.9.2.1/24", [`sleep ${MARK}`]);

Deno.test("SIGTERM to vde up while a host's exec runs ends that exec and takes the lab down, in one line", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: SLOW_LAB }, async (name, file) => {
    const up = spawnManaged([...vdeCommand(), "up", file], { name: "vde up" });
    await waitFor(() => processesMentioning(MARK).length > 0 || undefined, {
      timeoutMs: 30_000,
      what: "the exec command running",
    });
    // stop() sends SIGTERM and waits for the output to be read whole.
    const st = await up.stop({ timeoutMs: 30_000 });
    assert.equal(st.code, 1);
    assert.equal(
      up.stderr.split("\n").filter((l) => l.startsWith("vde:")).join("\n"),
      `vde: lab ${name}: SIGTERM while it came up; everything made was taken down`,
    );
    assert.deepEqual(processesMentioning(MARK), []);
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("Ctrl-C while vde up -d waits for its lab stops the lab too, rather than leaving it up behind the prompt", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: SLOW_LAB }, async (name, file) => {
    const up = spawnManaged([...vdeCommand(), "up", "-d", file], { name: "vde up -d" });
    await waitFor(() => processesMentioning(MARK).length > 0 || undefined, {
      timeoutMs: 30_000,
      what: "the background lab's exec running",
    });
    // A terminal's Ctrl-C reaches the waiting vde up; the lab in the background has its own session.
    const st = await up.stop({ signal: "SIGINT", timeoutMs: 30_000 });
    assert.equal(st.code, 1);
    assert.equal(
      up.stderr,
      `vde: lab ${name}: SIGINT while it came up; everything made was taken down\n`,
    );
    assert.deepEqual(processesMentioning(MARK), []);
    assert.deepEqual(await leftovers(name), []);
    assert.match((await vde(["status", name])).stderr, /no lab .* is up/);
  });
});

Deno.test("the console's exec typed while an apply runs waits for it, and sees what the apply made last", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const marker = `${file.slice(0, file.lastIndexOf("/"))}/h3-configured`;
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "  links:\n",
        `    h3: { kind: host, exec: ["sleep 2; echo yes > ${marker}"] }\n  links:\n`,
      ),
    );
    const applying = vde(["up", "--apply", file]);
    // Once h3's namespace is there, the apply is under way: its exec, the last step, has yet to end.
    await waitFor(
      async () => (await vde(["term", name, "-c", "nodes"])).stdout.includes("h3 ") || undefined,
      { timeoutMs: 30_000, what: "h3 added" },
    );
    const read = await vde(["term", name, "-c", `exec h1 cat ${marker}`]);
    assert.equal(read.stdout, "yes\n", read.stderr);
    assert.equal((await applying).code, 0);
  });
});

Deno.test("a host's exec in an applied file that runs vde term LAB -c 'exec h1 ...' is not held behind its own apply", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const marker = `${file.slice(0, file.lastIndexOf("/"))}/from-h1`;
    const term = [...vdeCommand(), "term", name, "-c", "'exec h1 ip -br link show eth0'"].join(" ");
    await Deno.writeTextFile(
      file,
      (await Deno.readTextFile(file)).replace(
        "  links:\n",
        `    h3: { kind: host, exec: ["${term} > ${marker}"] }\n  links:\n`,
      ),
    );
    // Held behind itself, the inner exec waited for the apply, which waited for it: 60 s, then a failure.
    const applied = await vde(["up", "--apply", file], 50_000);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(await Deno.readTextFile(marker), /^eth0 /);
  });
});

Deno.test("Ctrl-C on vde term LAB -c 'exec h1 CMD' stops CMD in the lab, by SIGKILL when it ignores SIGTERM", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const commands = [`sleep ${MARK}3`, `trap '' TERM; sleep ${MARK}4`];
    const terms = commands.map((c) =>
      spawnManaged([...vdeCommand(), "term", name, "-c", `exec h1 ${c}`], { name: "vde term" })
    );
    // The sleep itself, not the vde term whose command line names it too.
    for (const m of [`${MARK}3`, `${MARK}4`]) {
      await waitFor(() => sleeps(m).length > 0 || undefined, {
        timeoutMs: 30_000,
        what: `${m} running`,
      });
    }
    for (const term of terms) await term.stop({ signal: "SIGINT", timeoutMs: 10_000 });
    // Left alone, both ran for the console's 120 s.
    for (const m of [`${MARK}3`, `${MARK}4`]) {
      await waitFor(() => sleeps(m).length === 0 || undefined, {
        timeoutMs: 15_000,
        what: `${m} stopped`,
      });
    }
    assert.equal((await vde(["term", name, "-c", "h1 echo still up"])).stdout, "still up\n");
  });
});

Deno.test("Ctrl-C inside vde term LAB stops the running exec in the lab, and the console goes on", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const dir = await Deno.makeTempDir({ prefix: "vde-exec-tty-" });
    await Deno.mkdir(`${dir}/home`);
    const tmux = await TmuxSession.start(`${dir}/tmux.sock`, `${vdeCommand().join(" ")} term ${name}`, {
      HOME: `${dir}/home`,
    });
    try {
      await tmux.waitFor((s) => /\$$/.test(s), "the lab console's prompt", 30_000);
      await tmux.keys(`exec h1 echo begun; sleep ${MARK}5`, "Enter");
      await waitFor(() => sleeps(`${MARK}5`).length > 0 || undefined, {
        timeoutMs: 30_000,
        what: "the sleep",
      });
      await tmux.keys("C-c");
      // Left alone, it ran for the console's 120 s; its output so far comes back, as at the lab's own shell.
      // "(stopped)\n": the screen is read as drawn, and the line after it (the prompt) may not be yet.
      const stopped = await tmux.waitFor(
        (s) => s.includes("(stopped)\n"),
        "Ctrl-C to stop the sleep",
        15_000,
      );
      assert.match(stopped, /begun\n\(stopped\)\n/);
      assert.equal(sleeps(`${MARK}5`).length, 0, "the sleep is gone from the lab");
      await tmux.keys("h1 echo still $((40 + 2))", "Enter");
      await tmux.waitFor((s) => s.includes("still 42\n"), "the console to run the next command");
      // Ctrl-C in the same write as Enter belongs to that line: its ETX must not overtake the line.
      await tmux.keys(`exec h1 echo again; sleep ${MARK}6`, "Enter", "C-c");
      await tmux.waitFor(
        (s) => s.split("(stopped)").length === 3,
        "a Ctrl-C typed with Enter to stop that line's command",
        15_000,
      );
      assert.equal(sleeps(`${MARK}6`).length, 0, "the second sleep is gone from the lab");
    } finally {
      await tmux.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
});

/** The `sleep ARG` processes of this test. */
function sleeps(arg: string): number[] {
  return processesMentioning(arg).filter((pid) => {
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`) === `sleep\0${arg}\0`;
    } catch {
      return false;
    }
  });
}
