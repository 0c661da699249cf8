/**
 * A vde2 script's `vde switch --daemon ... && unixcmd -s S.mgmt CMD` on a
 * loaded machine: Debian's unixcmd gives up when no prompt or answer comes
 * within a second (/etc/vde2/vdecmd's TIMEOUT 1000), so a switch that has
 * just returned from --daemon must answer its first console command at
 * once, not after its data-plane thread's warm-up (which a loaded machine
 * stretches past that second). Three busy loops load the machine, bounded
 * in time, while ten fresh switches are each asked the moment they return.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { busyLoops, startDaemonSwitch, stopDaemonSwitch } from "../helpers/daemon_switch.ts";

const VDECMD = "/etc/vde2/vdecmd";
const ROUNDS = 10;
const HOGS = 3;

Deno.test("unixcmd run the moment vde switch --daemon returns is answered, on a loaded machine, 10 times out of 10", async (t) => {
  if (skipUnless(t, (await hasCommand("unixcmd")) ? null : "needs unixcmd (Debian package vde2)")) return;
  await Deno.stat(VDECMD);
  const tmp = await Deno.makeTempDir({ prefix: "vde-mgmt-at-start-" });
  // niced 0, each ended after 60 s whatever happens to this test.
  const hogs = busyLoops(HOGS);
  const failures: string[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const sock = `${tmp}/sw${i}`;
      const pid = await startDaemonSwitch(sock, `${sock}.mgmt`);
      try {
        const r = await run(["unixcmd", "-f", VDECMD, "-s", `${sock}.mgmt`, "port/showinfo"], {
          check: false,
          timeoutMs: 10_000,
        });
        // unixcmd's status is the parse machine's (255 here, as against vde_switch): the answer is what counts.
        if (!r.stdout.startsWith("Numports=32\n")) {
          failures.push(`round ${i}: unixcmd exited ${r.code} with ${JSON.stringify(r.stdout)}`);
        }
      } finally {
        await stopDaemonSwitch(pid);
      }
    }
  } finally {
    await hogs.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  assert.deepEqual(failures, [], "unixcmd got no answer from a switch just started");
});
