/**
 * A `vde plug`'s own tap with a jumbo MTU past what VDE carries: the plug
 * thread reads a tap of MTU 16000's 15042-byte frames (cut to its slot, so
 * their length is not known) and drops them, which it counted and never
 * said (the thread has no log). It now posts the first one to the main
 * thread, which says the line a tap link says for a cut frame, with the `ip
 * link` line that fixes the MTU; the frames after it are counted, not said.
 * Behind Debian's vde_switch; root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { labMissing, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { startCSwitch, VDE_CLI } from "../helpers/switches.ts";

Deno.test("a vde plug's tap of MTU 16000 says its first frame past a VDE frame once, with the MTU that passes", async (t) => {
  if (skipUnless(t, await labMissing(["vde_switch"]))) return;
  await withNetns(async (lab) => {
    const h = await lab.namespace("h");
    const dir = `${await lab.tempDir()}/sw`;
    const sw = await startCSwitch(dir);
    lab.defer(async () => void await sw.stop());
    await h.tap("t1");
    await h.run(["ip", "link", "set", "t1", "mtu", "16000"]);
    await h.addr("t1", "10.21.9.1/24");
    const plug = h.spawn([...VDE_CLI, "plug", dir, "tap://t1"], { name: "vde plug t1" });
    await h.waitForCarrier("t1", 30_000);
    // A neighbour nobody answers for: its frames go to the tap without an ARP exchange.
    await h.run(["ip", "neigh", "add", "10.21.9.2", "lladdr", "02:00:00:21:09:02", "dev", "t1"]);
    await h.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-s", "15000", "10.21.9.2"], { check: false });

    const line = "vde: tap t1: dropped a frame, longer than the 9234 bytes a VDE frame may be " +
      "(dropped; said once): tap t1's MTU is above 9216: ip link set t1 mtu 9216";
    await waitFor(() => plug.stderr.includes(line), {
      timeoutMs: 15_000,
      what: `the line ${line}\n${plug.stderr}`,
    });
    // The second frame, and a third after a pause, are counted, not said again.
    await h.run(["ping", "-c", "1", "-W", "1", "-s", "15000", "10.21.9.2"], { check: false });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = plug.stderr.split("\n").filter((l) => l.includes("longer than the 9234 bytes"));
    assert.equal(lines.length, 1, `said once for three frames:\n${plug.stderr}`);
    assert.equal(plug.exitStatus, null, `the plug goes on:\n${plug.stderr}`);
  });
});
