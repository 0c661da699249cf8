/**
 * Cables between a Debian vde_switch and ours, made of dpipe and two plugs
 * speaking VDE's stream framing to each other: mixed Debian/ours pieces in
 * every position, frames crossing both ways between clients of each switch.
 */
import assert from "node:assert/strict";
import { skipWithout } from "../helpers/processes.ts";
import { startCSwitch, startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import {
  BROADCAST,
  ClientSet,
  ethFrame,
  mac,
  ourCli,
  sameBytes,
  StdioClient,
  tagOf,
  waitForPortFiles,
  waitUntilAccepting,
} from "../helpers/vde_clients.ts";

const MAC_ON_C = mac(0xc1);
const MAC_ON_OURS = mac(0x01);

/**
 * Starts a C switch and ours, joins them with the cable `cable(cDir, ourDir)`
 * and runs `fn` with one vde_plug client on each; everything is stopped and
 * removed afterwards.
 */
async function withCable(
  t: Deno.TestContext,
  cable: (cDir: string, ourDir: string) => string[],
  fn: (onC: StdioClient, onOurs: StdioClient) => Promise<void>,
): Promise<void> {
  if (await skipWithout(t, { vde_switch: "vde-switch", vde_plug: "vdeplug", dpipe: "vdeplug" })) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-" });
  const cDir = `${tmp}/c`;
  const ourDir = `${tmp}/ours`;
  const clients = new ClientSet();
  const switches: SwitchHandle[] = [];
  try {
    switches.push(await startCSwitch(cDir));
    switches.push(await startOurSwitch(ourDir));
    await waitUntilAccepting(ourDir);
    const cmd = cable(cDir, ourDir);
    const wire = clients.add(new StdioClient(cmd, "cable"));
    // The cable's plugs hold one port on each switch.
    await waitForPortFiles(cDir, 1, 15_000);
    await waitForPortFiles(ourDir, 1, 15_000);
    const onC = clients.vdePlug(cDir);
    const onOurs = clients.vdePlug(ourDir);
    await waitForPortFiles(cDir, 2);
    await waitForPortFiles(ourDir, 2);
    try {
      await fn(onC, onOurs);
    } catch (err) {
      throw new Error(`${(err as Error).message}\ncable stderr: ${wire.stderr.trim()}`);
    }
    assert.equal(wire.exitStatus, null, "the cable is still up");
  } finally {
    // The cable first: its plugs would otherwise see the switches go and log errors.
    await clients.stopAll();
    for (const sw of switches.reverse()) await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Broadcast then learned unicast, each way, intact. */
async function crossBothWays(onC: StdioClient, onOurs: StdioClient): Promise<void> {
  const fromC = ethFrame(BROADCAST, MAC_ON_C, 1, 100);
  await onC.send(fromC);
  assert.ok(sameBytes(await onOurs.waitTag(1, 10_000), fromC), "C-side broadcast crossed intact");
  const fromOurs = ethFrame(MAC_ON_C, MAC_ON_OURS, 2, 1514);
  await onOurs.send(fromOurs);
  assert.ok(sameBytes(await onC.waitTag(2, 10_000), fromOurs), "our-side unicast crossed intact");
  await onC.send(ethFrame(MAC_ON_OURS, MAC_ON_C, 3, 60));
  await onOurs.waitTag(3, 10_000);
  // A few more each way, in order (below the C switch's receive queue limit of 10).
  await onC.send(...Array.from({ length: 6 }, (_, i) => ethFrame(MAC_ON_OURS, MAC_ON_C, 10 + i, 500)));
  await onOurs.send(...Array.from({ length: 6 }, (_, i) => ethFrame(MAC_ON_C, MAC_ON_OURS, 20 + i, 500)));
  await onOurs.waitTag(15, 10_000);
  await onC.waitTag(25, 10_000);
  assert.deepEqual(onOurs.frames.map(tagOf).filter((t) => t >= 10), [10, 11, 12, 13, 14, 15]);
  assert.deepEqual(onC.frames.map(tagOf).filter((t) => t >= 20), [20, 21, 22, 23, 24, 25]);
}

Deno.test("Debian dpipe joins a C vde_switch and ours with vde_plug = vde plug, frames cross both ways", async (t) => {
  await withCable(
    t,
    (cDir, ourDir) => ["dpipe", "vde_plug", cDir, "=", ...ourCli(), "plug", ourDir],
    crossBothWays,
  );
});

Deno.test("vde dpipe joins a C vde_switch and ours with Debian vde_plug on both ends, frames cross both ways", async (t) => {
  await withCable(
    t,
    (cDir, ourDir) => [...ourCli(), "dpipe", "vde_plug", cDir, "=", "vde_plug", ourDir],
    crossBothWays,
  );
});
