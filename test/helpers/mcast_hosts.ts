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
