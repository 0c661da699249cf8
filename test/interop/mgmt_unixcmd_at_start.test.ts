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
import { ourCli } from "../helpers/vde_clients.ts";
import { waitFor } from "../helpers/framed_peers.ts";

const VDECMD = "/etc/vde2/vdecmd";
const ROUNDS = 10;
const HOGS = 3;

/** Whether `pid` still runs. */
function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("unixcmd run the moment vde switch --daemon returns is answered, on a loaded machine, 10 times out of 10", async (t) => {
  if (skipUnless(t, (await hasCommand("unixcmd")) ? null : "needs unixcmd (Debian package vde2)")) return;
  await Deno.stat(VDECMD);
  const tmp = await Deno.makeTempDir({ prefix: "vde-mgmt-at-start-" });
  // niced 0, each ended after 60 s whatever happens to this test (SIGTERM below: timeout passes it on to its loop,
  // where a SIGKILL would leave the loop running).
  const hogs = Array.from(
    { length: HOGS },
    () => new Deno.Command("timeout", { args: ["60", "sh", "-c", "while :; do :; done"] }).spawn(),
  );
  const failures: string[] = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const sock = `${tmp}/sw${i}`;
      const started = await run(
        [...ourCli(), "switch", "--sock", sock, "--mgmt", `${sock}.mgmt`, "--daemon"],
        {
          check: false,
          timeoutMs: 60_000,
        },
      );
      assert.equal(started.code, 0, started.stderr);
      const pid = Number(/in the background as pid (\d+); stop: kill \1\n$/.exec(started.stderr)?.[1]);
      assert.ok(pid > 0, started.stderr);
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
        Deno.kill(pid, "SIGTERM");
        await waitFor(`switch ${pid} gone`, () => !alive(pid), 30_000);
      }
    }
  } finally {
    for (const hog of hogs) {
      try {
        hog.kill("SIGTERM");
      } catch { /* ended on its own */ }
      await hog.status;
    }
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  assert.deepEqual(failures, [], "unixcmd got no answer from a switch just started");
});
