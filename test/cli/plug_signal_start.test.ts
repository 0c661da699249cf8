/**
 * A stop signal that reaches `vde plug` as it starts ends it promptly, exit
 * 0, and leaves nothing: no `.PID-N` socket in the switch's directory, no
 * port on the switch, no tap. With Debian's vde_switch and with ours, each
 * moment held, not hit by chance:
 *
 * - Joining the switch: its socket bound in the switch's directory, its
 *   request sent, the reply not yet read. The switch is stopped (SIGSTOP)
 *   before the plug starts, so the kernel queues the plug's connection and
 *   request and the plug waits for the reply as long as the test likes. The
 *   plug, told, waits for the reply 2 s more (Debian's switch leaks the port
 *   of a client that leaves between its request and the reply), then gives
 *   up. The switch is let go (SIGCONT) only after the plug has exited, so
 *   the plug cannot lean on it to finish; it then meets a request whose
 *   asker is gone, and a Debian `vde_plug` joined afterwards must be its
 *   only port.
 *   Before the handshake heeded the stop, the plug let the open under way go
 *   at the signal and exited with its socket left in the directory.
 * - Starting its plug thread (vde:// to tap://): a thread whose load never
 *   ends (_stalled_plug_thread.ts) stands in for Deno's load of it on a
 *   loaded machine. Before, the stop waited for that load (its bound is a
 *   minute) and the plug ran on until a second signal.
 *
 * README had both as a SIGINT 0-280 ms after the plug first listened now
 * and then running on (1 in 30) or leaving its socket (2 in 30).
 */
import assert from "node:assert/strict";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";
import { interfaceExists } from "../../ffi/tun.ts";
import {
  hasCommand,
  hasRoot,
  type ManagedProcess,
  ROOT_IF_PREFIX,
  skipUnless,
  spawnManaged,
  waitFor,
} from "../helpers/processes.ts";
import {
  portBlocks,
  REPO_ROOT,
  startSwitchOf,
  type SwitchHandle,
  type SwitchKind,
  waitForConsole,
} from "../helpers/switches.ts";
import { listDir } from "../helpers/vde_clients.ts";
import { inTempDir } from "../helpers/temp_dir.ts";

/** How long a signalled plug may take to end: far less than the minute a stalled thread's stop waited. */
const END_MS = 10_000;

/** `vde ARGS` run by `entry`: src/cli/vde.ts (as the installed command), or a test's stand-in for it. */
function vde(args: string[], entry = `${REPO_ROOT}/src/cli/vde.ts`): ManagedProcess {
  return spawnManaged([Deno.execPath(), ...DENO_RUN, "--quiet", entry, ...args], { name: `vde ${args[0]}` });
}

/** The handshake sockets (`.PID-N`) of process `pid` in the switch directory `dir`. */
async function clientSockets(dir: string, pid: number): Promise<string[]> {
  const prefix = `.${String(pid).padStart(5, "0")}-`;
  return (await listDir(dir)).filter((n) => n.startsWith(prefix));
}

/** Waits until the switch's ports are the ones `expected` says (a bound, then a failure showing them). */
async function untilPorts(
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

async function missing(tools: string[]): Promise<string | null> {
  for (const tool of tools) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

/** Runs `body` on a switch of `kind` at `dir` with its console at `mgmt`, answering before `body` starts. */
async function withSwitch(
  kind: SwitchKind,
  body: (sw: SwitchHandle, dir: string, mgmt: string) => Promise<void>,
): Promise<void> {
  await inTempDir("vde-plug-start-", async (tmp) => {
    const dir = `${tmp}/sw`;
    const mgmt = `${tmp}/mgmt`;
    const sw = await startSwitchOf(kind, dir, { extraArgs: ["-M", mgmt] });
    try {
      await waitForConsole(mgmt);
      await body(sw, dir, mgmt);
    } finally {
      await sw.stop();
    }
  });
}

/** Sends `signal` to `plug` and asserts it ends within END_MS with status 0. */
async function assertEndsOn(plug: ManagedProcess, signal: Deno.Signal, moment: string): Promise<void> {
  Deno.kill(plug.pid, signal);
  const status = await Promise.race([
    plug.status,
    new Promise<null>((done) => setTimeout(done, END_MS, null)),
  ]);
  assert.ok(status !== null, `the plug still runs ${END_MS} ms after ${signal}, ${moment}`);
  assert.equal(status.code, 0, `exit status: ${JSON.stringify(status)}; stderr: ${plug.stderr}`);
}

const KINDS: [SwitchKind, string][] = [["c", "Debian's vde_switch"], ["ours", "our switch"]];

for (const [kind, which] of KINDS) {
  for (const signal of ["SIGINT", "SIGTERM"] as Deno.Signal[]) {
    Deno.test(`vde plug told ${signal} while ${which} holds its reply exits 0 and leaves no socket and no port`, async (t) => {
      if (skipUnless(t, await missing(["vde_switch", "vde_plug", "unixcmd"]))) return;
      await withSwitch(kind, async (sw, dir, mgmt) => {
        Deno.kill(sw.pid, "SIGSTOP");
        let held = true;
        const plug = vde(["plug", `vde://${dir}`, "null://"]);
        let sink: ManagedProcess | undefined;
        try {
          await waitFor(async () => (await clientSockets(dir, plug.pid)).length > 0, {
            timeoutMs: 30_000,
            what: "the plug's socket in the switch's directory",
          });
          await assertEndsOn(plug, signal, "its switch held");
          assert.deepEqual(await clientSockets(dir, plug.pid), [], "the plug's socket is left behind");
          Deno.kill(sw.pid, "SIGCONT");
          held = false;
          // The switch answers the plug that went, then takes a Debian vde_plug: it is the only port.
          sink = spawnManaged(["vde_plug", `vde://${dir}`, "null://"], { name: "vde_plug" });
          const sinkPid = `pid=${sink.pid}`;
          await untilPorts(
            mgmt,
            (blocks) => blocks.length === 1 && blocks[0]!.includes(sinkPid),
            `vde_plug (${sinkPid}) alone on the switch`,
          );
        } finally {
          if (held) Deno.kill(sw.pid, "SIGCONT");
          await plug.stop();
          await sink?.stop();
        }
      });
    });

    Deno.test(`vde plug told ${signal} while its plug thread to a tap still loads, on ${which}, exits 0 and leaves no tap and no port`, async (t) => {
      if (skipUnless(t, hasRoot() ?? await missing(["vde_switch", "unixcmd"]))) return;
      await withSwitch(kind, async (_sw, dir, mgmt) => {
        const tap = `${ROOT_IF_PREFIX}st${kind[0]}${signal.length}`;
        const plug = vde(
          ["plug", `vde://${dir}`, `tap://${tap}`],
          `${REPO_ROOT}/test/cli/_stalled_plug_thread.ts`,
        );
        try {
          // Both ends are open once the tap exists and the switch has the plug's port; the plug thread is
          // started right after, and it never loads.
          await waitFor(() => interfaceExists(tap), {
            timeoutMs: 30_000,
            what: `tap ${tap}`,
          }).catch(() => {
            throw new Error(`no tap ${tap}; the plug's stderr: ${plug.stderr}`);
          });
          await untilPorts(mgmt, (blocks) => blocks.length === 1, "the plug's port on the switch");
          await assertEndsOn(plug, signal, "its plug thread still loading");
          assert.deepEqual(await clientSockets(dir, plug.pid), [], "the plug's socket is left behind");
          await waitFor(() => !interfaceExists(tap), { timeoutMs: 5_000, what: `tap ${tap} to go` });
          await untilPorts(mgmt, (blocks) => blocks.length === 0, "no port on the switch");
        } finally {
          await plug.stop();
        }
      });
    });
  }
}
