/**
 * Hosts for the multicast end-to-end tests (test/e2e/mcast_*.test.ts),
 * beside a Linux bridge or our switch: crafted frames sent from a raw
 * socket, hosts whose own IPv6 stack is off (so none of its MLD reports
 * mixes in), tcpdump's captures read back frame by frame, and our switch
 * started snooping with its console open.
 */
import type { Lab, Netns } from "./netns.ts";
import { startOurSwitch } from "./switches.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { buildMldQuery } from "../../src/wire/igmp.ts";
import { igmpQueryFrom, parseIpv6Address } from "./igmp.ts";
import { startTcpdump } from "./tap_hosts.ts";
import { sleep } from "./processes.ts";

/**
 * Sends from a raw socket on the interface given, for each line read, the hex frames on it, then prints
 * `sent N` (N: lines so far). One process per host and interface for the whole test: a send is then a line
 * written, not a python3 started in a namespace, which took a second or more on a loaded machine (a few of
 * those ran the kernel's 8 s other-querier timer out before a test looked).
 */
const SENDER = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for n, line in enumerate(sys.stdin, 1):
    for h in line.split():
        s.send(bytes.fromhex(h))
    print("sent %d" % n, flush=True)
`;

/**
 * Prints a bridge's querier state as JSON: RTM_GETLINK, then IFLA_LINKINFO (18) > IFLA_INFO_DATA (2) >
 * IFLA_BR_MCAST_QUERIER_STATE (47): BRIDGE_QUERIER_IP_ADDRESS 1, _IP_PORT 2 (an ifindex), _IP_OTHER_TIMER
 * 3 (centiseconds), and the IPv6 ones 5, 6, 7; a querier whose port was deleted has no port attribute
 * (null). As `state N JSON` for each line read: one process for the
 * test, started before its timed part (lineServer), as the hosts' senders are.
 */
export const QUERIER_STATE = `
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
            out[name] = {"address": socket.inet_ntop(family, q[a]), "port": struct.unpack("=L", q[p])[0] if p in q else None,
                         "left": struct.unpack("=Q", q[t])[0] / 100}
    print("state %d %s" % (n, json.dumps(out)), flush=True)
`;

/** Writes a line to a process started by lineServer and gives the rest of its answer. */
export type Ask = (line: string) => Promise<string>;

/**
 * Starts python3 `script` with `arg` in `ns` (stopped at the lab's teardown), which answers its Nth line
 * read with `WORD N[ rest]` on a line of its own.
 */
export function lineServer(ns: Netns, word: string, script: string, arg: string): Ask {
  const p = ns.spawn(["python3", "-c", script, arg], { stdin: "piped", name: `${word} ${ns.short}` });
  let n = 0;
  return async (line) => {
    const mine = ++n;
    await p.write(`${line}\n`);
    return (await p.waitForOutput(new RegExp(`^${word} ${mine}(?: (.*))?$`, "m"), 10_000))[1] ?? "";
  };
}

/** Each host's sender per interface, started at its first send. */
const senders = new WeakMap<Netns, Map<string, Ask>>();

/** A frame in hex, padded to Ethernet's 60 bytes. */
function hex(f: Uint8Array): string {
  const padded = new Uint8Array(Math.max(60, f.length));
  padded.set(f);
  return Array.from(padded, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Sends `frames` out of `dev` in `ns`, in order, from a raw socket. */
export async function sendFrames(ns: Netns, dev: string, frames: Uint8Array[]): Promise<void> {
  let byDev = senders.get(ns);
  if (byDev === undefined) senders.set(ns, byDev = new Map());
  let send = byDev.get(dev);
  if (send === undefined) byDev.set(dev, send = lineServer(ns, "sent", SENDER, dev));
  await send(frames.map(hex).join(" "));
}

/** Brings `dev` up in each host with its IPv6 off (no stack of its own sending MLD). */
export async function quietHosts(hosts: Netns[], dev: string): Promise<void> {
  for (const ns of hosts) {
    await ns.run(["sysctl", "-qw", `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    await ns.run(["ip", "link", "set", dev, "up"]);
  }
}

/** The frames of a pcap file (tcpdump -w), in order. */
export function pcapFrames(pcap: Uint8Array): Uint8Array[] {
  const view = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const frames: Uint8Array[] = [];
  for (let p = 24; p + 16 <= pcap.length;) {
    const n = view.getUint32(p + 8, true);
    frames.push(pcap.subarray(p + 16, p + 16 + n));
    p += 16 + n;
  }
  return frames;
}

/** Our switch at `${tmp}/sw` with --mcast-snooping, and its console; both end with the lab. */
export async function snoopingSwitch(lab: Lab): Promise<{ dir: string; mgmt: MgmtClient }> {
  const tmp = await lab.tempDir();
  const dir = `${tmp}/sw`;
  const sw = await startOurSwitch(dir, { extraArgs: ["--mcast-snooping", "--mgmt", `${tmp}/mgmt`] });
  let mgmt: MgmtClient | null = null;
  lab.defer(async () => {
    mgmt?.close();
    await sw.stop();
  });
  mgmt = await MgmtClient.connect(`${tmp}/mgmt`);
  return { dir, mgmt };
}

/**
 * A Linux bridge br0 in namespace br (`mcast_snooping 1` and `settings`, ip link's words), and a host per
 * name on it: its e0 a veth to the bridge's port p<name>, quiet. br_netfilter (where loaded) checks IPv4
 * and IPv6 headers of its own, unicast too: off, the bridge that is compared is its snooping alone.
 */
export async function snoopingBridge<N extends string>(
  lab: Lab,
  names: readonly N[],
  settings: string[] = [],
): Promise<{ br: Netns; hosts: Record<N, Netns> }> {
  const br = await lab.namespace("br");
  await br.run(["ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "1", ...settings]);
  const nf = ["net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0"];
  await br.run(["sysctl", "-qw", ...nf], { check: false });
  const hosts = {} as Record<N, Netns>;
  for (const short of names) {
    hosts[short] = await lab.namespace(short);
    await lab.veth(hosts[short], "e0", br, `p${short}`);
    await br.run(["ip", "link", "set", `p${short}`, "master", "br0", "up"]);
  }
  await br.run(["sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=1"]);
  await br.run(["ip", "link", "set", "br0", "up"]);
  await quietHosts(Object.values(hosts), "e0");
  return { br, hosts };
}

/** One family's current querier: its address, the port it was heard on (null: none named), seconds left. */
export interface CurrentQuerier {
  address: string;
  port: number | null;
  left: number;
}
/** The current querier of each family, as a bridge or `mcast/print` says. */
export type QuerierState = { ipv4?: CurrentQuerier; ipv6?: CurrentQuerier };

/** Reads bridge br0's querier state in `br` (its port an ifindex), through one process started now. */
export function bridgeQuerierState(br: Netns): () => Promise<QuerierState> {
  const ask = lineServer(br, "state", QUERIER_STATE, "br0");
  return async () => JSON.parse(await ask("")) as QuerierState;
}

/**
 * Reads our switch's querier state from `mcast/print`'s `querier ipv4 10.0.0.1 port 1 temp 254.00` lines
 * (`querier ipv4 10.0.0.1 temp 254.00`: on no port).
 */
export function switchQuerierState(m: MgmtClient): () => Promise<QuerierState> {
  return async () => {
    const out: QuerierState = {};
    for (const line of (await m.command("mcast/print")).lines ?? []) {
      const q = line.match(/^querier (ipv4|ipv6) (\S+)(?: port (\d+))? temp ([\d.]+)$/);
      if (q) {
        const port = q[3] === undefined ? null : Number(q[3]);
        out[q[1] as "ipv4" | "ipv6"] = { address: q[2]!, port, left: Number(q[4]) };
      }
    }
    return out;
  };
}

/** Both families' general queries from host `n` (10.0.0.n, fe80::n, MAC 02::n) out of `dev`. */
export async function queryBoth(ns: Netns, dev: string, n: number): Promise<void> {
  const mac = new Uint8Array([2, 0, 0, 0, 0, n]);
  await sendFrames(ns, dev, [
    igmpQueryFrom([10, 0, 0, n]),
    buildMldQuery(mac, parseIpv6Address(`fe80::${n}`), null, 1000),
  ]);
}

/** The tags of the UDP datagrams (`udpToGroup`'s) from `mac` in a pcap file. */
function tagsFrom(pcap: Uint8Array, mac: Uint8Array): number[] {
  return pcapFrames(pcap).filter((f) => f.length >= 46 && mac.every((b, i) => f[6 + i] === b) && f[23] === 17)
    .map((f) => new DataView(f.buffer, f.byteOffset).getUint32(42));
}

/**
 * Runs `during` with tcpdump listening for UDP on `dev` of each of `hosts`; then the tags of the datagrams
 * from `mac` (`udpToGroup`'s) each one received, 0.7 s after `during` ended.
 */
export async function datagramsSeen<N extends string>(
  lab: Lab,
  hosts: Record<N, Netns>,
  dev: string,
  mac: Uint8Array,
  during: () => Promise<void>,
): Promise<Record<N, number[]>> {
  const tmp = await lab.tempDir();
  const names = Object.keys(hosts) as N[];
  const dumps = [];
  for (const n of names) dumps.push(await startTcpdump(hosts[n], dev, `${tmp}/${n}.pcap`, "udp"));
  await during();
  await sleep(700);
  for (const d of dumps) d.kill("SIGINT");
  await Promise.all(dumps.map((d) => d.status));
  const out = {} as Record<N, number[]>;
  for (const n of names) out[n] = tagsFrom(await Deno.readFile(`${tmp}/${n}.pcap`), mac);
  return out;
}
