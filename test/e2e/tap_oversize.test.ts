/**
 * A bridge user's jumbo MTU past what VDE carries: a `--tap` in a Linux
 * bridge given MTU 9600 hands the switch 9542-byte frames, longer than the
 * 9234 bytes a VDE frame may be (MTU 9216 with a VLAN tag). They were
 * dropped in silence and counted as `short` on the data-plane thread; now
 * they count as `oversize` and the switch says once which tap sent them and
 * the `ip link` line that fixes its MTU, on either data plane. Root only; in
 * CI it must run.
 */
import assert from "node:assert/strict";
import { labMissing, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { startTapSwitch } from "../helpers/tap_switch.ts";
import { MgmtClient } from "../../src/console/client.ts";

/** The value of switch-wide counter `name` in `counters`' lines. */
function counter(lines: string[], name: string): number {
  const line = lines.find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length).trim() ?? NaN);
}

for (const dataplane of ["thread", "main"]) {
  Deno.test(`a frame past a VDE frame from a --tap of MTU 9600 in a kernel bridge is said once with the MTU that passes (data plane on ${dataplane})`, async (t) => {
    if (skipUnless(t, await labMissing([]))) return;
    await withNetns(async (lab) => {
      const k = await lab.namespace("k");
      const h = await lab.namespace("h");
      await k.run(["ip", "link", "add", "br0", "type", "bridge"]);
      await lab.veth(h, "eth0", k, "vh");
      const tmp = await lab.tempDir();
      const dir = `${tmp}/sw`;
      const sw = await startTapSwitch(k, dir, dataplane);
      const mgmt = `${dir}/mgmt`;
      // Jumbo everywhere, as a bridge user sets it: the bridge takes its ports' smallest MTU.
      for (const dev of ["vh", "t1"]) {
        await k.run(["ip", "link", "set", dev, "mtu", "9600", "master", "br0", "up"]);
      }
      await k.run(["ip", "link", "set", "br0", "up"]);
      await h.run(["ip", "link", "set", "eth0", "mtu", "9600"]);
      await h.addr("eth0", "10.21.8.1/24");
      // A neighbour the bridge has not learnt: its frames are flooded to the tap without an ARP answer.
      await h.run(["ip", "neigh", "add", "10.21.8.2", "lladdr", "02:00:00:21:08:02", "dev", "eth0"]);
      await h.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", "-s", "9500", "10.21.8.2"], { check: false });

      const said =
        "port 1 (tap t1): dropped a 9542-byte frame, longer than the 9234 bytes a VDE frame may be " +
        "(counted as oversize; said once): tap t1's MTU is above 9216: ip link set t1 mtu 9216";
      // On the main thread the tap link drops it before the engine, which counts nothing: said so.
      const tapSaid = said.replace("port 1 (tap t1)", "tap t1").replace("(counted as oversize;", "(dropped;");
      const line = dataplane === "thread" ? said : tapSaid;
      await waitFor(() => sw.stderr.includes(line), {
        timeoutMs: 10_000,
        what: `the line ${line}\n${sw.stderr}`,
      });
      const lines = sw.stderr.split("\n").filter((l) => l.includes("longer than the 9234 bytes"));
      assert.equal(lines.length, 1, `said once for two frames:\n${sw.stderr}`);
      const term = await MgmtClient.connect(mgmt);
      lab.defer(() => term.close());
      const counters = (await term.command("counters")).lines ?? [];
      assert.equal(counter(counters, "short"), 0, counters.join("\n"));
      // On the thread the engine drops it; on the main thread the tap link does, before the engine.
      if (dataplane === "thread") assert.equal(counter(counters, "oversize"), 2, counters.join("\n"));
    });
  });
}
