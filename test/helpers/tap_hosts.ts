/**
 * Hosts for end-to-end tests: a namespace whose tap t0 is made by our own
 * `vde plug vde://DIR tap://t0`, so the namespace sits on the switch at DIR.
 */
import type { Lab, Netns } from "./netns.ts";
import { type ManagedProcess, waitFor } from "./processes.ts";
import { VDE_CLI } from "./switches.ts";

/** `vde` as the tests run it. */
export const VDE = VDE_CLI;

/** Creates namespace `short` and plugs its new tap t0 into the switch at `dir` (t0 left down, no address). */
export async function tapHost(lab: Lab, dir: string, short: string): Promise<Netns> {
  const ns = await lab.namespace(short);
  const plug = ns.spawn([...VDE, "plug", `vde://${dir}`, "tap://t0"], { name: `vde plug ${short}` });
  await waitFor(async () => {
    if (plug.exitStatus !== null) throw new Error(`plug exited early: ${plug.stderr}`);
    return (await ns.run(["ip", "link", "show", "t0"], { check: false })).success;
  }, { timeoutMs: 20_000, what: `t0 in ${ns.name}` });
  return ns;
}

/**
 * Starts `tcpdump -w file` on `dev` inside `ns` and waits until it listens.
 * Immediate mode: a tcpdump stopped by SIGINT has then written every frame
 * it saw (otherwise frames still in the kernel's ring block are lost).
 */
export async function startTcpdump(
  ns: Netns,
  dev: string,
  file: string,
  filter: string,
): Promise<ManagedProcess> {
  const dump = ns.spawn(["tcpdump", "-i", dev, "--immediate-mode", "-U", "-n", "-w", file, filter], {
    name: `tcpdump ${ns.short}`,
  });
  await dump.waitForOutput(/listening on/, 10_000, "stderr");
  return dump;
}
