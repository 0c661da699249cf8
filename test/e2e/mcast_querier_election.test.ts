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
 * then, on its own port. Root only; runs in CI.
 */
import assert from "node:assert/strict";
import { labMissing, type Netns, withNetns } from "../helpers/netns.ts";
import { skipUnless, sleep } from "../helpers/processes.ts";
import { tapHost } from "../helpers/tap_hosts.ts";
import { buildMldQuery } from "../../src/wire/igmp.ts";
import { igmpQueryFrom, parseIpv6Address } from "../helpers/igmp.ts";
import {
  lineServer,
  quietHosts,
  sendFrames,
  snoopingBridge,
  snoopingSwitch,
} from "../helpers/mcast_hosts.ts";

/**
 * Prints a bridge's querier state as JSON: RTM_GETLINK, then IFLA_LINKINFO (18) > IFLA_INFO_DATA (2) >
 * IFLA_BR_MCAST_QUERIER_STATE (47): BRIDGE_QUERIER_IP_ADDRESS 1, _IP_PORT 2 (an ifindex), _IP_OTHER_TIMER
 * 3 (centiseconds), and the IPv6 ones 5, 6, 7. As `state N JSON` for each line read: one process for the
 * test, started before its timed part (lineServer), as the hosts' senders are.
 */
const QUERIER_STATE = `
import json, socket, struct, sys
def attrs(b):
    out, i = {}, 0
    while i + 4 <= len(b):
        l, t = struct.unpack_from("HH", b, i)
        if l < 4: break
        out[t & 0x3fff] = b[i + 4:i + l]
        i += (l + 3) & ~3
    return out
index = socket.if_nametoindex(sys.argv[1])
for n, _ in enumerate(sys.stdin, 1):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.send(struct.pack("=LHHLL", 32, 18, 1, n, 0) + struct.pack("=BxHiII", 0, 0, index, 0, 0))
    data = s.recv(65536)
    s.close()
    l = struct.unpack_from("=L", data, 0)[0]
    q = attrs(attrs(attrs(attrs(data[32:l])[18])[2]).get(47, b""))
    out = {}
    for name, family, a, p, t in (("ipv4", socket.AF_INET, 1, 2, 3), ("ipv6", socket.AF_INET6, 5, 6, 7)):
        if a in q:
            out[name] = {"address": socket.inet_ntop(family, q[a]), "port": struct.unpack("=L", q[p])[0],
                         "left": struct.unpack("=Q", q[t])[0] / 100}
    print("state %d %s" % (n, json.dumps(out)), flush=True)
`;

/** One family's current querier: its address, the port it was heard on, seconds left on its timer. */
interface Current {
  address: string;
  port: number;
  left: number;
}
type State = { ipv4?: Current; ipv6?: Current };

/** Both families' general queries from host `n` (1: l, 9: h) out of `dev`. */
async function query(ns: Netns, dev: string, n: number): Promise<void> {
  const mac = new Uint8Array([2, 0, 0, 0, 0, n]);
  const frames = [
    igmpQueryFrom([10, 0, 0, n]),
    buildMldQuery(mac, parseIpv6Address(`fe80::${n}`), null, 1000),
  ];
  await sendFrames(ns, dev, frames);
}

/**
 * l queries, then h three times a second apart: l stays the current querier of both families, its timer
 * not restarted (at least 2 s of it gone). Returns l's port, as the switch names it.
 */
async function lowerStays(
  hosts: { l: Netns; h: Netns },
  dev: string,
  state: () => Promise<State>,
  intervalS: number,
): Promise<number> {
  await query(hosts.l, dev, 1);
  await sleep(300);
  const first = await state();
  assert.equal(first.ipv4?.address, "10.0.0.1", JSON.stringify(first));
  assert.equal(first.ipv6?.address, "fe80::1", JSON.stringify(first));
  const lPort = first.ipv4!.port;
  for (let i = 0; i < 3; i++) {
    await sleep(1000);
    await query(hosts.h, dev, 9);
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
async function hTakesOver(h: Netns, dev: string, state: () => Promise<State>): Promise<number> {
  for (let i = 0; i < 12; i++) {
    await query(h, dev, 9);
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
    const ask = lineServer(br, "state", QUERIER_STATE, "br0");
    const state = async () => JSON.parse(await ask("")) as State;
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
    // mcast/print's `querier ipv4 10.0.0.1 port 1 temp 254.00` lines.
    const state = async (): Promise<State> => {
      const out: State = {};
      for (const line of (await m.command("mcast/print")).lines ?? []) {
        const q = line.match(/^querier (ipv4|ipv6) (\S+) port (\d+) temp ([\d.]+)$/);
        if (q) out[q[1] as "ipv4" | "ipv6"] = { address: q[2]!, port: Number(q[3]), left: Number(q[4]) };
      }
      return out;
    };
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
