/**
 * A `vde switch` (runSwitch, as the command line runs it) whose data-plane
 * thread is test/dataplane/_dying_worker.ts: it serves, and its thread dies
 * when a console command sets the MAC table's expiry (`hash/setexpire`).
 * Its error is printed and its exit status set as runCli does (`vde: ...`,
 * status 1). Arguments: the socket directory, the pid file, and `daemon` for
 * one in the background, its console then the socket directory's `.mgmt`.
 */
import { runSwitch } from "../../src/cli/switch.ts";

const [sock = "", pidfile, daemon] = Deno.args;
try {
  await runSwitch({
    sock,
    ports: "4",
    pidfile,
    ...(daemon === "daemon" ? { daemon: true, mgmt: `${sock}.mgmt` } : {}),
    dataplane: "thread",
    threadFile: new URL("../dataplane/_dying_worker.ts", import.meta.url),
  });
} catch (err) {
  console.error(`vde: ${(err as Error).message}`);
  Deno.exit(1);
}
