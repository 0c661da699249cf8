/**
 * A new querier's delay beside a Linux bridge: hosts a (a sender), b (a
 * member of 239.1.1.3, reported while no querier is there), c (no member)
 * and r (a querier: a raw socket's general IGMP query asking for answers
 * within 5 s). Neither switch has a querier of its own, so the kernel's
 * bridge floods multicast until a querier is there; once r's query is
 * taken, it still floods for the query's max response delay (its
 * other-querier delay timer, for the reports answering the query to come
 * in), and forwards to the members only after it. So a's datagram 1, sent
 * just after r's query, reaches c; datagram 2, 8 s later, reaches b alone.
 * Ours must do the same (its timers run on the data-plane thread's one-second
 * tick, read before a wait of up to a second: the margins are 2 s or more).
 * Read from tcpdump at b and c. Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep } from "../helpers/processes.ts";
import { tapHost } from "../helpers/tap_hosts.ts";
import { buildIgmpQuery } from "../../src/wire/igmp.ts";
import { igmp, udpToGroup } from "../helpers/igmp.ts";
import {
  datagramsSeen,
  quietHosts,
  sendFrames,
  snoopingBridge,
  snoopingSwitch,
} from "../helpers/mcast_hosts.ts";

const GROUP = [239, 1, 1, 3];
const A_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

/** b reports; r queries (5 s max response); a sends datagram 1 at once and 2 after 8 s. What b and c got. */
async function aroundTheDelay(
  lab: Lab,
  hosts: Record<"a" | "b" | "c" | "r", Netns>,
  dev: string,
): Promise<{ b: number[]; c: number[] }> {
  const send = (ns: Netns, frames: Uint8Array[]) => sendFrames(ns, dev, frames);
  await send(hosts.b, [igmp(0x16, GROUP, 2)]);
  return await datagramsSeen(lab, { b: hosts.b, c: hosts.c }, dev, A_MAC, async () => {
    // Every sender started before the timed part: a's first send would start its python3.
    await send(hosts.a, []);
    await send(hosts.r, [buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 4]), null, 50)]);
    await send(hosts.a, [udpToGroup(GROUP, 1, A_MAC)]);
    await sleep(8_000);
    await send(hosts.a, [udpToGroup(GROUP, 2, A_MAC)]);
  });
}

const NAMES = ["a", "b", "c", "r"] as const;

Deno.test("a Linux bridge floods multicast for a new querier's max response delay, then sends a group to its members only", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3"]))) return;
  await withNetns(async (lab) => {
    const { hosts } = await snoopingBridge(lab, NAMES);
    assert.deepEqual(await aroundTheDelay(lab, hosts, "e0"), { b: [1, 2], c: [1] });
  });
});

Deno.test("our switch floods multicast for a new querier's max response delay, then sends a group to its members only, as the kernel bridge", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3"]))) return;
  await withNetns(async (lab) => {
    const { dir } = await snoopingSwitch(lab);
    const hosts = {} as Record<(typeof NAMES)[number], Netns>;
    for (const short of NAMES) hosts[short] = await tapHost(lab, dir, short);
    await quietHosts(Object.values(hosts), "t0");
    assert.deepEqual(await aroundTheDelay(lab, hosts, "t0"), { b: [1, 2], c: [1] });
  });
});
