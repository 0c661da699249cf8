/**
 * What the tests of a switch just started with `--daemon` share
 * (test/interop/mgmt_*_at_start.test.ts): busy loops that load the
 * machine, bounded in time; our switch started in the background, and
 * stopped.
 */
import assert from "node:assert/strict";
import { run } from "./processes.ts";
import { ourCli } from "./vde_clients.ts";
import { waitFor } from "./framed_peers.ts";

/** Runs `n` busy loops (on `core` when given), each ended after 60 s whatever happens to the test. */
export function busyLoops(n: number, core?: string): { stop(): Promise<void> } {
  // SIGTERM to stop them: timeout passes it on to its loop, where a SIGKILL would leave the loop running.
  const loop = ["timeout", "60", "sh", "-c", "while :; do :; done"];
  const cmd = core === undefined ? loop : ["taskset", "-c", core, ...loop];
  const hogs = Array.from({ length: n }, () => new Deno.Command(cmd[0]!, { args: cmd.slice(1) }).spawn());
  return {
    async stop() {
      for (const hog of hogs) {
        try {
          hog.kill("SIGTERM");
        } catch { /* ended on its own */ }
        await hog.status;
      }
    },
  };
}

/**
 * Runs `vde switch --sock SOCK --mgmt MGMT --daemon` (after `prefix`, such as `nice -n 5`) and returns
 * the pid it says it runs as, once --daemon has returned.
 */
export async function startDaemonSwitch(sock: string, mgmt: string, prefix: string[] = []): Promise<number> {
  const started = await run(
    [...prefix, ...ourCli(), "switch", "--sock", sock, "--mgmt", mgmt, "--daemon"],
    { check: false, timeoutMs: 60_000 },
  );
  assert.equal(started.code, 0, started.stderr);
  const pid = Number(/in the background as pid (\d+); stop: kill \1\n$/.exec(started.stderr)?.[1]);
  assert.ok(pid > 0, started.stderr);
  return pid;
}

/** Stops a switch started by `startDaemonSwitch` and waits until it is gone. */
export async function stopDaemonSwitch(pid: number): Promise<void> {
  Deno.kill(pid, "SIGTERM");
  await waitFor(`switch ${pid} gone`, () => !alive(pid), 30_000);
}

/** Whether `pid` still runs. */
function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
