/**
 * End to end: vdeplug4's network nodes between our code and Debian's, with
 * taps in two namespaces. Debian's `vde_plug vde://PATH` joins our
 * `vde plug hub://PATH` (and switch://), our `vde plug vde://PATH` joins
 * Debian's `vde_plug hub://PATH`; ping crosses both ways. A node stopped
 * by SIGTERM removes PATH. Root only; in CI it must run.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { skipUnless, waitFor, waitForPath } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";

const ADDR_A = "10.199.41.1";
const ADDR_B = "10.199.41.2";

function missing(): Promise<string | null> {
  return labMissing(["vde_plug", "ping"]);
}

/** A namespace `short` with tap t0 addressed `addr`, plugged by `plug` (which ends in tap://t0). */
async function tapHost(lab: Lab, short: string, addr: string, plug: string[]): Promise<Netns> {
  const ns = await lab.namespace(short);
  await ns.tap("t0");
  await ns.addr("t0", `${addr}/24`);
  ns.spawn(plug, { name: `${plug[0]} in ${short}` });
  await ns.waitForCarrier("t0", 15_000);
  return ns;
}

/**
 * Whether the node serves a port (its NNN.F socket): two entries are no sign, as the client's own
 * handshake socket (.PID-N) is the second one until the node answers.
 */
function hasPort(dir: string): boolean {
  return [...Deno.readDirSync(dir)].some((e) => /^\d{3,}\.\d+$/.test(e.name));
}

async function pingBothWays(a: Netns, b: Netns): Promise<void> {
  await waitForPing(a, ADDR_B);
  for (const [from, to] of [[a, ADDR_B], [b, ADDR_A]] as const) {
    const r = await ping(from, to, 3, 0.2);
    assert.equal(r.received, 3, `ping ${from.short} -> ${to}: ${r.received}/3 answered\n${r.output}`);
  }
}

for (const kind of ["hub", "switch"] as const) {
  Deno.test(`Debian's vde_plug joins our vde plug ${kind}://PATH: ping crosses between two namespaces' taps`, async (t) => {
    if (skipUnless(t, await missing())) return;
    await withNetns(async (lab) => {
      const dir = `${await lab.tempDir()}/node`;
      const a = await tapHost(lab, "nn1-a", ADDR_A, [...VDE_CLI, "plug", `${kind}://${dir}`, "tap://t0"]);
      await waitForPath(`${dir}/ctl`, 10_000, true);
      const b = await tapHost(lab, "nn1-b", ADDR_B, ["vde_plug", `vde://${dir}`, "tap://t0"]);
      await pingBothWays(a, b);
    });
  });
}

Deno.test("our vde plug vde://PATH joins Debian's vde_plug hub://PATH: ping crosses between two namespaces' taps", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/node`;
    const a = await tapHost(lab, "nn1-a", ADDR_A, ["vde_plug", `hub://${dir}`, "tap://t0"]);
    await waitForPath(`${dir}/ctl`, 10_000, true);
    const b = await tapHost(lab, "nn1-b", ADDR_B, [...VDE_CLI, "plug", `vde://${dir}`, "tap://t0"]);
    await pingBothWays(a, b);
  });
});

Deno.test("a vde plug hub://PATH stopped by SIGTERM removes PATH, and its client (Debian's vde_plug) ends", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/node`;
    const node = lab.spawn(null, [...VDE_CLI, "plug", `hub://${dir}[mode=660]`, "null://"], {
      name: "vde plug",
    });
    await waitForPath(`${dir}/ctl`, 10_000, true);
    const client = lab.spawn(null, ["vde_plug", `vde://${dir}`, "null://"], { name: "vde_plug" });
    await waitFor(() => hasPort(dir), { timeoutMs: 5000, what: "the client's port" });
    Deno.kill(node.pid, "SIGTERM");
    const status = await node.status;
    assert.equal(status.code, 0, `vde plug: ${node.stderr}`);
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound, "PATH removed");
    await waitFor(() => client.exitStatus !== null, { timeoutMs: 5000, what: "vde_plug to end" });
  });
});

Deno.test("our hub:// takes over the directory Debian's vde_plug hub:// left when killed with SIGKILL", async (t) => {
  if (skipUnless(t, await missing())) return;
  await withNetns(async (lab) => {
    const dir = `${await lab.tempDir()}/node`;
    const theirs = lab.spawn(null, ["vde_plug", `hub://${dir}`, "null://"], { name: "vde_plug" });
    await waitForPath(`${dir}/ctl`, 10_000, true);
    Deno.kill(theirs.pid, "SIGKILL");
    await theirs.status;
    const stale = Deno.lstatSync(`${dir}/ctl`);
    assert.ok(stale.isSocket, "a killed node leaves PATH behind");
    const ours = lab.spawn(null, [...VDE_CLI, "plug", `hub://${dir}`, "null://"], { name: "vde plug" });
    // Ours once its ctl answers where the stale one did not.
    await waitFor(async () => {
      try {
        (await Deno.connect({ transport: "unix", path: `${dir}/ctl` })).close();
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, what: "our ctl" });
    const client = lab.spawn(null, ["vde_plug", `vde://${dir}`, "null://"], { name: "vde_plug" });
    await waitFor(() => hasPort(dir), { timeoutMs: 5000, what: "the client's port" });
    assert.equal(client.exitStatus, null, client.stderr);
    Deno.kill(ours.pid, "SIGTERM");
    assert.equal((await ours.status).code, 0, ours.stderr);
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  });
});
