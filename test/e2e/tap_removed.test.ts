/**
 * A tap in a Linux bridge deleted under its vde (`ip link del`, as a bridge
 * user tidies up, or a bridge's own tooling does): the tun driver answers
 * the open descriptor's reads with EBADFD, not an end of file. The switch
 * that held it as a `--tap` said nothing at all, its port gone and the LAN
 * cut in silence, and a `vde plug` ended with `receive failed: errno 77`.
 * Both now say the tap was removed; the switch names the port and the plug
 * line that puts a tap back on it, and that line, with the tap put back in
 * its bridge, carries the port's VLAN again. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep, waitFor } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";
import { startTapSwitch } from "../helpers/tap_switch.ts";
import { MgmtClient } from "../../src/console/client.ts";

/** Puts `dev` into bridge br0 of `ns`, up. */
async function enslave(ns: Netns, dev: string): Promise<void> {
  await ns.run(["ip", "link", "set", dev, "master", "br0", "up"]);
}

for (const dataplane of ["thread", "main"]) {
  Deno.test(`a --tap deleted from its kernel bridge is said with the plug line that puts it back (data plane on ${dataplane})`, async (t) => {
    if (skipUnless(t, await labMissing([]))) return;
    await withNetns(async (lab) => {
      const k = await lab.namespace("k");
      await k.run(["ip", "link", "add", "br0", "type", "bridge"]);
      await k.run(["ip", "link", "set", "br0", "up"]);
      const tmp = await lab.tempDir();
      const dir = `${tmp}/sw`;
      const sw = await startTapSwitch(k, dir, dataplane);
      const mgmt = `${dir}/mgmt`;
      await enslave(k, "t1");
      const term = await MgmtClient.connect(mgmt);
      lab.defer(() => term.close());
      // Port 1, the tap, carries VLAN 10 tagged; a host of ours on port 5 is in VLAN 10.
      for (const cmd of ["vlan/create 10", "vlan/addport 10 1", "port/create 5", "port/setvlan 5 10"]) {
        assert.equal((await term.command(cmd)).code, 0, cmd);
      }

      await k.run(["ip", "link", "del", "t1"]);
      const said = `tap t1 on port 1 ended (tap t1 was removed): the LAN is cut there; ` +
        `vde plug -d '${dir}[1]' tap://t1 puts a tap back on port 1, which kept its settings ` +
        `(then into its bridge again: ip link set t1 master BRIDGE up)`;
      await waitFor(() => sw.stderr.includes(said), {
        timeoutMs: 30_000,
        what: `the line ${said}\n${sw.stderr}`,
      });
      assert.equal(sw.exitStatus, null, "the switch serves on");

      // The line, as said, brings the port back with its VLAN: port 1 is VLAN 10's tagged member again.
      await k.run([...VDE_CLI, "plug", "-d", `${dir}[1]`, "tap://t1"]);
      await enslave(k, "t1");
      // Active once the switch has the port (on the thread data plane, once its thread took the tap's fd,
      // which waits for the port's receive thread to stop: seconds on a loaded machine; at load 57 a look
      // at once found it not yet active).
      const back = (lines: string[]) => lines.some((l) => l.includes("Port 0001 tagged=1 active=1"));
      const deadline = Date.now() + 30_000;
      let vlan: string[] = [];
      while (!back(vlan = (await term.command("vlan/print 10")).lines ?? []) && Date.now() < deadline) {
        await sleep(100);
      }
      assert.ok(back(vlan), vlan.join("\n"));
      // A plug of ours on a tap of the bridge, deleted: it ends saying so, not with an errno.
      const plug = k.spawn([...VDE_CLI, "plug", dir, "tap://t2"], { name: "vde plug t2" });
      await waitFor(async () => (await k.run(["ip", "link", "show", "t2"], { check: false })).success, {
        timeoutMs: 20_000,
        what: "tap t2",
      });
      await enslave(k, "t2");
      await k.run(["ip", "link", "del", "t2"]);
      await plug.status;
      assert.match(plug.stderr, /^vde plug: tap t2 was removed$/m, plug.stderr);
    });
  });
}
