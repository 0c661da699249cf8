/**
 * The Linux bridge's and Open vSwitch's words for what this console does
 * under vde_switch's names. An admin who knows `bridge fdb show`,
 * `ovs-appctl fdb/show`, `brctl showstp` or `bridge mdb` types that word
 * first; edit distance finds nothing near it (`fdb` is far from `macs`), so
 * an unknown command whose first word, after any leading tool name, is one
 * of theirs is answered with ours. Only commands the console has are named:
 * a console without them (a wirefilter's, a lab's) gets the usual answer.
 */
import { words } from "./args.ts";

/** Our command for each of their words, and the thing it is, as the hint says it. */
const THEIR_WORDS: ReadonlyMap<string, readonly [string, string]> = new Map(Object.entries({
  // MAC table: bridge fdb, ovs-appctl fdb/show, brctl showmacs.
  fdb: ["macs", "the MAC table"],
  "fdb/show": ["macs", "the MAC table"],
  showmacs: ["macs", "the MAC table"],
  // Ageing time: brctl setageing, ip link ... ageing_time, ovs mac-aging-time (all in seconds here too).
  setageing: ["hash/setexpire", "the MAC ageing time in seconds"],
  ageing_time: ["hash/setexpire", "the MAC ageing time in seconds"],
  "mac-aging-time": ["hash/setexpire", "the MAC ageing time in seconds"],
  // Multicast groups: bridge mdb, ovs-appctl mdb/show; snooping and querier switches.
  mdb: ["mcast/print", "the multicast groups"],
  "mdb/show": ["mcast/print", "the multicast groups"],
  mcast_snooping: ["mcast/snooping", "IGMP/MLD snooping"],
  mcast_snooping_enable: ["mcast/snooping", "IGMP/MLD snooping"],
  mcast_querier: ["mcast/querier", "the IGMP/MLD querier"],
  mcast_router: ["mcast/router", "a multicast router port"],
  // Spanning tree: brctl showstp, ovs-appctl stp/show and rstp/show, stp_state, priorities and timers.
  showstp: ["stp", "the spanning tree"],
  "stp/show": ["stp", "the spanning tree"],
  "rstp/show": ["stp", "the spanning tree"],
  stp_state: ["fstp/setfstp", "spanning tree on or off"],
  rstp_enable: ["fstp/setfstp", "spanning tree on or off"],
  stp_enable: ["fstp/setfstp", "spanning tree on or off"],
  setbridgeprio: ["stp/setprio", "the bridge priority"],
  priority: ["stp/setprio", "the bridge priority"],
  "rstp-priority": ["stp/setprio", "the bridge priority"],
  setpathcost: ["stp/setportcost", "a port's path cost"],
  setportprio: ["stp/setportprio", "a port's priority"],
  sethello: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  setmaxage: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  setfd: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  hello_time: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  max_age: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  forward_delay: ["stp/settimers", "hello time, max age and forward delay, in seconds"],
  // VLANs and ports: bridge vlan show, ip -s link, ovs-vsctl list-ports, ovs-ofctl dump-ports.
  vlan: ["vlan/allprint", "the VLANs and their ports"],
  "vlan/show": ["vlan/allprint", "the VLANs and their ports"],
  link: ["ports", "the ports with their counters"],
  "list-ports": ["ports", "the ports with their counters"],
  "dump-ports": ["ports", "the ports with their counters"],
  "port/show": ["ports", "the ports with their counters"],
}));

/** The tools whose command lines an admin may type whole (`bridge fdb show`, `ovs-appctl fdb/show br0`). */
const TOOLS = new Set(["bridge", "brctl", "ip", "ovs-appctl", "ovs-vsctl", "ovs-ofctl"]);

/** A word as the table has it: `other_config:rstp-priority=4096` is `rstp-priority`. */
function bare(word: string): string {
  const key = word.slice(0, word.includes("=") ? word.indexOf("=") : undefined);
  return key.slice(key.lastIndexOf(":") + 1).toLowerCase();
}

/**
 * Our command for an unknown `line` that is a bridge or Open vSwitch command
 * line or word, in words (`fdb here is macs (the MAC table)`); undefined when
 * the line starts with neither a tool's name nor one of their words, or
 * `paths` lacks our command. Of several of their words the last is the one
 * meant: `ip link set br0 type bridge stp_state 1` is about spanning tree.
 */
export function bridgeWordHint(line: string, paths: readonly string[]): string | undefined {
  const ws = words(line).map(bare);
  const first = ws[0] ?? "";
  if (!TOOLS.has(first) && !THEIR_WORDS.has(first)) return undefined;
  const word = ws.findLast((w) => THEIR_WORDS.has(w));
  if (word === undefined) return undefined;
  const ours = THEIR_WORDS.get(word);
  if (ours === undefined) return undefined;
  return paths.includes(ours[0]) ? `${word} here is ${ours[0]} (${ours[1]})` : undefined;
}
