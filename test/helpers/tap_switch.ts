/**
 * Our switch with one `--tap t1` in a namespace, for the tests of a tap
 * that a Linux bridge holds: started on the data plane asked for, and
 * returned once it says it serves and its management socket (DIR/mgmt)
 * answers, with its stderr (its log) to read.
 */
import type { Netns } from "./netns.ts";
import { type ManagedProcess, waitFor } from "./processes.ts";
import { listens, VDE_CLI } from "./switches.ts";

/** Starts `vde switch --sock DIR --tap t1 --dataplane DATAPLANE` in `ns`; killed at the lab's teardown. */
export async function startTapSwitch(ns: Netns, dir: string, dataplane: string): Promise<ManagedProcess> {
  const sw = ns.spawn(
    [...VDE_CLI, "switch", "--sock", dir, "--tap", "t1", "--dataplane", dataplane],
    { name: "our switch" },
  );
  const mgmt = `${dir}/mgmt`;
  await waitFor(async () => {
    if (sw.exitStatus !== null) throw new Error(`our switch exited:\n${sw.stderr}`);
    return sw.stderr.includes("serving ") && (await listens(mgmt));
  }, { timeoutMs: 30_000, what: "our switch" });
  return sw;
}
