/**
 * A querier's port gone, beside a Linux bridge: host l (10.0.0.1, fe80::1)
 * sends general IGMP and MLD queries from a raw socket and is taken as the
 * querier of both families on its port, which becomes a router port; then
 * its port goes (the kernel's: `ip link del pl`; ours: l's plug stops, its
 * client gone). The kernel keeps the querier's address and timer but names
 * no port for it (IFLA_BR_MCAST_QUERIER_STATE loses the port attribute) and
 * the port is no router port; `mcast/print` must say the same: the querier
 * on no port, its timer running on, no router port. Both with a 30 s
 * querier interval. Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { labMissing, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep, waitFor } from "../helpers/processes.ts";
import { VDE } from "../helpers/tap_hosts.ts";
import {
  bridgeQuerierState,
  type QuerierState,
  queryBoth,
  quietHosts,
  snoopingBridge,
  snoopingSwitch,
  switchQuerierState,
} from "../helpers/mcast_hosts.ts";

/** Checks the state after l's port went: both queriers kept, on no port, their timers running. */
function assertKeptOnNoPort(state: QuerierState): void {
  const text = JSON.stringify(state);
  assert.deepEqual(
    [state.ipv4?.address, state.ipv4?.port, state.ipv6?.address, state.ipv6?.port],
    ["10.0.0.1", null, "fe80::1", null],
    text,
  );
  assert.ok(state.ipv4!.left > 20 && state.ipv4!.left <= 30, text);
}

Deno.test("a Linux bridge keeps the querier of a deleted port, its address and timer, on no port, and no router port", async (t) => {
  if (skipUnless(t, await labMissing(["python3", "bridge"]))) return;
  await withNetns(async (lab) => {
    const { br, hosts } = await snoopingBridge(lab, ["l", "h"], ["mcast_querier_interval", "3000"]);
    const state = bridgeQuerierState(br);
    await state();
    await queryBoth(hosts.l, "e0", 1);
    await sleep(300);
    const index = Number((await br.run(["cat", "/sys/class/net/pl/ifindex"])).stdout.trim());
    assert.equal((await state()).ipv4?.port, index);
    const routers = async () => (await br.run(["bridge", "-d", "mdb", "show"])).stdout;
    assert.match(await routers(), /router ports on br0: pl/);
    await br.run(["ip", "link", "del", "pl"]);
    await sleep(300);
    assertKeptOnNoPort(await state());
    assert.doesNotMatch(await routers(), /router ports/);
  });
});

Deno.test("our switch keeps the querier heard on a port whose client left, its address and timer, on no port, and no router port, as the kernel bridge", async (t) => {
  if (skipUnless(t, await labMissing(["python3"]))) return;
  await withNetns(async (lab) => {
    const { dir, mgmt: m } = await snoopingSwitch(lab);
    assert.equal((await m.command("mcast/querier_interval 3000")).result, "1000 Success");
    const l = await lab.namespace("l");
    const plug = l.spawn([...VDE, "plug", `vde://${dir}`, "tap://t0"], { name: "vde plug l" });
    await waitFor(async () => (await l.run(["ip", "link", "show", "t0"], { check: false })).success, {
      timeoutMs: 20_000,
      what: "t0 in l",
    });
    await quietHosts([l], "t0");
    const print = async () => (await m.command("mcast/print")).lines ?? [];
    const state = switchQuerierState(m);
    const routers = async () => (await print()).filter((line) => line.startsWith("router port"));
    await queryBoth(l, "t0", 1);
    await waitFor(async () => (await state()).ipv6 !== undefined, { timeoutMs: 5000, what: "l taken" });
    const before = await state();
    assert.ok(before.ipv4?.port !== null && before.ipv4?.port === before.ipv6?.port, JSON.stringify(before));
    const port = before.ipv4!.port!;
    assert.deepEqual(
      (await routers()).map((line) => line.split(" ")[2]),
      [String(port)],
      "l's port: a router port",
    );
    await plug.stop();
    await waitFor(async () => (await routers()).length === 0, {
      timeoutMs: 10_000,
      what: "l's port forgotten",
    });
    assertKeptOnNoPort(await state());
  });
});
