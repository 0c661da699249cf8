/**
 * The slirp end-to-end lab, shared by the slirp e2e tests: a namespace
 * ("guest") plugged into our switch by Debian's vde_plug tap://, and our
 * slirp on the switch, running inside a second namespace ("host") whose
 * loopback stands for the host's (the test's servers listen there; it has
 * no default route, so every outside address is unreachable from it). A
 * third namespace ("client") reaches the host namespace over a veth
 * (10.199.7.1 - 10.199.7.2). Only addresses inside these namespaces are
 * used.
 */
import assert from "node:assert/strict";
import { canNetns, type Lab, type Netns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess } from "../helpers/processes.ts";
import { REPO_ROOT, startOurSwitch, type SwitchHandle, VDE_CLI } from "../helpers/switches.ts";
import { udhcpcOnce } from "../helpers/udhcpc.ts";
import { HELPER, slirpWithGuest, waitListening } from "./_slirp_e2e.ts";

export const VDE = VDE_CLI;
export { HELPER, waitListening };
const DNS_FIXTURE = [Deno.execPath(), "run", "-A", `${REPO_ROOT}/test/slirp/dns_fixture.ts`];

/** Why the lab cannot run here, or null. */
export async function missing(tools: string[] = []): Promise<string | null> {
  const netns = await canNetns();
  if (netns !== null) return netns;
  for (const tool of ["vde_plug", "busybox", "python3", ...tools]) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/$mask" dev "$interface"
  [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
  echo "ip=$ip mask=$mask router=$router dns=$dns lease=$lease" > "$LEASE_FILE"
  ;;
esac
`;

/** A running lab. */
export interface Setup {
  lab: Lab;
  dir: string;
  tmp: string;
  host: Netns;
  guest: Netns;
  client: Netns;
  slirp: ManagedProcess;
}

/** Starts the switch, the namespaces, the DNS fixture and `vde slirp` with `slirpArgs`. */
export async function setUp(
  lab: Lab,
  sw: { handle: SwitchHandle | null },
  slirpArgs: string[],
): Promise<Setup> {
  const tmp = await lab.tempDir();
  const dir = `${tmp}/sw`;
  sw.handle = await startOurSwitch(dir);
  const host = await lab.namespace("host");
  const guest = await lab.namespace("guest");
  const client = await lab.namespace("client");
  await lab.veth(host, "v0", client, "v1");
  await host.addr("v0", "10.199.7.1/24");
  await client.addr("v1", "10.199.7.2/24");
  // Unprivileged ICMP sockets in the host namespace, so echo to the outside can be tested.
  await host.run(["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"]);
  const dns = host.spawn([...DNS_FIXTURE, "5399"], { name: "dns fixture" });
  await dns.waitForOutput(/dns fixture on/, 20_000);
  const slirp = await slirpWithGuest(host, guest, dir, ["--dns-upstream", "127.0.0.1:5399", ...slirpArgs]);
  await guest.run(["ip", "link", "set", "t0", "up"]);
  return { lab, dir, tmp, host, guest, client, slirp };
}

/** Runs udhcpc once in the guest; answers the lease it got. */
export async function dhcp(s: Setup): Promise<Record<string, string>> {
  const script = `${s.tmp}/udhcpc.sh`;
  const lease = `${s.tmp}/lease.txt`;
  await Deno.writeTextFile(script, UDHCPC_SCRIPT);
  await Deno.chmod(script, 0o755);
  const r = await s.guest.run(
    ["env", `LEASE_FILE=${lease}`, ...udhcpcOnce("t0", script)],
    { timeoutMs: 20_000, check: false },
  );
  assert.ok(r.success, `udhcpc failed:\n${r.stdout}${r.stderr}`);
  const text = await Deno.readTextFile(lease);
  return Object.fromEntries(text.trim().split(" ").map((kv) => kv.split("=", 2) as [string, string]));
}
