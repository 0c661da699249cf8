/**
 * End to end: two network namespaces, each with a tap `t0` that Debian's
 * `vde_plug vde://DIR tap://t0` plugs into our switch; ping and iperf3 must
 * cross it, in switch mode and in hub mode. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";

const ADDR_A = "10.199.1.1";
const ADDR_B = "10.199.1.2";
const IPERF_PORT = "5201";

function missing(): Promise<string | null> {
  return labMissing(["vde_plug", "iperf3", "ss"]);
}

/** Two namespaces with t0 addressed and plugged into the switch at `dir`. */
async function plugPair(lab: Lab, dir: string): Promise<[Netns, Netns]> {
  const pair: Netns[] = [];
  for (const [short, addr] of [["a", ADDR_A], ["b", ADDR_B]] as const) {
    const ns = await lab.namespace(short);
    await ns.tap("t0");
    await ns.addr("t0", `${addr}/24`);
    ns.spawn(["vde_plug", `vde://${dir}`, "tap://t0"], { name: `vde_plug ${short}` });
    // Carrier means vde_plug holds the tap; the first ping later proves the switch side.
    await ns.waitForCarrier("t0", 10_000);
    pair.push(ns);
  }
  return [pair[0]!, pair[1]!];
}

async function pingAll(from: Netns, to: string): Promise<void> {
  const r = await ping(from, to, 5, 0.2);
  assert.equal(r.received, 5, `ping ${from.short} -> ${to}: ${r.received}/5 answered\n${r.output}`);
}

/** Runs a 2-second iperf3 TCP test from `client` to the server in `server`; returns bits/s received. */
async function iperf(client: Netns, server: Netns, to: string): Promise<number> {
  const srv = server.spawn(["iperf3", "-s", "-1", "-B", to, "-p", IPERF_PORT], { name: "iperf3 server" });
  await waitFor(async () => {
    if (srv.exitStatus !== null) throw new Error(`iperf3 server exited early:\n${srv.stdout}${srv.stderr}`);
    const r = await server.run(["ss", "-Hltn", `sport = :${IPERF_PORT}`], { check: false });
    return r.stdout.trim() !== "";
  }, { timeoutMs: 5000, what: "iperf3 server listening" });
  const r = await client.run(
    ["iperf3", "-c", to, "-p", IPERF_PORT, "-t", "2", "-J", "--connect-timeout", "3000"],
    { check: false, timeoutMs: 20_000 },
  );
  assert.ok(
    r.success,
    `iperf3 client failed (exit ${r.code}${r.timedOut ? ", timed out" : ""}):\n${r.stdout}${r.stderr}`,
  );
  const report = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number } } };
  return report.end?.sum_received?.bits_per_second ?? 0;
}

async function crossTraffic(hub: boolean, extraArgs: string[] = []): Promise<void> {
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/sw`;
    let sw: SwitchHandle | null = null;
    lab.defer(async () => void (await sw?.stop()));
    try {
      sw = await startOurSwitch(dir, { hub, extraArgs });
      const [a, b] = await plugPair(lab, dir);
      await waitForPing(a, ADDR_B);
      await pingAll(a, ADDR_B);
      await pingAll(b, ADDR_A);
      const bps = await iperf(a, b, ADDR_B);
      console.log(`  ${hub ? "hub" : "switch"} mode: iperf3 ${(bps / 1e6).toFixed(0)} Mbit/s`);
      assert.ok(bps > 0, "iperf3 measured no throughput");
      assert.equal(sw.process.exitStatus, null, `switch exited during the test:\n${sw.stderr()}`);
    } catch (err) {
      if (sw) console.error(`--- switch stderr ---\n${sw.stderr().trim()}\n---`);
      throw err;
    }
  });
}

Deno.test("switch on its main thread (--dataplane main) carries ping and iperf3 between vde_plug taps", async (t) => {
  if (skipUnless(t, await missing())) return;
  await crossTraffic(false, ["--dataplane", "main"]);
});

Deno.test("hub mode carries ping and iperf3 between two namespaces plugged by vde_plug taps", async (t) => {
  if (skipUnless(t, await missing())) return;
  await crossTraffic(true);
});

Deno.test("a switch forwarding on its data-plane thread (the default) carries ping and iperf3 between vde_plug taps", async (t) => {
  if (skipUnless(t, await missing())) return;
  await crossTraffic(false);
});
