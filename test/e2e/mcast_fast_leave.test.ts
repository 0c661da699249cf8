/**
 * Fast leave beside a Linux bridge: hosts a (a sender), b and c (members
 * of 239.1.1.2) and r (another querier, a raw socket's general query, so
 * snooping governs forwarding in both switches and neither answers a leave
 * with queries of its own). b's port is a fast-leave port
 * (`bridge link set dev pb fastleave on`; ours `mcast/fastleave PORT 1`),
 * c's is not. Both leave: a's next datagram to the group reaches c, whose
 * membership waits for the other querier, and not b, whose ended at its
 * leave. Read from tcpdump at b and c. Root only; runs in CI.
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

const GROUP = [239, 1, 1, 2];
const A_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

/**
 * r queries; b reports, then `fastLeave()` makes b's port a fast-leave port; c reports; a sends datagram 1;
 * b and c leave; a sends datagram 2. Returns the datagrams b and c received.
 */
async function afterLeaves(
  lab: Lab,
  hosts: Record<"a" | "b" | "c" | "r", Netns>,
  dev: string,
  fastLeave: () => Promise<void>,
): Promise<{ b: number[]; c: number[] }> {
  const send = (ns: Netns, frames: Uint8Array[]) => sendFrames(ns, dev, frames);
  // Max response 0.1 s: the kernel counts another querier present once that delay has passed.
  await send(hosts.r, [buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, 4]), null, 1)]);
  await sleep(1_500);
  await send(hosts.b, [igmp(0x16, GROUP, 2)]);
  await sleep(300);
  await fastLeave();
  await send(hosts.c, [igmp(0x16, GROUP, 3)]);
  await sleep(300);
  return await datagramsSeen(lab, { b: hosts.b, c: hosts.c }, dev, A_MAC, async () => {
    await send(hosts.a, [udpToGroup(GROUP, 1, A_MAC)]);
    await sleep(300);
    await send(hosts.b, [igmp(0x17, GROUP, 2)]);
    await send(hosts.c, [igmp(0x17, GROUP, 3)]);
    await sleep(100);
    await send(hosts.a, [udpToGroup(GROUP, 2, A_MAC)]);
  });
}

const NAMES = ["a", "b", "c", "r"] as const;

Deno.test("a Linux bridge with fastleave on a port ends its membership at that port's leave; another port's waits for the querier", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3", "bridge"]))) return;
  await withNetns(async (lab) => {
    const { br, hosts } = await snoopingBridge(lab, NAMES);
    const got = await afterLeaves(lab, hosts, "e0", async () => {
      await br.run("bridge link set dev pb fastleave on".split(" "));
    });
    assert.deepEqual(got, { b: [1], c: [1, 2] });
  });
});

Deno.test("our switch with mcast/fastleave on a port ends its membership at that port's leave, as the kernel bridge; another port's waits for the querier", async (t) => {
  if (skipUnless(t, await labMissing(["tcpdump", "python3"]))) return;
  await withNetns(async (lab) => {
    const { dir, mgmt: m } = await snoopingSwitch(lab);
    const hosts = {} as Record<(typeof NAMES)[number], Netns>;
    for (const short of NAMES) hosts[short] = await tapHost(lab, dir, short);
    await quietHosts(Object.values(hosts), "t0");
    const got = await afterLeaves(lab, hosts, "t0", async () => {
      // b's port: the only member so far (`port 3 grp 239.1.1.2 vid 0 temp 259.70`).
      const rows = ((await m.command("mcast/print")).lines ?? []).filter((l) => / grp 239\.1\.1\.2 /.test(l));
      assert.equal(rows.length, 1, rows.join("\n"));
      const set = await m.command(`mcast/fastleave ${rows[0]!.split(" ")[1]} 1`);
      assert.equal(set.result, "1000 Success", JSON.stringify(set));
    });
    assert.deepEqual(got, { b: [1], c: [1, 2] });
  });
});
