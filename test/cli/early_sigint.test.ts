/**
 * A SIGINT sent to a vde command in its first moments stops it, from a
 * script as from a terminal: `vde switch` and `vde up -d` of a small lab,
 * each started as a script's `cmd &` starts it (SIGINT ignored, which Deno keeps until a listener) and sent
 * SIGINT 20 ms to 1 s after it was started, 10 times at each of 5 moments.
 * Every one exits within a bound, with a status that says SIGINT (death by
 * it, or the command's own status after its cleanup), and leaves nothing:
 * no process, no socket, no namespace, no lab directory or log.
 *
 * Before vde.ts listened first (src/cli/early_sigint.ts), each command
 * listened only once its modules were loaded, 110-370 ms in on a busy
 * 2-core machine, and a SIGINT before that was lost: the command served
 * on. What remains is Deno's own start, before the first line of
 * JavaScript: a SIGINT sent while /proc shows it still ignored and not
 * caught is told again once vde listens, and that second one must stop it
 * as any other does. How early vde listens is pinned by vde.test.ts (its
 * static imports are early_sigint.ts alone), not here: Deno's start took
 * 35-190 ms under load 12 on 2 cores, and more with trials at once.
 *
 * `vde plug` into Debian's vde_switch, likewise, must leave no `.PID-N`
 * socket in the switch's directory and no port on it: one told as it
 * joined the switch now and then did (plug_signal_start.test.ts holds
 * those moments).
 */
import assert from "node:assert/strict";
import { labDir, netnsName } from "../../src/lab/names.ts";
import { commandLine } from "../../src/os/processes.ts";
import {
  hasCommand,
  pathExists,
  processesMentioning,
  skipUnless,
  sleep,
  waitFor,
} from "../helpers/processes.ts";
import { portBlocks, startCSwitch, VDE_CLI, waitForConsole } from "../helpers/switches.ts";
import { listDir } from "../helpers/vde_clients.ts";
import { forceDown, labFile, uniqueLab } from "../lab/_helpers.ts";

/** When after its start each command is sent SIGINT. */
const MOMENTS_MS = [20, 100, 250, 500, 1000];
const TRIES = 10;
/**
 * Trials run one at a time: three at once on a 2-core machine under load (9) took Deno 90-240 ms to run its
 * first line, where one took 40-115 ms.
 */
const AT_ONCE = 1;
interface Trial {
  moment: number;
  /** /proc said vde caught SIGINT just before it was sent. */
  caught: boolean;
  /** The process had ended before the signal (a lab that came up first). */
  endedFirst: boolean;
  /** A second SIGINT was sent: the first came during Deno's own start and met the ignored disposition. */
  resent: boolean;
  /**
   * Not caught, and it ended well within 200 ms: a `vde up -d` whose lab had come up and that had let go of
   * SIGINT on its way out (the signal came after the news, as if after the end). A SIGINT lost in Deno's own
   * start cannot look so: a lab takes a second and more to come up.
   */
  upFirst: boolean;
  status: Deno.CommandStatus | null;
  stdout: string;
  stderr: string;
}

/**
 * Whether vde at `pid` catches SIGINT (a listener of Deno's is installed), from /proc; false once it has
 * gone, and while `pid` is still the shell that starts it: dash catches SIGINT until its trap, and one sent
 * then is dropped with the shell as it execs.
 */
function catchesSigint(pid: number): boolean {
  if (commandLine(pid)?.includes(VDE_CLI.at(-1)!) !== true) return false;
  try {
    const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n").find((l) =>
      l.startsWith("SigCgt:")
    );
    return line !== undefined && (BigInt(`0x${line.slice(7).trim()}`) & 2n) !== 0n;
  } catch {
    return false;
  }
}

/**
 * `vde ARGS` as `deno task install`, the README's wrapper and every test run it (VDE_CLI: src/cli/vde.ts),
 * started as a script without job control starts `cmd &`: with SIGINT ignored.
 */
function startIgnoringSigint(args: string[]): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", 'trap "" INT; exec "$@"', "sh", ...VDE_CLI, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** `vde ARGS` started as startIgnoringSigint starts it, sent SIGINT `moment` ms later. */
async function interrupt(args: string[], moment: number, boundMs: number): Promise<Trial> {
  const child = startIgnoringSigint(args);
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const ended = child.status.then((s) => s);
  let exited = false;
  ended.then(() => exited = true);
  const endedWithin = (ms: number) =>
    Promise.race([ended, sleep(ms).then(() => null)]) as Promise<Deno.CommandStatus | null>;
  await sleep(moment);
  const endedFirst = exited;
  const caught = catchesSigint(child.pid);
  const signal = () => {
    try {
      child.kill("SIGINT");
    } catch { /* ended meanwhile */ }
  };
  signal();
  let resent = false;
  let upFirst = false;
  let status: Deno.CommandStatus | null;
  if (caught || endedFirst) {
    status = await endedWithin(boundMs);
  } else {
    // Perhaps lost to Deno's own start: once vde listens, it is told again.
    status = await endedWithin(200);
    upFirst = status?.success === true;
    if (status === null) {
      resent = true;
      await waitFor(() => exited || catchesSigint(child.pid), { timeoutMs: boundMs, what: "vde to listen" });
      signal();
      status = await endedWithin(boundMs);
    }
  }
  if (status === null) {
    child.kill("SIGKILL");
    await child.status;
  }
  const [stdout, stderr] = await output;
  return { moment, caught, endedFirst, resent, upFirst, status, stdout, stderr };
}

/** Runs `trial` at every moment TRIES times, AT_ONCE at a time, each with its own index. */
async function everyMoment(
  trial: (moment: number, index: number) => Promise<Trial | undefined>,
): Promise<void> {
  const queue = MOMENTS_MS.flatMap((m) => Array.from({ length: TRIES }, () => m));
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const index = next++;
      await trial(queue[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
}

/** What a trial must show: it ended within the bound, and by SIGINT (died of it, or the command's status). */
function assertStopped(
  t: Trial,
  what: string,
  statusOk: (s: Deno.CommandStatus, t: Trial) => boolean,
): Trial {
  const said = `${what} at ${t.moment} ms: ${JSON.stringify(t)}`;
  assert.ok(t.status !== null, `still running after SIGINT: ${said}`);
  assert.ok(t.status.signal === "SIGINT" || statusOk(t.status, t), `ended otherwise than by SIGINT: ${said}`);
  return t;
}

Deno.test("vde switch sent SIGINT 20 ms to 1 s after it starts, from a script (SIGINT ignored), stops and leaves its directory gone", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-early-sigint-" });
  try {
    await everyMoment(async (moment, i) => {
      const dir = `${base}/sw${i}`;
      const t = await interrupt(["switch", "--sock", dir], moment, 10_000);
      // After its cleanup the switch exits 0, as for SIGTERM (README, vde switch).
      assertStopped(
        t,
        "vde switch",
        (s, t) => s.code === 0 && /SIGINT, cleaning up and exiting/.test(t.stderr),
      );
      assert.deepEqual(processesMentioning(dir), [], `a process is left at ${moment} ms`);
      assert.equal(await pathExists(dir), false, `${dir} is left at ${moment} ms: ${t.stderr}`);
      return t;
    });
  } finally {
    for (const pid of processesMentioning(base)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("vde switch as the tests start it, sent SIGINT the moment it listens, stops at once and leaves its directory gone, every time", async () => {
  const base = await Deno.makeTempDir({ prefix: "vde-first-sigint-" });
  try {
    for (let i = 0; i < TRIES; i++) {
      const dir = `${base}/sw${i}`;
      const child = startIgnoringSigint(["switch", "--sock", dir]);
      const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      // As early as a SIGINT can count: the first moment /proc says vde catches it (before, Deno's own start
      // keeps the ignored disposition it inherited).
      await waitFor(() => catchesSigint(child.pid), {
        timeoutMs: 30_000,
        intervalMs: 1,
        what: "vde to listen",
      });
      child.kill("SIGINT");
      const status = await Promise.race([child.status, sleep(10_000).then(() => null)]);
      if (status === null) {
        child.kill("SIGKILL");
        await child.status;
      }
      const [, stderr] = await output;
      const said = `try ${i}: ${JSON.stringify({ status, stderr })}`;
      assert.ok(status !== null, `still running 10 s after SIGINT: ${said}`);
      // Before the switch listens itself, the early listener ends it as SIGINT does; after, its cleanup exits 0.
      assert.ok(status.signal === "SIGINT" || status.code === 0, said);
      assert.deepEqual(processesMentioning(dir), [], `a process is left: ${said}`);
      assert.equal(await pathExists(dir), false, `${dir} is left: ${said}`);
    }
  } finally {
    for (const pid of processesMentioning(base)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("vde up -d of a lab sent SIGINT 20 ms to 1 s after it starts, from a script (SIGINT ignored), stops and leaves no lab, namespace or log", async () => {
  await everyMoment(async (moment) => {
    const name = uniqueLab();
    const file = await labFile(name, {
      text: `name: ${name}\ntopology:\n  nodes:\n    sw1: { kind: switch }\n    h1: { kind: host }\n` +
        "  links:\n    - endpoints: [h1, sw1]\n",
    });
    try {
      const t = await interrupt(["up", "-d", file], moment, 30_000);
      if (t.endedFirst || t.upFirst) {
        // It came up before the signal: nothing to stop, and the lab is taken down below.
        assert.equal(t.status?.code, 0, t.stderr);
        return undefined;
      }
      // Told while its background copy came up, it says the lab was taken down and exits 1 (README, vde up).
      assertStopped(t, "vde up -d", (s, t) => s.code === 1 && /SIGINT/.test(t.stderr));
      assert.doesNotMatch(t.stdout, /is up in the background/, `at ${moment} ms`);
      assert.deepEqual(
        processesMentioning(name).map(described),
        [],
        `a process of the lab is left at ${moment} ms: ${JSON.stringify(t)}`,
      );
      assert.equal(await pathExists(labDir(name)), false, `${labDir(name)} is left at ${moment} ms`);
      assert.equal(
        await pathExists(`/run/netns/${netnsName(name, "h1")}`),
        false,
        `its namespace at ${moment} ms`,
      );
      assert.equal(await pathExists(`${labDir(name)}.log`), false, `its log at ${moment} ms: ${t.stderr}`);
      return t;
    } finally {
      await forceDown(name);
      await Deno.remove(file.slice(0, file.lastIndexOf("/")), { recursive: true });
    }
  });
});

Deno.test("vde plug into Debian's vde_switch sent SIGINT 20 ms to 1 s after it starts, from a script (SIGINT ignored), stops and leaves no socket and no port", async (t) => {
  for (const tool of ["vde_switch", "unixcmd"]) {
    if (skipUnless(t, await hasCommand(tool) ? null : `${tool} is not installed`)) return;
  }
  const base = await Deno.makeTempDir({ prefix: "vde-early-sigint-plug-" });
  const dir = `${base}/sw`;
  const mgmt = `${base}/mgmt`;
  const sw = await startCSwitch(dir, { extraArgs: ["-M", mgmt] });
  try {
    await waitForConsole(mgmt);
    await everyMoment(async (moment) => {
      const t = await interrupt(["plug", `vde://${dir}`, "null://"], moment, 10_000);
      // Stopped by its own listener, the plug exits 0 (README, vde plug).
      assertStopped(t, "vde plug", (s) => s.code === 0);
      const left = (await listDir(dir)).filter((n) => n.startsWith("."));
      assert.deepEqual(left, [], `sockets left at ${moment} ms: ${t.stderr}`);
      let ports: string[] = [];
      await waitFor(async () => (ports = await portBlocks(mgmt)).length === 0, {
        timeoutMs: 5_000,
        what: "no port on the switch",
      }).catch(() => assert.fail(`a port is left at ${moment} ms:\n${ports.join("")}`));
      return t;
    });
  } finally {
    await sw.stop();
    await Deno.remove(base, { recursive: true });
  }
});

/** A process as a failure message should name it: its pid, parent, state and command line. */
function described(pid: number): string {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "?";
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
    return `${pid} (parent ${field("PPid")}, ${field("State")}): ${cmdline}`;
  } catch {
    return `${pid} (gone)`;
  }
}
