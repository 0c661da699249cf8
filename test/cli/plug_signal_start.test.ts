/**
 * A stop signal that reaches `vde plug` while it is joining a switch (its
 * socket bound in the switch's directory, its request sent, the reply not
 * yet read) ends it at once, exit 0, and leaves nothing: no `.PID-N`
 * socket in that directory and no port on the switch, with Debian's
 * vde_switch and with ours.
 *
 * The moment is held, not hit by chance: the switch is stopped (SIGSTOP)
 * before the plug starts, so the kernel queues the plug's connection and
 * request and the plug waits for the reply for as long as the test likes.
 * The signal goes once the plug's socket is in the directory; the switch
 * is let go (SIGCONT) only after the plug has exited, so the plug cannot
 * lean on the switch to finish. The switch then meets a request whose
 * asker is gone: a Debian `vde_plug` joined afterwards must be its only
 * port.
 *
 * Before the handshake heeded the stop, the plug let the open under way go
 * at the signal and exited with its socket left in the directory (README
 * had it as 2 in 30 SIGINTs sent 0-280 ms after the plug first listened).
 */
import assert from "node:assert/strict";
import { DENO_RUN } from "../../src/cli/v8_flags.ts";
import {
  hasCommand,
  type ManagedProcess,
  run,
  skipUnless,
  spawnManaged,
  waitFor,
} from "../helpers/processes.ts";
import { REPO_ROOT, startSwitchOf, type SwitchKind } from "../helpers/switches.ts";
import { listDir } from "../helpers/vde_clients.ts";
import { inTempDir } from "../helpers/temp_dir.ts";

/** `vde ARGS` as the installed command runs it: src/cli/vde.ts, its early SIGINT listener first. */
function vde(args: string[]): ManagedProcess {
  return spawnManaged([Deno.execPath(), ...DENO_RUN, "--quiet", `${REPO_ROOT}/src/cli/vde.ts`, ...args], {
    name: `vde ${args[0]}`,
  });
}

/** The handshake sockets (`.PID-N`) of process `pid` in the switch directory `dir`. */
async function clientSockets(dir: string, pid: number): Promise<string[]> {
  const prefix = `.${String(pid).padStart(5, "0")}-`;
  return (await listDir(dir)).filter((n) => n.startsWith(prefix));
}

/** Runs console `command` on the switch's management socket `mgmt` through Debian's unixcmd (its status is 255 whatever the answer). */
function unixcmd(mgmt: string, command: string) {
  return run(["unixcmd", "-f", "/etc/vde2/vdecmd", "-s", mgmt, command], { check: false, timeoutMs: 10_000 });
}

/** The port blocks of the switch's `port/print` (none: unixcmd exits 255 with nothing). */
async function portBlocks(mgmt: string): Promise<string[]> {
  const r = await unixcmd(mgmt, "port/print");
  return r.stdout.replaceAll("\0", "").split(/^(?=Port )/m).filter((b) => b.startsWith("Port "));
}

async function missing(): Promise<string | null> {
  for (const tool of ["vde_switch", "vde_plug", "unixcmd"]) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

for (const kind of ["c", "ours"] as SwitchKind[]) {
  const which = kind === "c" ? "Debian's vde_switch" : "our switch";
  for (const signal of ["SIGINT", "SIGTERM"] as Deno.Signal[]) {
    Deno.test(`vde plug told ${signal} while ${which} holds its reply exits 0 and leaves no socket and no port`, async (t) => {
      if (skipUnless(t, await missing())) return;
      await inTempDir("vde-plug-handshake-", async (tmp) => {
        const dir = `${tmp}/sw`;
        const mgmt = `${tmp}/mgmt`;
        const sw = await startSwitchOf(kind, dir, { extraArgs: ["-M", mgmt] });
        let held = false;
        let plug: ManagedProcess | undefined;
        let sink: ManagedProcess | undefined;
        try {
          // Each switch listens on its ctl before its console answers: the plug's connection is queued.
          await waitFor(async () => (await unixcmd(mgmt, "help")).stdout.includes("port/print"), {
            timeoutMs: 20_000,
            what: "the switch's console",
          });
          Deno.kill(sw.pid, "SIGSTOP");
          held = true;
          plug = vde(["plug", `vde://${dir}`, "null://"]);
          const inside = plug;
          await waitFor(async () => (await clientSockets(dir, inside.pid)).length > 0, {
            timeoutMs: 30_000,
            what: "the plug's socket in the switch's directory",
          });
          Deno.kill(plug.pid, signal);
          const status = await Promise.race([
            plug.status,
            new Promise<null>((done) => setTimeout(() => done(null), 10_000)),
          ]);
          assert.ok(status !== null, `the plug still runs 10 s after ${signal}, its switch held`);
          assert.equal(status.code, 0, `exit status: ${JSON.stringify(status)}; stderr: ${plug.stderr}`);
          assert.deepEqual(await clientSockets(dir, plug.pid), [], "the plug's socket is left behind");
          Deno.kill(sw.pid, "SIGCONT");
          held = false;
          // The switch answers the plug that went, then takes a Debian vde_plug: it is the only port.
          sink = spawnManaged(["vde_plug", `vde://${dir}`, "null://"], { name: "vde_plug" });
          const sinkPid = `pid=${sink.pid}`;
          let blocks: string[] = [];
          await waitFor(async () => {
            blocks = await portBlocks(mgmt);
            return blocks.length === 1 && blocks[0]!.includes(sinkPid);
          }, { timeoutMs: 10_000, what: "vde_plug alone on the switch" }).catch(() => {
            assert.fail(
              `the switch's ports, vde_plug (${sinkPid}) the only one expected:\n${blocks.join("")}`,
            );
          });
        } finally {
          if (held) Deno.kill(sw.pid, "SIGCONT");
          await plug?.stop();
          await sink?.stop();
          await sw.stop();
        }
      });
    });
  }
}
