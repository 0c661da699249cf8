/**
 * Our loop: two of our switches with `--stp`, joined by two cables (Debian's
 * `vde_plug` plugging one switch's port into the other's), and a raw client
 * on each. A broadcast from one client reaches the other exactly once;
 * exactly one of the four cable ports is alternate/backup and discarding;
 * killing the cable that forwards moves traffic to the other within 3 s.
 * Run on both data planes: the spanning tree machine on the main thread
 * with the frames on the switch thread (the default), and all on one thread.
 */
import assert from "node:assert/strict";
import type { MgmtClient } from "../../src/console/client.ts";
import { tagOf, testFrame } from "../helpers/framed_peers.ts";
import { hasCommand, type ManagedProcess, skipUnless, spawnManaged, waitFor } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { RawClient, sleep } from "../helpers/vde_clients.ts";
import { mgmtConsole, type StpRow, stpRows } from "./_stp.ts";

/** The scenario on switches forwarding on `dataplane` (their data-plane thread, or the main thread). */
async function loop(t: Deno.TestContext, dataplane: "thread" | "main"): Promise<void> {
  if (skipUnless(t, (await hasCommand("vde_plug")) ? null : "vde_plug is not installed")) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-stp-loop-" });
  const switches: SwitchHandle[] = [];
  const cables: ManagedProcess[] = [];
  const clients: RawClient[] = [];
  const consoles: MgmtClient[] = [];
  try {
    for (const [name, prio] of [["s1", "32768"], ["s2", "4096"]] as const) {
      switches.push(
        await startOurSwitch(`${tmp}/${name}`, {
          extraArgs: ["--stp", "--priority", prio, "-M", `${tmp}/${name}.mgmt`, "--dataplane", dataplane],
        }),
      );
      consoles.push(await mgmtConsole(`${tmp}/${name}.mgmt`));
    }
    for (const port of [1, 2]) {
      cables.push(spawnManaged(["vde_plug", `vde://${tmp}/s1[${port}]`, `vde://${tmp}/s2[${port}]`], {
        name: `cable ${port}`,
      }));
    }
    const [c1, c2] = [await RawClient.open(`${tmp}/s1`, 5), await RawClient.open(`${tmp}/s2`, 5)];
    clients.push(c1, c2);
    // Converged: exactly one cable port of four is discarding, and both clients' ports forward (edge).
    let rows: StpRow[][] = [];
    await waitFor(async () => {
      rows = [await stpRows(consoles[0]!), await stpRows(consoles[1]!)];
      const cablePorts = rows.flat().filter((r) => r.port === 1 || r.port === 2);
      const clientPorts = rows.flat().filter((r) => r.port === 5);
      return cablePorts.length === 4 && cablePorts.filter((r) => r.state !== "forwarding").length === 1 &&
        clientPorts.length === 2 && clientPorts.every((r) => r.state === "forwarding");
    }, { timeoutMs: 20_000, what: "spanning tree convergence" });
    const blocked = rows.flat().filter((r) => (r.port === 1 || r.port === 2) && r.state !== "forwarding");
    assert.equal(blocked.length, 1);
    assert.ok(["alternate", "backup"].includes(blocked[0]!.role), JSON.stringify(rows));
    assert.equal(blocked[0]!.state, "discarding");
    // s2 (priority 4096) is root; s1's forwarding cable is its root port.
    const root = rows[0]!.find((r) => r.role === "root")!.port;

    c1.send(testFrame(1));
    await c2.waitTag(1, 5000);
    await sleep(500);
    c1.poll();
    c2.poll();
    assert.equal(c2.frames.filter((f) => tagOf(f) === 1).length, 1, "the broadcast arrived once");
    assert.equal(c1.frames.filter((f) => tagOf(f) === 1).length, 0, "the broadcast did not come back");

    // Cut the forwarding cable: traffic flows again over the other within 3 s.
    await cables[root - 1]!.stop({ timeoutMs: 2000 });
    const cutAt = Date.now();
    let tag = 100;
    // A broadcast every 50 ms until c2 gets the one sent last.
    const { restored } = await waitFor(() => {
      c2.poll();
      if (tag > 100 && c2.frames.some((f) => tagOf(f) === tag)) return { restored: Date.now() - cutAt };
      c1.send(testFrame(++tag));
      return false;
    }, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: "a broadcast from c1 to reach c2 after the cable was cut",
    });
    console.log(`  traffic restored ${restored} ms after the cable was cut`);
    assert.ok(restored < 3000, `restored after ${restored} ms`);
    const after = await stpRows(consoles[0]!);
    assert.equal(after.find((r) => r.role === "root")?.port, root === 1 ? 2 : 1);
  } finally {
    for (const c of consoles) c.close();
    for (const c of clients) await c.close();
    for (const c of cables) await c.stop({ timeoutMs: 2000 });
    for (const s of switches) await s.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

Deno.test("two switches joined by two cables with --stp: one port blocks, broadcasts arrive once, failover < 3 s", async (t) => {
  await loop(t, "thread");
});

Deno.test("the same loop on switches forwarding on their main thread (--dataplane main)", async (t) => {
  await loop(t, "main");
});
