/**
 * The Linux bridge's and Open vSwitch's words for what this console does
 * under vde_switch's names, and a hardware switch CLI's (`show mac
 * address-table`, in Cisco's IOS and the many that copy it). An admin who
 * knows `bridge fdb show`, `ovs-appctl fdb/show`, `brctl showstp` or
 * `bridge mdb` types that word
 * first; edit distance finds nothing near it (`fdb` is far from `macs`), so
 * an unknown command whose first word, after any leading tool name, is one
 * of theirs is answered with ours. Only commands the console has are named:
 * a console without them (a wirefilter's, a lab's) gets the usual answer.
 */
import { words } from "./args.ts";
import { knobCommand, knobUnit, MCAST_KNOBS } from "../switch/mcast_knobs.ts";

/** Our commands, what each is as the hint says it, and their words for it. */
const OURS: readonly (readonly [string, string, readonly string[]])[] = [
  // bridge fdb, ovs-appctl fdb/show, brctl showmacs, show mac address-table.
  ["macs", "the MAC table", ["fdb", "fdb/show", "showmacs", "address-table"]],
  // bridge fdb flush [dev X] [vlan V], ovs-appctl fdb/flush.
  ["hash/flush", "the MAC table flush: all, or `port N`, `vlan V`", ["fdb/flush"]],
  // brctl setageing, ip link ... ageing_time, OVS other_config:mac-aging-time (seconds here too).
  ["hash/setexpire", "the MAC ageing time in seconds", ["setageing", "ageing_time", "mac-aging-time"]],
  // bridge mdb, ovs-appctl mdb/show; ip link's and OVS's snooping switches.
  ["mcast/print", "the multicast groups", ["mdb", "mdb/show"]],
  ["mcast/snooping", "IGMP/MLD snooping", ["mcast_snooping", "mcast_snooping_enable"]],
  ["mcast/querier", "the IGMP/MLD querier", ["mcast_querier"]],
  ["mcast/router", "a multicast router port", ["mcast_router"]],
  // ip link's bridge_slave fastleave and its synonym mcast_fast_leave, bridge link's fastleave, sysfs's name.
  ["mcast/fastleave", "a port's fast leave: mcast/fastleave PORT 1", [
    "mcast_fast_leave",
    "multicast_fast_leave",
    "fastleave",
  ]],
  // ip link's snooping timers and table bound, under their names less mcast_ and in their units.
  ...MCAST_KNOBS.map((k) => [knobCommand(k), `${k.help}, ${knobUnit(k).toLowerCase()}`, [k.name]] as const),
  // brctl showstp, ovs-appctl stp/show and rstp/show; stp_state, priorities and timers.
  ["stp", "the spanning tree", ["showstp", "stp/show", "rstp/show", "spanning-tree"]],
  ["fstp/setfstp", "spanning tree on or off", ["stp_state", "rstp_enable", "stp_enable", "brctl stp"]],
  ["stp/setprio", "the bridge priority", ["setbridgeprio", "priority", "rstp-priority"]],
  ["stp/setportcost", "a port's path cost", ["setpathcost"]],
  ["stp/setportprio", "a port's priority", ["setportprio"]],
  // bridge link set dev X guard on / root_block on; mstpctl setbpduguard.
  ["stp/setguard", "a port's BPDU guard", ["guard", "bpduguard", "setbpduguard"]],
  ["stp/setrootblock", "a port's root guard", ["root_block", "rootguard"]],
  // mstpctl setportp2p, OVS other_config:rstp-port-admin-p2p-mac.
  ["stp/setp2p", "a port's point-to-point setting (yes, no, auto)", [
    "setportp2p",
    "rstp-port-admin-p2p-mac",
  ]],
  ["stp/settimers", "hello time, max age and forward delay, in seconds", [
    "sethello",
    "setmaxage",
    "setfd",
    "hello_time",
    "max_age",
    "forward_delay",
  ]],
  // bridge vlan add ... pvid untagged, OVS tag=10: an access port; bridge vlan add/del, OVS trunks=: tagged.
  ["port/setvlan", "a port's untagged VLAN: port/setvlan PORT VLAN", ["pvid", "tag"]],
  ["vlan/addport", "a port's tagged VLAN, once vlan/create VLAN made it: vlan/addport VLAN PORT", [
    "vlan add",
    "trunks",
  ]],
  ["vlan/delport", "a port's tagged VLAN taken off: vlan/delport VLAN PORT", ["vlan del"]],
  // brctl addif / ovs-vsctl add-port: a port here is made by a client plugging in; delif, del-port.
  ["port/create", "a port, which a client plugging in makes too: vde plug DIR tap://NAME", [
    "addif",
    "add-port",
  ]],
  ["port/remove", "a port and its clients gone: port/remove PORT", ["delif", "del-port"]],
  // bridge vlan show, show vlan; ip -s link, ovs-vsctl list-ports, ovs-ofctl dump-ports, show interfaces.
  ["vlan/allprint", "the VLANs and their ports", ["vlan", "vlan/show"]],
  ["ports", "the ports with their counters", ["link", "list-ports", "dump-ports", "port/show", "interfaces"]],
];

/** Our command and what it is, for each of their words. */
const THEIR_WORDS: ReadonlyMap<string, readonly [string, string]> = new Map(
  OURS.flatMap(([ours, what, theirs]) => theirs.map((w) => [w, [ours, what]] as const)),
);

/**
 * The tools whose command lines an admin may type whole (`bridge fdb show`, `ovs-appctl fdb/show br0`),
 * and a switch CLI's `show` (`show mac address-table`).
 */
const TOOLS = new Set(["bridge", "brctl", "ip", "ovs-appctl", "ovs-vsctl", "ovs-ofctl", "show"]);

/** The bridge's and Open vSwitch's own programs, whose every command line is theirs (`ip`'s is not). */
export const BRIDGE_TOOLS: ReadonlySet<string> = new Set([
  "bridge",
  "brctl",
  "ovs-appctl",
  "ovs-vsctl",
  "ovs-ofctl",
]);

/**
 * The overviews an admin types first, `brctl show` and `ovs-vsctl show`: a
 * tool's `show` (no word of the table: a switch CLI's `show clock` is
 * nothing of ours) that lists the bridge's ports, our `ports`.
 */
const SHOW_TOOLS = new Set(["brctl", "ovs-vsctl"]);

/** Two words that are one of the table's, as typed or as OVS names it (their second alone is not). */
const PAIRS: ReadonlyMap<string, string> = new Map([
  ["fdb flush", "fdb/flush"],
  ["vlan add", "vlan add"],
  ["vlan del", "vlan del"],
  ["brctl stp", "brctl stp"],
]);

/** A word as the table has it: `other_config:rstp-priority=4096` is `rstp-priority`. */
function bare(word: string): string {
  const key = word.slice(0, word.includes("=") ? word.indexOf("=") : undefined);
  return key.slice(key.lastIndexOf(":") + 1).toLowerCase();
}

/**
 * Our command for an unknown `line` that is a bridge or Open vSwitch command
 * line or word, in words (`fdb here is macs (the MAC table)`); undefined when
 * the line is not theirs (bridgeCommand) or `paths` lacks our command.
 */
export function bridgeWordHint(line: string, paths: readonly string[]): string | undefined {
  const found = bridgeCommand(line);
  return found !== undefined && paths.includes(found.ours)
    ? `${found.word} here is ${found.ours} (${found.what})`
    : undefined;
}

/** Their word (or `brctl show`), our switch console command for it, and what that is. */
export interface BridgeCommand {
  readonly word: string;
  readonly ours: string;
  readonly what: string;
}

/**
 * The switch console command a bridge or Open vSwitch command line or word
 * means, whichever console is asked (`vde brctl show`, typed to the vde
 * program, is answered with the switch console's command); undefined when
 * the line starts with neither a tool's name nor one of their words. Of
 * several of their words the last is the one meant:
 * `ip link set br0 type bridge stp_state 1` is about spanning tree.
 */
export function bridgeCommand(line: string): BridgeCommand | undefined {
  // `bridge fdb flush` is OVS's fdb/flush; `flush` alone is no word of theirs (`ip neigh flush`),
  // nor `add` alone (`bridge vlan add` is; `bridge fdb add` is not), nor `stp` (ours) but after brctl.
  const ws = words(line).map(bare).map((w, i, all) => PAIRS.get(`${all[i - 1]} ${w}`) ?? w);
  const first = ws[0] ?? "";
  if (!TOOLS.has(first) && !THEIR_WORDS.has(first)) return undefined;
  const word = ws.findLast((w) => THEIR_WORDS.has(w));
  if (word === undefined) {
    return SHOW_TOOLS.has(first) && ws[1] === "show"
      ? { word: `${first} show`, ours: "ports", what: "the ports with their counters" }
      : undefined;
  }
  const ours = THEIR_WORDS.get(word);
  return ours === undefined ? undefined : { word, ours: ours[0], what: ours[1] };
}
