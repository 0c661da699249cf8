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

/** Sends the hex frames given after the interface from a raw socket. */
const SENDER = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
`;

/** A frame in hex, padded to Ethernet's 60 bytes. */
function hex(f: Uint8Array): string {
  const padded = new Uint8Array(Math.max(60, f.length));
  padded.set(f);
  return Array.from(padded, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Sends `frames` out of `dev` in `ns`, in order, from a raw socket. */
export async function sendFrames(ns: Netns, dev: string, frames: Uint8Array[]): Promise<void> {
  await ns.run(["python3", "-c", SENDER, dev, ...frames.map(hex)], { timeoutMs: 10_000 });
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
