/**
 * IGMP/MLD snooping end to end: three host namespaces on our switch (taps
 * through our plug), our querier on. A member of 239.1.1.1 (and of
 * ff3e::1:2) receives all 10 datagrams, a non-member none; after the
 * leave the entry is gone and nothing more reaches the old member; without
 * a querier everything is flooded. The same topology around a Linux bridge
 * (mcast_snooping 1, mcast_querier 1) gives the same counts for both
 * families. The kernel's MLD querier counts as present only once one of its
 * queries found an IPv6 source address on the bridge; with the defaults the
 * first query at link-up finds none (the link-local address is still
 * tentative) and the next comes 31 s later. So the bridge gets a nodad
 * address before it comes up, and 1 s startup-query and response intervals,
 * which make both queriers govern forwarding within about a second.
 * Our switch runs it on both data planes (snooping on the switch thread,
 * the default, and on the main thread). Both count what they saw and sent
 * the same way: `mcast/print` against the kernel ports' `ip link xstats
 * type bridge_slave` (queries sent, reports and leaves seen, each family). The three
 * run side by side, each in a lab of its own. Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { type Lab, labMissing, type Netns, waitForPing, withNetns } from "../helpers/netns.ts";
import { run, skipUnless, sleep, waitFor } from "../helpers/processes.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { startTcpdump, tapHost } from "../helpers/tap_hosts.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { sideBySide } from "../helpers/side_by_side.ts";

const SENDER = `
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(sys.argv[2]))
else:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(sys.argv[3]))
for i in range(10):
    s.sendto(b"datagram %d" % i, (sys.argv[1], 5000))
`;

/** What both switches must have counted after the scenario, per family. */
interface SeenAndSent {
  queriesSent: number;
  reportsSeen: number;
  leavesSeen: number;
}

/**
 * The scenario's traffic as counted: the querier's queries went out, b's join and leave came in, in both
 * families. A leave may come as a report (IGMPv3/MLDv2 hosts leave with a record), so the two are summed.
 */
function assertCounted(counts: { igmp: SeenAndSent; mld: SeenAndSent }, text: string): void {
  for (const family of ["igmp", "mld"] as const) {
    const c = counts[family];
    assert.ok(c.queriesSent >= 1 && c.reportsSeen + c.leavesSeen >= 2, `${family}: ${text}`);
  }
}

/** mcast/print's counter lines. */
function ourCounts(text: string): { igmp: SeenAndSent; mld: SeenAndSent } {
  const one = (family: string): SeenAndSent => {
    const m = new RegExp(
      `\\n${family} queries seen \\d+ sent (\\d+), reports seen (\\d+), leaves seen (\\d+)`,
    ).exec(text);
    assert.ok(m !== null, text);
    return { queriesSent: Number(m[1]), reportsSeen: Number(m[2]), leavesSeen: Number(m[3]) };
  };
  return { igmp: one("igmp"), mld: one("mld") };
}

/**
 * A bridge port's `ip link xstats type bridge_slave`: what the bridge sent out of it (TX) and received on
 * it (RX), summed over versions, added over `texts` (one per port). (The bridge device's own xstats count
 * its local stack's side, not the ports'.)
 */
function kernelCounts(texts: string[]): { igmp: SeenAndSent; mld: SeenAndSent } {
  const sum = (line: string | undefined) =>
    [...(line ?? "").matchAll(/v\d (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const one = (family: string): SeenAndSent => {
    const c = { queriesSent: 0, reportsSeen: 0, leavesSeen: 0 };
    for (const text of texts) {
      const part = text.slice(text.indexOf(`${family} queries:`));
      const lines = part.split("\n").map((l) => l.trim());
      c.queriesSent += sum(lines[2]); // "TX: v1 0 v2 3 v3 0" under "queries:"
      c.reportsSeen += sum(lines[4]); // "RX: ..." under "reports:"
      c.leavesSeen += Number(/leaves: RX: (\d+)/.exec(part)?.[1] ?? 0);
    }
    return c;
  };
  return { igmp: one("IGMP"), mld: one("MLD") };
}

interface Hosts {
  a: Netns;
  b: Netns;
  c: Netns;
  dev: string;
}

/** Datagrams to `group` port 5000 that b's and c's interfaces see while a sends 10. */
async function counts(lab: Lab, h: Hosts, group: string): Promise<[number, number]> {
  const tmp = await lab.tempDir();
  const dumps = [
    await startTcpdump(h.b, h.dev, `${tmp}/b.pcap`, "udp port 5000"),
    await startTcpdump(h.c, h.dev, `${tmp}/c.pcap`, "udp port 5000"),
  ];
  await h.a.run(["python3", "-c", SENDER, group, h.dev, "10.199.19.1"], { timeoutMs: 10_000 });
  await sleep(700);
  for (const d of dumps) d.kill("SIGINT");
  await Promise.all(dumps.map((d) => d.status));
  const n = async (ns: Netns) => {
    const r = await run(["tcpdump", "-r", `${tmp}/${ns.short}.pcap`, "-n"], { timeoutMs: 10_000 });
    return r.stdout.split("\n").filter((l) => l.includes(".5000")).length;
  };
  return [await n(h.b), await n(h.c)];
}

async function prepare(h: Hosts): Promise<void> {
  for (const [k, ns] of [h.a, h.b, h.c].entries()) {
    await ns.addr(h.dev, `10.199.19.${k + 1}/24`);
    await ns.run(["ip", "route", "add", "224.0.0.0/4", "dev", h.dev]);
  }
  await waitForPing(h.a, "10.199.19.2");
  await waitForPing(h.a, "10.199.19.3");
}

/** The scenario the issue asks for; `querierUp` waits until the querier governs forwarding. */
async function scenario(
  lab: Lab,
  h: Hosts,
  ipv6: boolean,
  groupsListed: () => Promise<string>,
): Promise<void> {
  await h.b.run(["ip", "addr", "add", "239.1.1.1/32", "dev", h.dev, "autojoin"]);
  await h.b.run(["ip", "-6", "addr", "add", "ff3e::1:2/128", "dev", h.dev, "autojoin"]);
  await waitFor(async () => (await groupsListed()).includes("239.1.1.1"), {
    timeoutMs: 30_000,
    what: "239.1.1.1 in the group table",
  });
  if (ipv6) {
    await waitFor(async () => (await groupsListed()).includes("ff3e::1:2"), {
      timeoutMs: 30_000,
      what: "ff3e::1:2 in the group table",
    });
  }
  assert.deepEqual(await counts(lab, h, "239.1.1.1"), [10, 0]);
  if (ipv6) assert.deepEqual(await counts(lab, h, "ff3e::1:2"), [10, 0]);
  await h.b.run(["ip", "addr", "del", "239.1.1.1/32", "dev", h.dev]);
  await h.b.run(["ip", "-6", "addr", "del", "ff3e::1:2/128", "dev", h.dev]);
  await waitFor(async () => !(await groupsListed()).includes("239.1.1.1"), {
    timeoutMs: 30_000,
    what: "239.1.1.1 gone after the leave",
  });
  if (ipv6) {
    await waitFor(async () => !(await groupsListed()).includes("ff3e::1:2"), {
      timeoutMs: 30_000,
      what: "ff3e::1:2 gone after the leave",
    });
  }
  assert.deepEqual(await counts(lab, h, "239.1.1.1"), [0, 0]);
  if (ipv6) assert.deepEqual(await counts(lab, h, "ff3e::1:2"), [0, 0]);
}

/** The scenario on our switch forwarding on `dataplane` (its data-plane thread, or the main thread). */
async function ourSwitchScenario(t: Deno.TestContext, dataplane: "thread" | "main"): Promise<void> {
  if (skipUnless(t, await labMissing(["tcpdump", "python3"]))) return;
  await withNetns(async (lab) => {
    const tmp = await lab.tempDir();
    const dir = `${tmp}/sw`;
    const sw = await startOurSwitch(dir, {
      extraArgs: ["--mcast-snooping", "--mgmt", `${tmp}/mgmt`, "--dataplane", dataplane],
    });
    let mgmt: MgmtClient | null = null;
    lab.defer(async () => {
      mgmt?.close();
      await sw.stop();
    });
    const hosts: Netns[] = [];
    for (const short of ["a", "b", "c"]) hosts.push(await tapHost(lab, dir, short));
    const h: Hosts = { a: hosts[0]!, b: hosts[1]!, c: hosts[2]!, dev: "t0" };
    await prepare(h);
    mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
    const m = mgmt;
    // Without a querier, multicast is flooded, as the kernel does.
    await h.b.run(["ip", "addr", "add", "239.1.1.9/32", "dev", "t0", "autojoin"]);
    assert.deepEqual(await counts(lab, h, "239.1.1.9"), [10, 10]);
    assert.equal((await m.command("mcast/querier 1")).result, "1000 Success");
    // The querier governs forwarding one response interval (10 s) after it starts, as the kernel's.
    await waitFor(
      async () => (await m.command("mcast/print")).lines?.join("\n").includes("ipv4 yes, ipv6 yes") ?? false,
      {
        timeoutMs: 30_000,
        what: "querier active",
      },
    );
    await scenario(lab, h, true, async () => (await m.command("mcast/print")).lines?.join("\n") ?? "");
    const printed = "\n" + ((await m.command("mcast/print")).lines?.join("\n") ?? "");
    assertCounted(ourCounts(printed), printed);
  });
}

/** The scenario around a Linux bridge (mcast_snooping 1, mcast_querier 1), counted by the kernel. */
async function linuxBridgeScenario(t: Deno.TestContext): Promise<void> {
  if (skipUnless(t, await labMissing(["tcpdump", "python3", "bridge"]))) return;
  await withNetns(async (lab) => {
    const br = await lab.namespace("br");
    // Intervals are in centiseconds: a 1 s startup-query and response interval. The querier is
    // turned on after them, as enabling it arms a delay of the response interval then in force.
    const link =
      "ip link set br0 type bridge mcast_startup_query_interval 100 mcast_query_response_interval 100";
    await br.run("ip link add br0 type bridge mcast_snooping 1 mcast_stats_enabled 1".split(" "));
    await br.run(link.split(" "));
    await br.run(["ip", "link", "set", "br0", "type", "bridge", "mcast_querier", "1"]);
    // A usable (non-tentative) IPv6 address before the first MLD query at link-up.
    await br.run(["ip", "-6", "addr", "add", "fe80::b/64", "dev", "br0", "nodad"]);
    const hosts: Netns[] = [];
    for (const short of ["a", "b", "c"]) {
      const ns = await lab.namespace(short);
      await lab.veth(ns, "e0", br, `p${short}`);
      await br.run(["ip", "link", "set", `p${short}`, "master", "br0", "up"]);
      hosts.push(ns);
    }
    await br.run(["ip", "link", "set", "br0", "up"]);
    const h: Hosts = { a: hosts[0]!, b: hosts[1]!, c: hosts[2]!, dev: "e0" };
    await prepare(h);
    // Both queriers sent their first query at link-up and their 1 s response interval has passed
    // during prepare(); a little more for a loaded machine, then the same scenario as ours.
    await sleep(2_000);
    await scenario(lab, h, true, async () => (await br.run(["bridge", "mdb", "show"])).stdout);
    const xstats: string[] = [];
    for (const port of ["pa", "pb", "pc"]) {
      xstats.push((await br.run(["ip", "link", "xstats", "type", "bridge_slave", "dev", port])).stdout);
    }
    assertCounted(kernelCounts(xstats), xstats.join("\n"));
  });
}

// The three share nothing (each its own lab of namespaces and switch or bridge), and most of their time is a
// querier's intervals waited out: they run side by side.
Deno.test("IGMP/MLD snooping on our switch's two data planes and on a Linux bridge, side by side", async (t) => {
  await sideBySide(t, [
    {
      name: "snooping with our querier: members get the group's datagrams, others none, leaves stop them",
      fn: (st) => ourSwitchScenario(st, "thread"),
    },
    {
      name: "the same with the switch forwarding on its main thread (--dataplane main)",
      fn: (st) => ourSwitchScenario(st, "main"),
    },
    {
      name: "a Linux bridge with mcast_snooping 1 mcast_querier 1 gives the same counts",
      fn: linuxBridgeScenario,
    },
  ]);
});
