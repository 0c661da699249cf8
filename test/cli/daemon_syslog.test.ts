/**
 * A daemon without --logfile sends its log lines to syslog, as vde_switch's
 * does: its start, its clean shutdown, and the line it dies with (severity
 * err), which went nowhere (a closed stderr).
 */
import assert from "node:assert/strict";
import { standIn } from "../os/_syslog_stand_in.ts";
import { vdeCommand } from "../lab/_helpers.ts";
import { run, waitFor } from "../helpers/processes.ts";
import { threadDeath } from "../../src/cli/switch.ts";
import { DYING_WORDS } from "../dataplane/_dying_words.ts";

const RIG = new URL("./_dying_switch.ts", import.meta.url).pathname;
const STAMP = String.raw`\w{3} [ \d]\d \d\d:\d\d:\d\d`;

/** The pid a daemon wrote to `pidfile`. */
async function pidIn(pidfile: string): Promise<number> {
  return Number((await Deno.readTextFile(pidfile)).trim());
}

Deno.test("vde switch -d without --logfile says its start and its clean shutdown to syslog (/dev/log), as vde_switch's daemon", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-syslog-" });
  const log = standIn(tmp);
  try {
    const up = await run([...vdeCommand(), "switch", "-d", "-s", `${tmp}/net`, "--pidfile", `${tmp}/pid`], {
      env: { VDE_SYSLOG_SOCKET: log.path },
      check: false,
    });
    assert.equal(up.code, 0, up.stderr);
    const pid = await pidIn(`${tmp}/pid`);
    Deno.kill(pid, "SIGTERM");
    const last = await waitFor(() => log.lines().find((l) => l.includes("cleaning up")), {
      timeoutMs: 10_000,
      what: "the shutdown line in syslog",
    });
    assert.match(
      last,
      new RegExp(`^<30>${STAMP} vde\\[${pid}\\]: switch: SIGTERM, cleaning up and exiting$`),
    );
    assert.match(log.lines()[0]!, new RegExp(`^<30>${STAMP} vde\\[${pid}\\]: switch: serving ${tmp}/net `));
    await waitFor(async () => !(await Deno.stat(`${tmp}/pid`).then(() => true, () => false)) || undefined, {
      timeoutMs: 10_000,
      what: "the daemon's end",
    });
  } finally {
    log.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a vde switch -d without --logfile whose data-plane thread dies says why to syslog, severity err, where it said nothing anywhere", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-syslog-" });
  const log = standIn(tmp);
  try {
    const sock = `${tmp}/net`;
    const up = await run([Deno.execPath(), "run", "-A", RIG, sock, `${tmp}/pid`, "daemon"], {
      env: { VDE_SYSLOG_SOCKET: log.path, VDE_DATAPLANE: "" },
      check: false,
    });
    assert.equal(up.code, 0, up.stderr);
    const pid = await pidIn(`${tmp}/pid`);
    const console = await Deno.connect({ transport: "unix", path: `${sock}.mgmt` });
    try {
      await console.write(new TextEncoder().encode("hash/setexpire 10\n"));
      const died = await waitFor(() => log.lines().find((l) => l.includes("ended")), {
        timeoutMs: 10_000,
        what: "the fatal line in syslog",
      });
      const line = threadDeath(DYING_WORDS).replace(/[()]/g, "\\$&");
      assert.match(died, new RegExp(`^<27>${STAMP} vde\\[${pid}\\]: switch: ended: ${line}$`));
    } finally {
      console.close();
    }
    await waitFor(async () => !(await Deno.stat(sock).then(() => true, () => false)) || undefined, {
      timeoutMs: 10_000,
      what: "the dead daemon's cleanup",
    });
  } finally {
    log.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
