/**
 * `vde slirp -d` started on a terminal: for its late warnings (a gateway
 * taken behind a slow cable, src/cli/slirp.ts) the daemon holds that
 * terminal from before its start returned, for LATE_WARNING_MS only; with a
 * `--logfile` the warnings go there and the terminal is never opened. The
 * terminal is `script`'s pty; the fds are read from /proc.
 */
import assert from "node:assert/strict";
import { hasCommand, skipUnless, spawnManaged, waitFor } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { vdeCommand } from "../lab/_helpers.ts";
import { LATE_WARNING_MS } from "../../src/cli/slirp.ts";
import { shellQuoted } from "../../src/shell_quote.ts";

/** The terminals (/dev/pts/N, /dev/ttyX) among the open fds of `pid`. */
async function terminalsOf(pid: number): Promise<string[]> {
  const held: string[] = [];
  for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
    try {
      const target = await Deno.readLink(`/proc/${pid}/fd/${e.name}`);
      if (/^\/dev\/(pts\/|tty)/.test(target)) held.push(target);
    } catch { /* closed meanwhile */ }
  }
  return held;
}

Deno.test("vde slirp -d on a terminal holds it for its late warnings from before the start returned, and a --logfile daemon never opens it", async (t) => {
  if (skipUnless(t, await hasCommand("script") ? null : "script (util-linux) is not installed")) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-slirp-tty-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  try {
    for (const logfile of [false, true]) {
      const pidfile = `${tmp}/slirp${logfile ? "-logged" : ""}.pid`;
      const start = [
        ...vdeCommand(),
        "slirp",
        "--sock",
        `${tmp}/sw`,
        "-d",
        "-p",
        pidfile,
        ...(logfile ? ["--logfile", `${tmp}/slirp.log`] : []),
      ].map(shellQuoted).join(" ");
      // The shell keeps the pty open a while after the start returned, as an interactive one does.
      const term = spawnManaged(["script", "-qec", `${start}; sleep 2`, "/dev/null"], { name: "script" });
      try {
        const pid = await waitFor(async () => {
          try {
            return Number((await Deno.readTextFile(pidfile)).trim()) || undefined;
          } catch {
            return undefined;
          }
        }, { timeoutMs: 30_000, what: "the slirp's pid file" });
        // The pid file is written as the start returns: the terminal is held already, or never.
        const held = await terminalsOf(pid);
        if (logfile) {
          assert.deepEqual(held, [], "a --logfile daemon's warnings go to its file: no terminal held");
        } else {
          assert.equal(held.length, 1, `the starting terminal, held for late warnings: ${held}`);
          await waitFor(async () => (await terminalsOf(pid)).length === 0, {
            timeoutMs: LATE_WARNING_MS + 5_000,
            what: "the terminal let go once the late warnings' time is over",
          });
        }
        Deno.kill(pid, "SIGTERM");
        await waitFor(async () => {
          try {
            await Deno.stat(pidfile);
            return false;
          } catch {
            return true;
          }
        }, { timeoutMs: 10_000, what: "the slirp's end" });
      } finally {
        await term.stop();
      }
    }
  } finally {
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
