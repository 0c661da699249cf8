/**
 * A stop signal that reaches `vde wirefilter`, `vde cable` or
 * `vde switch --cable` while it joins a switch ends it promptly, exit 0,
 * with a line that says it was stopped, and leaves nothing: no `.PID-N`
 * socket in a switch's directory, no port on either switch. With Debian's
 * vde_switch and with ours, the moment held, not hit by chance
 * (helpers/held_join.ts): the switch is stopped (SIGSTOP), so the command's
 * request waits for its reply; the switch is let go only after the command
 * has exited, and a Debian `vde_plug` joined then must be its only port.
 *
 * A wirefilter joins two switches, the first side then the second: either
 * one held, or both (it never reaches the second then). A cable connect
 * joins its local switch before it connects; a cable listener joins its
 * switch for each cable that comes in; a switch joins the switch its
 * `--cable vde://` names before it serves.
 *
 * Before, none of those joins was told the stop: the wirefilter, the cable
 * connect and the switch waited out the reply's 5 s and exited 1 saying
 * the switch "refused the connection"; the cable listener exited at once
 * and left its socket in the switch's directory.
 */
import assert from "node:assert/strict";
import { type ManagedProcess, skipUnless, waitFor } from "../helpers/processes.ts";
import { listDir } from "../helpers/vde_clients.ts";
import {
  assertEndsOn,
  assertOnlyNextPort,
  clientSockets,
  END_MS,
  KINDS,
  missing,
  type TestSwitch,
  untilJoining,
  untilPorts,
  vde,
  withSwitches,
} from "../helpers/held_join.ts";

const TOOLS = ["vde_switch", "vde_plug", "unixcmd"];

/** The line a command stopped (`signal`) while it joined `vnl` says. */
function stoppedLine(command: string, signal: Deno.Signal, vnl: string): string {
  return `${command}: ${signal} while opening ${vnl}: stopped before serving\n`;
}

/** Asserts that `command` left no handshake socket in any of `switches`' directories. */
async function assertNoSockets(command: ManagedProcess, switches: TestSwitch[]): Promise<void> {
  for (const s of switches) {
    assert.deepEqual(
      await clientSockets(s.dir, command.pid),
      [],
      `${command.name}'s socket left in ${s.dir}`,
    );
  }
}

/** Which of a wirefilter's two switches are held, and which one it is joining when the signal comes. */
const WIREFILTER_HOLDS: { name: string; held: number[]; joining: number }[] = [
  { name: "its first side's switch", held: [0], joining: 0 },
  { name: "its second side's switch", held: [1], joining: 1 },
  { name: "both its switches", held: [0, 1], joining: 0 },
];

for (const [kind, which] of KINDS) {
  for (const signal of ["SIGINT", "SIGTERM"] as Deno.Signal[]) {
    for (const hold of WIREFILTER_HOLDS) {
      Deno.test(`vde wirefilter told ${signal} while ${which} holds ${hold.name} exits 0, says it was stopped, and leaves no socket and no port`, async (t) => {
        if (skipUnless(t, await missing(TOOLS))) return;
        await withSwitches(kind, 2, async (switches) => {
          const held = hold.held.map((i) => switches[i]!);
          for (const s of held) Deno.kill(s.sw.pid, "SIGSTOP");
          const vnls = switches.map((s) => `vde://${s.dir}`);
          const wf = vde(["wirefilter", ...vnls]);
          try {
            await untilJoining(switches[hold.joining]!.dir, wf, "vde wirefilter");
            await assertEndsOn(wf, signal, `${hold.name} held`);
            assert.equal(wf.stderr, stoppedLine("vde wirefilter", signal, vnls[hold.joining]!));
            await assertNoSockets(wf, switches);
            // The side it had joined (the first, when the second is held) is undone: no port there.
            for (const s of switches.filter((s) => !held.includes(s))) {
              await untilPorts(
                s.mgmt,
                (blocks) => blocks.length === 0,
                "no port on the switch it had joined",
              );
            }
            for (const s of held) await assertOnlyNextPort(s);
          } finally {
            for (const s of held) Deno.kill(s.sw.pid, "SIGCONT");
            await wf.stop();
          }
        });
      });
    }

    Deno.test(`vde cable connect told ${signal} while ${which} holds its join exits 0, says it was stopped, and leaves no socket and no port`, async (t) => {
      if (skipUnless(t, await missing(TOOLS))) return;
      await withSwitches(kind, 1, async ([s]) => {
        Deno.kill(s!.sw.pid, "SIGSTOP");
        // No listener is there: the cable connects only once it has joined its switch.
        const cable = vde(["cable", "connect", "127.0.0.1:9", "--sock", s!.dir, "--insecure"]);
        try {
          await untilJoining(s!.dir, cable, "vde cable connect");
          await assertEndsOn(cable, signal, "its switch held");
          assert.equal(cable.stderr, stoppedLine("vde cable", signal, s!.dir));
          await assertNoSockets(cable, [s!]);
          await assertOnlyNextPort(s!);
        } finally {
          Deno.kill(s!.sw.pid, "SIGCONT");
          await cable.stop();
        }
      });
    });

    Deno.test(`vde cable listen told ${signal} while ${which} holds a cable's join exits 0 and leaves no socket and no port`, async (t) => {
      if (skipUnless(t, await missing(TOOLS))) return;
      await withSwitches(kind, 2, async ([here, there]) => {
        const listener = vde(["cable", "listen", "127.0.0.1:0", "--sock", here!.dir, "--insecure"]);
        let cable: ManagedProcess | undefined;
        try {
          let port = "";
          await waitFor(
            () => (port = /listening on 127\.0\.0\.1:(\d+)/.exec(listener.stderr)?.[1] ?? "") !== "",
            {
              timeoutMs: 30_000,
              what: "the listener's port",
            },
          );
          Deno.kill(here!.sw.pid, "SIGSTOP");
          cable = vde(["cable", "connect", `127.0.0.1:${port}`, "--sock", there!.dir, "--insecure"]);
          await untilJoining(here!.dir, listener, "vde cable listen");
          await assertEndsOn(listener, signal, "its switch held");
          assert.match(listener.stderr, new RegExp(`${signal}: closing 1 cable\\(s\\)\n`));
          // One line for the cable it was setting up: its session's end, not a refusal as well.
          assert.doesNotMatch(listener.stderr, /refused/);
          await assertNoSockets(listener, [here!]);
          await assertOnlyNextPort(here!);
        } finally {
          Deno.kill(here!.sw.pid, "SIGCONT");
          await listener.stop();
          await cable?.stop();
        }
      });
    });

    Deno.test(`vde switch --cable vde:// told ${signal} while ${which} holds its join exits 0, says it was stopped, and leaves no socket and no port`, async (t) => {
      if (skipUnless(t, await missing(TOOLS))) return;
      await withSwitches(kind, 1, async ([s], tmp) => {
        Deno.kill(s!.sw.pid, "SIGSTOP");
        const own = `${tmp}/own`;
        const vnl = `vde://${s!.dir}`;
        const sw = vde(["switch", "--sock", own, "--cable", vnl]);
        try {
          await untilJoining(s!.dir, sw, "vde switch --cable");
          await assertEndsOn(sw, signal, "the switch it joins held");
          assert.equal(sw.stderr, stoppedLine("vde switch", signal, `--cable ${vnl}`));
          await assertNoSockets(sw, [s!]);
          await assert.rejects(
            Deno.lstat(`${own}/ctl`),
            Deno.errors.NotFound,
            "the stopped switch's ctl is left",
          );
          await assertOnlyNextPort(s!);
        } finally {
          Deno.kill(s!.sw.pid, "SIGCONT");
          await sw.stop();
        }
      });
    });
  }
}

Deno.test("vde switch --daemon --logfile --cable vde:// whose background copy is told SIGTERM while our switch holds its join exits 1 saying the stop and its log, which has the stop line", async (t) => {
  if (skipUnless(t, await missing(TOOLS))) return;
  await withSwitches("ours", 1, async ([s], tmp) => {
    Deno.kill(s!.sw.pid, "SIGSTOP");
    const own = `${tmp}/own`;
    const logfile = `${tmp}/own.log`;
    const vnl = `vde://${s!.dir}`;
    const sw = vde(["switch", "--daemon", "--logfile", logfile, "--sock", own, "--cable", vnl]);
    try {
      // The copy (not the parent) joins: its pid is in its handshake socket's name.
      let copy = 0;
      await waitFor(async () => {
        // The pid is padded to five digits, and longer past 99999 (pid_max is 4194304 on most systems).
        const pid = (await listDir(s!.dir)).map((n) => /^\.(\d{5,})-/.exec(n)?.[1]).find((p) =>
          p !== undefined
        );
        copy = pid === undefined ? 0 : Number(pid);
        return copy > 0;
      }, { timeoutMs: 30_000, what: "the background copy's socket in the held switch's directory" });
      Deno.kill(copy, "SIGTERM");
      const status = await Promise.race([
        sw.status,
        new Promise<null>((done) => setTimeout(done, END_MS, null)),
      ]);
      assert.ok(status !== null, `vde switch --daemon still waits ${END_MS} ms after its copy's SIGTERM`);
      assert.equal(status.code, 1, sw.stderr);
      // Before, only "the background switch exited with status 0 before serving": the stop was in the log.
      assert.equal(
        sw.stderr,
        `vde: SIGTERM: the background switch was stopped before it served; see ${logfile}\n`,
      );
      assert.match(await Deno.readTextFile(logfile), /SIGTERM while opening .*: stopped before serving/);
    } finally {
      Deno.kill(s!.sw.pid, "SIGCONT");
      await sw.stop();
    }
  });
});
