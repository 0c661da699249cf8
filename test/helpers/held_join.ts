/**
 * A rig for the moment a command joins a switch that is held: the switch
 * is stopped (SIGSTOP), so the kernel queues the command's connection and
 * request and the command waits for the reply as long as a test likes;
 * the test then signals the command and looks at what it left. Shared by
 * the tests of `vde plug`, `vde slirp` (plug_signal_start.test.ts) and of
 * `vde wirefilter`, `vde cable`, `vde switch --cable`
 * (join_signal_start.test.ts).
 */
import assert from "node:assert/strict";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";
import { hasCommand, type ManagedProcess, spawnManaged, waitFor } from "./processes.ts";
import {
  portBlocks,
  REPO_ROOT,
  startSwitchOf,
  type SwitchHandle,
  type SwitchKind,
  waitForConsole,
} from "./switches.ts";
import { listDir } from "./vde_clients.ts";
import { inTempDir } from "./temp_dir.ts";

/** How long a signalled command may take to end: far less than the minute a stalled thread's stop waited. */
export const END_MS = 10_000;

/** Both switches a join is tested against, and how a test names them. */
export const KINDS: [SwitchKind, string][] = [["c", "Debian's vde_switch"], ["ours", "our switch"]];

/** `vde ARGS` run by `entry`: src/cli/vde.ts (as the installed command), or a test's stand-in for it. */
export function vde(args: string[], entry = `${REPO_ROOT}/src/cli/vde.ts`): ManagedProcess {
  return spawnManaged([Deno.execPath(), ...DENO_RUN, "--quiet", entry, ...args], { name: `vde ${args[0]}` });
}

/** The handshake sockets (`.PID-N`) of process `pid` in the switch directory `dir`. */
export async function clientSockets(dir: string, pid: number): Promise<string[]> {
  const prefix = `.${String(pid).padStart(5, "0")}-`;
  return (await listDir(dir)).filter((n) => n.startsWith(prefix));
}

/** Waits until `command` (process `pid`) has its handshake socket in `dir`: it waits for the held switch. */
export async function untilJoining(dir: string, command: ManagedProcess, what: string): Promise<void> {
  await waitFor(async () => (await clientSockets(dir, command.pid)).length > 0, {
    timeoutMs: 30_000,
    what: `${what}'s socket in the switch's directory`,
  }).catch(() => {
    throw new Error(`no socket of ${what} in ${dir}; its stderr: ${command.stderr}`);
  });
}

/**
 * Waits until `command` has joined the switch at `dir`, watching the directory only: a port's
 * data socket (`001.N`, both switches make one) is there and the command's handshake socket is gone (it
 * unlinks it once connected to that port). Not asked on the switch's console: Debian's vde_switch, asked
 * there while a client joins, now and then keeps that client's port when it leaves. It closes the client's
 * ctl connection but not the port (its data socket stays open, the port listed): its own bookkeeping, with
 * the client's process gone and nothing of it left open. A test polling the console during the join met
 * that 2 times in 6 runs, and never with this wait.
 */
export async function untilJoined(dir: string, command: ManagedProcess, what: string): Promise<void> {
  await waitFor(async () => {
    const names = await listDir(dir);
    return names.some((n) => /^\d{3}\.\d+$/.test(n)) && (await clientSockets(dir, command.pid)).length === 0;
  }, { timeoutMs: 30_000, what: `${what}'s port in the switch's directory` }).catch(() => {
    throw new Error(`${what} did not join the switch at ${dir}; its stderr: ${command.stderr}`);
  });
}

/** Waits until the switch's ports are the ones `expected` says (a bound, then a failure showing them). */
export async function untilPorts(
  mgmt: string,
  expected: (blocks: string[]) => boolean,
  what: string,
): Promise<void> {
  let blocks: string[] = [];
  await waitFor(async () => expected(blocks = await portBlocks(mgmt)), { timeoutMs: 10_000, what }).catch(
    () => {
      assert.fail(`${what}; the switch's ports:\n${blocks.join("") || "none"}`);
    },
  );
}

/** Why a test cannot run here: the first of `tools` not installed, or null. */
export async function missing(tools: string[]): Promise<string | null> {
  for (const tool of tools) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

/** A switch a test runs: its handle, its directory and its console. */
export interface TestSwitch {
  sw: SwitchHandle;
  dir: string;
  mgmt: string;
}

/**
 * Runs `body` on `count` switches of `kind` in a temporary directory, each with its console at `mgmt`,
 * answering before `body` starts.
 */
export async function withSwitches(
  kind: SwitchKind,
  count: number,
  body: (switches: TestSwitch[], tmp: string) => Promise<void>,
): Promise<void> {
  await inTempDir("vde-held-join-", async (tmp) => {
    const switches: TestSwitch[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const dir = `${tmp}/sw${i}`;
        const mgmt = `${tmp}/mgmt${i}`;
        switches.push({ sw: await startSwitchOf(kind, dir, { extraArgs: ["-M", mgmt] }), dir, mgmt });
        await waitForConsole(mgmt);
      }
      await body(switches, tmp);
    } finally {
      for (const s of switches) await s.sw.stop();
    }
  });
}

/** Runs `body` on a switch of `kind` at `dir` with its console at `mgmt`, answering before `body` starts. */
export function withSwitch(
  kind: SwitchKind,
  body: (sw: SwitchHandle, dir: string, mgmt: string) => Promise<void>,
): Promise<void> {
  return withSwitches(kind, 1, ([s]) => body(s!.sw, s!.dir, s!.mgmt));
}

/** Sends `signal` to `command` and asserts it ends within END_MS with status 0. */
export async function assertEndsOn(
  command: ManagedProcess,
  signal: Deno.Signal,
  moment: string,
): Promise<void> {
  Deno.kill(command.pid, signal);
  const status = await Promise.race([
    command.status,
    new Promise<null>((done) => setTimeout(done, END_MS, null)),
  ]);
  assert.ok(status !== null, `${command.name} still runs ${END_MS} ms after ${signal}, ${moment}`);
  assert.equal(status.code, 0, `exit status: ${JSON.stringify(status)}; stderr: ${command.stderr}`);
}

/**
 * Lets the held switch `s` go (SIGCONT) and asserts it then takes a Debian `vde_plug` as its only port:
 * the request of the command that went is met with no port left for it.
 */
export async function assertOnlyNextPort(s: TestSwitch): Promise<void> {
  Deno.kill(s.sw.pid, "SIGCONT");
  const sink = spawnManaged(["vde_plug", `vde://${s.dir}`, "null://"], { name: "vde_plug" });
  try {
    const sinkPid = `pid=${sink.pid}`;
    await untilPorts(
      s.mgmt,
      (blocks) => blocks.length === 1 && blocks[0]!.includes(sinkPid),
      `vde_plug (${sinkPid}) alone on the switch`,
    );
  } finally {
    await sink.stop();
  }
}
