/**
 * The querier election beside a Linux bridge: two queriers on one LAN, l
 * (10.0.0.1, fe80::1) and h (10.0.0.9, fe80::9), hosts on the switch that
 * send general IGMP and MLD queries from a raw socket. l queries once, then
 * h queries every second: the current querier of each family stays l, on
 * l's port, and h's queries do not restart the other-querier timer
 * (br_multicast_select_querier takes a query only from an address at or
 * below the current one's). The kernel's state is read over rtnetlink
 * (IFLA_BR_MCAST_QUERIER_STATE: Debian 12's iproute2 does not print it),
 * ours from `mcast/print`. Both have an 8 s querier interval
 * (`mcast_querier_interval 800`, `mcast/querier_interval 800`: centiseconds
 * on both), so both see l's timer run out while h queries on, and h taken
 * then, on its own port. An IGMPv1 query (8 bytes, max response 0) that
 * names a group in its group field is a general query to both: its sender
 * is elected (br_ip4_multicast_query zeroes an IGMPv1 query's group).
 * Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep } from "../helpers/processes.ts";
import { tapHost } from "../helpers/tap_hosts.ts";
import { igmp } from "../helpers/igmp.ts";
import {
  bridgeQuerierState,
  type QuerierState,
  queryBoth,
  quietHosts,
  sendFrames,
  snoopingBridge,
  snoopingSwitch,
  switchQuerierState,
} from "../helpers/mcast_hosts.ts";

/**
 * l queries, then h three times a second apart: l stays the current querier of both families, its timer
 * not restarted (at least 2 s of it gone). Returns l's port, as the switch names it.
 */
async function lowerStays(
  hosts: { l: Netns; h: Netns },
  dev: string,
  state: () => Promise<QuerierState>,
  intervalS: number,
): Promise<number | null> {
  await queryBoth(hosts.l, dev, 1);
  await sleep(300);
  const first = await state();
  assert.equal(first.ipv4?.address, "10.0.0.1", JSON.stringify(first));
  assert.equal(first.ipv6?.address, "fe80::1", JSON.stringify(first));
  const lPort = first.ipv4!.port;
  for (let i = 0; i < 3; i++) {
    await sleep(1000);
    await queryBoth(hosts.h, dev, 9);
  }
  await sleep(300);
  const now = await state();
  for (const [family, address] of [["ipv4", "10.0.0.1"], ["ipv6", "fe80::1"]] as const) {
    const c = now[family];
    const text = `${family}: ${JSON.stringify(now)}`;
    assert.equal(c?.address, address, `the lower querier stays current, ${text}`);
    assert.equal(c.port, lPort, text);
    assert.ok(c.left <= intervalS - 2, `h's queries did not restart l's timer, ${text}`);
  }
  return lPort;
}

/**
 * l is silent; h queries on every 0.5 s: once l's 8 s ran out, h's next query is taken, for both families,
 * on one port. Returns that port.
 */
async function hTakesOver(h: Netns, dev: string, state: () => Promise<QuerierState>): Promise<number | null> {
  for (let i = 0; i < 12; i++) {
    await queryBoth(h, dev, 9);
    await sleep(500);
  }
  const now = await state();
  assert.deepEqual(
    [now.ipv4?.address, now.ipv6?.address, now.ipv6?.port],
    ["10.0.0.9", "fe80::9", now.ipv4?.port],
    JSON.stringify(now),
  );
  return now.ipv4!.port;
}

Deno.test("a Linux bridge keeps the lowest querier: a higher one's queries neither take over nor keep the lower one's timer alive, and are taken once it ran out", async (t) => {
  if (skipUnless(t, await labMissing(["python3"]))) return;
  await withNetns(async (lab) => {
    // mcast_querier 0 (no querier of its own), an 8 s other-querier interval (centiseconds).
    const { br, hosts } = await snoopingBridge(lab, ["l", "h"], ["mcast_querier_interval", "800"]);
    const state = bridgeQuerierState(br);
    await state(); // started before the timed part
    const lPort = await lowerStays(hosts, "e0", state, 8);
    const index = async (dev: string) =>
      Number((await br.run(["cat", `/sys/class/net/${dev}/ifindex`])).stdout.trim());
    assert.equal(lPort, await index("pl"));
    assert.equal(await hTakesOver(hosts.h, "e0", state), await index("ph"));
  });
});

Deno.test("our switch with mcast/querier_interval 800 keeps the lowest querier as the kernel does: a higher one's queries neither take over nor restart the lower one's timer, and are taken once its 8 s ran out", async (t) => {
  if (skipUnless(t, await labMissing(["python3"]))) return;
  await withNetns(async (lab) => {
    const { dir, mgmt: m } = await snoopingSwitch(lab);
    const hosts = { l: await tapHost(lab, dir, "l"), h: await tapHost(lab, dir, "h") };
    await quietHosts(Object.values(hosts), "t0");
    const state = switchQuerierState(m);
    // The kernel bridge's 8 s, in its unit (centiseconds).
    const set = await m.command("mcast/querier_interval 800");
    assert.equal(set.result, "1000 Success", JSON.stringify(set));
    const lPort = await lowerStays(hosts, "t0", state, 8);
    const routerPorts = async () =>
      ((await m.command("mcast/print")).lines ?? []).filter((l) => l.startsWith("router port"))
        .map((l) => Number(l.split(" ")[2]));
    assert.deepEqual(await routerPorts(), [lPort], "h's port is no router port");
    const hPort = await hTakesOver(hosts.h, "t0", state);
    assert.notEqual(hPort, lPort);
    assert.deepEqual(await routerPorts(), [hPort], "l's port's router status ran out with its 8 s");
  });
});

/** h (10.0.0.9) sends an IGMPv1 query naming 239.1.1.1, to it: no querier before, h the IPv4 querier after. */
async function v1QueryElects(h: Netns, dev: string, state: () => Promise<QuerierState>): Promise<void> {
  const before = await state();
  assert.equal(before.ipv4, undefined, `a querier before h's query: ${JSON.stringify(before)}`);
  await sendFrames(h, dev, [igmp(0x11, [239, 1, 1, 1], 9)]);
  // Looked at until it is there (a loaded machine may take a while to carry the frame), at most 5 s.
  let now: QuerierState = {};
  for (let i = 0; i < 50 && now.ipv4 === undefined; i++) {
    await sleep(100);
    now = await state();
  }
  assert.equal(now.ipv4?.address, "10.0.0.9", `h's query elected: ${JSON.stringify(now)}`);
}

Deno.test("a Linux bridge elects the sender of an IGMPv1 query whose group field names a group: max response 0 makes it a general query", async (t) => {
  if (skipUnless(t, await labMissing(["python3"]))) return;
  await withNetns(async (lab) => {
    const { br, hosts } = await snoopingBridge(lab, ["h"]);
    await v1QueryElects(hosts.h, "e0", bridgeQuerierState(br));
  });
});

Deno.test("our switch elects the sender of an IGMPv1 query whose group field names a group, as the kernel's bridge does", async (t) => {
  if (skipUnless(t, await labMissing(["python3"]))) return;
  await withNetns(async (lab) => {
    const { dir, mgmt: m } = await snoopingSwitch(lab);
    const h = await tapHost(lab, dir, "h");
    await quietHosts([h], "t0");
    await v1QueryElects(h, "t0", switchQuerierState(m));
  });
});
