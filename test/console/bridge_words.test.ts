/**
 * A Linux bridge or Open vSwitch admin types their own words at the
 * console first; an unknown command that is one of them is answered with
 * ours, whole command lines included, and only where the console has ours.
 */
import assert from "node:assert/strict";
import { bridgeWordHint } from "../../src/console/bridge_words.ts";
import { formatExplained, type KnownCommands } from "../../src/console/explain.ts";
import { Errno } from "../../src/console/reply_format.ts";

const SWITCH = [
  "macs",
  "hash/setexpire",
  "mcast/print",
  "mcast/snooping",
  "mcast/query_interval",
  "mcast/fastleave",
  "stp",
  "fstp/setfstp",
  "stp/setprio",
  "stp/setguard",
  "stp/setrootblock",
  "hash/flush",
];

Deno.test("a bridge's or Open vSwitch's word, alone or in its tool's command line, names our command", () => {
  assert.equal(bridgeWordHint("fdb", SWITCH), "fdb here is macs (the MAC table)");
  assert.equal(bridgeWordHint("bridge fdb show br0", SWITCH), "fdb here is macs (the MAC table)");
  assert.equal(bridgeWordHint("ovs-appctl fdb/show br0", SWITCH), "fdb/show here is macs (the MAC table)");
  assert.equal(bridgeWordHint("brctl showmacs br0", SWITCH), "showmacs here is macs (the MAC table)");
  assert.equal(bridgeWordHint("bridge mdb", SWITCH), "mdb here is mcast/print (the multicast groups)");
  assert.equal(
    bridgeWordHint("ip link set br0 type bridge stp_state 1", SWITCH),
    "stp_state here is fstp/setfstp (spanning tree on or off)",
  );
  assert.equal(
    bridgeWordHint("ovs-vsctl set bridge br0 other_config:rstp-priority=4096", SWITCH),
    "rstp-priority here is stp/setprio (the bridge priority)",
  );
  assert.equal(
    bridgeWordHint("ovs-vsctl set Bridge br0 mcast_snooping_enable=true", SWITCH),
    "mcast_snooping_enable here is mcast/snooping (IGMP/MLD snooping)",
  );
  // The Linux bridge's port guards: the last of their words is the one meant (not `link`, our ports).
  assert.equal(
    bridgeWordHint("bridge link set dev t1 guard on", SWITCH),
    "guard here is stp/setguard (a port's BPDU guard)",
  );
  assert.equal(
    bridgeWordHint("bridge link set dev t1 root_block on", SWITCH),
    "root_block here is stp/setrootblock (a port's root guard)",
  );
  assert.equal(
    bridgeWordHint("brctl setageing br0 30", SWITCH),
    "setageing here is hash/setexpire (the MAC ageing time in seconds)",
  );
});

Deno.test("a hardware switch CLI's show commands (show mac address-table, show spanning-tree) name ours", () => {
  const all = [...SWITCH, "ports", "vlan/allprint"];
  const cases: [string, string | undefined][] = [
    ["show mac address-table", "address-table here is macs (the MAC table)"],
    ["show spanning-tree", "spanning-tree here is stp (the spanning tree)"],
    ["show interfaces", "interfaces here is ports (the ports with their counters)"],
    ["show vlan brief", "vlan here is vlan/allprint (the VLANs and their ports)"],
    ["show clock", undefined], // show alone names nothing of ours
  ];
  for (const [line, hint] of cases) assert.equal(bridgeWordHint(line, all), hint, line);
});

Deno.test("brctl show and ovs-vsctl show, the overviews a bridge or OVS admin types first, name our ports", () => {
  const all = [...SWITCH, "ports"];
  assert.equal(bridgeWordHint("brctl show", all), "brctl show here is ports (the ports with their counters)");
  assert.equal(
    bridgeWordHint("ovs-vsctl show", all),
    "ovs-vsctl show here is ports (the ports with their counters)",
  );
  assert.equal(
    bridgeWordHint("brctl show br0", all),
    "brctl show here is ports (the ports with their counters)",
  );
  // A console without ports (a lab's, a wirefilter's) gets the usual answer.
  assert.equal(bridgeWordHint("brctl show", SWITCH), undefined);
  assert.equal(bridgeWordHint("brctl addbr br0", all), undefined);
});

Deno.test("a line that is not a bridge's or names a command the console lacks gets no such hint", () => {
  assert.equal(bridgeWordHint("prot/print", SWITCH), undefined);
  assert.equal(bridgeWordHint("foo fdb", SWITCH), undefined);
  assert.equal(bridgeWordHint("bridge", SWITCH), undefined);
  assert.equal(bridgeWordHint("constructor", SWITCH), undefined);
  assert.equal(bridgeWordHint("", SWITCH), undefined);
  assert.equal(bridgeWordHint("fdb", ["links", "link"]), undefined);
});

Deno.test("an unknown bridge word is explained with our command, in place of the bare list of commands", () => {
  const known: KnownCommands = { syntax: (p) => (SWITCH.includes(p) ? "" : undefined), paths: () => SWITCH };
  assert.equal(
    formatExplained("bridge fdb show", { code: Errno.ENOSYS }, known),
    "bridge: no such command; fdb here is macs (the MAC table)\n",
  );
  assert.equal(
    formatExplained("nothing", { code: Errno.ENOSYS }, known),
    "nothing: no such command; `help` lists the commands\n",
  );
  // help with their word, as the interactive console answers a help that matched nothing.
  const header = [
    "COMMAND PATH       SYNTAX          HELP",
    "------------       --------------  ------------",
  ];
  assert.equal(
    formatExplained("help fdb", { code: 0, lines: header }, known),
    `${header.join("\n")}\nno command starts with fdb; fdb here is macs (the MAC table)\n`,
  );
});

Deno.test("bridge fdb flush and ovs-appctl fdb/flush name hash/flush; flush alone or of neighbours does not", () => {
  const hint = "fdb/flush here is hash/flush (the MAC table flush: all, or `port N`, `vlan V`)";
  assert.equal(bridgeWordHint("bridge fdb flush dev br0", SWITCH), hint);
  assert.equal(bridgeWordHint("ovs-appctl fdb/flush br0", SWITCH), hint);
  assert.equal(bridgeWordHint("bridge fdb show", SWITCH), "fdb here is macs (the MAC table)");
  assert.equal(bridgeWordHint("ip neigh flush all", SWITCH), undefined);
  assert.equal(bridgeWordHint("ovs-appctl fdb/flush", SWITCH.filter((p) => p !== "hash/flush")), undefined);
});

Deno.test("a bridge's or OVS's VLAN, port and spanning tree settings name the console command that makes them", () => {
  const all = [...SWITCH, "port/setvlan", "vlan/addport", "vlan/delport", "port/create", "port/remove"];
  const cases: [string, string][] = [
    ["bridge vlan add dev tap1 vid 10 pvid untagged", "pvid here is port/setvlan"],
    ["ovs-vsctl set port tap1 tag=10", "tag here is port/setvlan"],
    ["bridge vlan add dev tap1 vid 10", "vlan add here is vlan/addport"],
    ["ovs-vsctl set port tap1 trunks=10,20", "trunks here is vlan/addport"],
    ["bridge vlan del dev tap1 vid 10", "vlan del here is vlan/delport"],
    ["brctl stp br0 on", "brctl stp here is fstp/setfstp"],
    ["brctl addif br0 tap1", "addif here is port/create"],
    ["ovs-vsctl add-port br0 tap1", "add-port here is port/create"],
    ["brctl delif br0 tap1", "delif here is port/remove"],
    ["ovs-vsctl del-port br0 tap1", "del-port here is port/remove"],
  ];
  for (const [line, start] of cases) assert.ok(bridgeWordHint(line, all)?.startsWith(`${start} (`), line);
  // Their second words alone are no words of theirs; `bridge vlan show` is still the listing.
  assert.equal(bridgeWordHint("add 10", all), undefined);
  assert.match(
    bridgeWordHint("bridge vlan show", [...all, "vlan/allprint"]) ?? "",
    /^vlan here is vlan\/allprint/,
  );
});

Deno.test("ip link's snooping knobs and a port's fastleave, mcast_fast_leave or multicast_fast_leave name our mcast/ commands", () => {
  assert.equal(
    bridgeWordHint("ip link set br0 type bridge mcast_query_interval 500", SWITCH),
    "mcast_query_interval here is mcast/query_interval (time between our general queries after start-up, " +
      "centiseconds)",
  );
  assert.equal(
    bridgeWordHint("ip link set dev p1 type bridge_slave multicast_fast_leave on", SWITCH),
    "multicast_fast_leave here is mcast/fastleave (a port's fast leave: mcast/fastleave PORT 1)",
  );
  // ip-link(8)'s own words for it: bridge_slave fastleave, and its synonym mcast_fast_leave.
  assert.equal(
    bridgeWordHint("ip link set dev p1 type bridge_slave mcast_fast_leave on", SWITCH),
    "mcast_fast_leave here is mcast/fastleave (a port's fast leave: mcast/fastleave PORT 1)",
  );
  assert.equal(
    bridgeWordHint("bridge link set dev p1 fastleave on", SWITCH),
    "fastleave here is mcast/fastleave (a port's fast leave: mcast/fastleave PORT 1)",
  );
});
