/**
 * Failures in words at a terminal (`vde term`, the switch's console): a
 * bare failure code is explained from the commands the console knows, but
 * a failure that says why is shown as it is, without a usage guessed from
 * the code (`vde term LAB` learns a lab's commands from a help of another
 * shape, so its guesses about a lab command are wrong).
 */
import assert from "node:assert/strict";
import {
  failureHint,
  formatExplained,
  type KnownCommands,
  knownCommandsOf,
  suggestCommands,
} from "../../src/console/explain.ts";
import { Errno } from "../../src/console/reply_format.ts";
import { wirefilterCommands, WirefilterContext } from "../../src/wirefilter/commands.ts";
import { WireFilter } from "../../src/wirefilter/filter.ts";
import { isValueError, parseWireValue } from "../../src/wirefilter/value.ts";

/** What `vde term` learns of a lab: `link` with no syntax, as the lab's help does not say it in columns. */
const known: KnownCommands = {
  syntax: (p) => (p === "link" || p === "hub" ? "" : undefined),
  paths: () => ["link", "links", "hub"],
};

Deno.test("a failure that says why is shown as it is, with no usage guessed from its code", () => {
  const reply = { code: Errno.EINVAL, raw: "no link sw1-sw9 (links: sw1:1-sw2:1)\n" };
  assert.equal(formatExplained("link sw1-sw9 down", reply, known), "no link sw1-sw9 (links: sw1:1-sw2:1)\n");
});

Deno.test("a bare failure is explained from the commands the console knows", () => {
  assert.equal(
    formatExplained("hub maybe", { code: Errno.EINVAL }, known),
    "hub: Invalid argument (1022)\nusage: hub (takes no arguments)\n",
  );
  assert.equal(
    formatExplained("lnks", { code: Errno.ENOSYS }, known),
    "lnks: no such command; did you mean links, link?\n",
  );
});

/** A switch console knowing `syntaxes`, command path to argument syntax. */
function knowing(syntaxes: Record<string, string>): KnownCommands {
  return { syntax: (p) => syntaxes[p], paths: () => Object.keys(syntaxes) };
}

const NO_PORT =
  "no such port: a port is there once something plugs in, or after port/create N; `ports all` lists them\n";

Deno.test("1006 from port/print says it shows ports in use and where one port/create made is shown, not 'after port/create N' to one who just made it", () => {
  assert.equal(
    formatExplained("port/print 10", { code: Errno.ENXIO }, knowing({ "port/print": "[N]" })),
    "port/print: No such device or address (1006)\n" +
      "no port in use there: port/print shows a port while a client is plugged in; port/allprint N shows one " +
      "port/create made, and `ports all` lists them\n",
  );
});

Deno.test("1006 says which of a command's port, VLAN or spanning tree is missing, and how to make it", () => {
  const sw = knowing({
    "vlan/addport": "N PORT",
    "port/remove": "N",
    "vlan/print": "[N]",
    "stp/setedge": "PORT 0/1",
    "mcast/router": "PORT 0/1",
  });
  assert.equal(
    formatExplained("vlan/addport 10 1", { code: Errno.ENXIO }, sw),
    "vlan/addport: No such device or address (1006)\n" +
      "no such port or VLAN (vlan/addport VLAN PORT): a port is there once something plugs in, or after " +
      "port/create N; vlan/create N makes a VLAN\n",
  );
  assert.equal(
    formatExplained("port/remove 5", { code: Errno.ENXIO }, sw),
    `port/remove: No such device or address (1006)\n${NO_PORT}`,
  );
  // vde_switch has no mcast menu: its port is missing as in vde_switch's own port commands.
  assert.equal(
    formatExplained("mcast/router 5 1", { code: Errno.ENXIO }, sw),
    `mcast/router: No such device or address (1006)\n${NO_PORT}`,
  );
  assert.match(formatExplained("vlan/print 99", { code: Errno.ENXIO }, sw), /\nno such VLAN: vlan\/create N/);
  assert.match(formatExplained("stp/setedge 1 1", { code: Errno.ENXIO }, sw), /\nspanning tree is off/);
  // 4094 is in the command's range but no VLAN can have it: the VLANs a port takes, not "no such port or VLAN".
  assert.equal(
    formatExplained("port/setvlan 1 4094", { code: Errno.ENXIO }, knowing({ "port/setvlan": "N VLAN" })),
    "port/setvlan: No such device or address (1006)\n" +
      "a port's untagged VLAN is 0, one vlan/create made (1-4093), or 4095 for none (tagged frames only), not 4094\n",
  );
});

Deno.test("1017 from a create command says which VLAN or port is already there, and where to see it", () => {
  const sw = knowing({ "vlan/create": "N", "port/create": "N", "debug/add": "dbgpath" });
  const cases: [string, string][] = [
    ["vlan/create 10", "vlan/create: File exists (1017)\nVLAN 10 exists; vlan/allprint 10 shows it\n"],
    ["port/create  5 ", "port/create: File exists (1017)\nport 5 exists; port/allprint 5 shows it\n"],
    // Where the code says all there is to say, it stays alone.
    ["debug/add port", "debug/add: File exists (1017)\n"],
  ];
  for (const [line, words] of cases) assert.equal(formatExplained(line, { code: Errno.EEXIST }, sw), words);
});

Deno.test("suggestions never name the command typed: it is no typo of itself (vde term's emulated ports)", () => {
  assert.deepEqual(suggestCommands("ports", ["ports", "port", "nodes"]), ["port"]);
  assert.deepEqual(suggestCommands("link", ["link", "links"]), ["links"]);
});

Deno.test("a failure that printed listing rows but no words still says that it failed, after the rows", () => {
  assert.equal(
    formatExplained("hub maybe", { code: Errno.EINVAL, lines: ["a row"] }, known),
    "a row\nhub: Invalid argument (1022)\nusage: hub (takes no arguments)\n",
  );
});

Deno.test("a failure whose words come before a listing shows both, words first, and no guess", () => {
  const reply = { code: Errno.ENOENT, raw: "no host h9 (hosts: none)\n", lines: ["a row"] };
  assert.equal(formatExplained("exec h9 ls", reply, known), "no host h9 (hosts: none)\na row\n");
});

Deno.test("a bare 1022 from mcast/router or mcast/querier (an older switch's) says snooping may be off and what to type", () => {
  const sw = knowing({ "mcast/router": "PORT 0/1", "mcast/querier": "0/1", "port/sethub": "0/1" });
  const off = "snooping is off: type mcast/snooping 1 first, or start the switch with --mcast-snooping";
  const cases: [string, string][] = [
    [
      "mcast/router 3 1",
      `mcast/router: Invalid argument (1022)\n${off}; or port 3 is past the last port ` +
      "(port/showinfo says Numports)\n",
    ],
    ["mcast/querier 1", `mcast/querier: Invalid argument (1022)\n${off}\n`],
    // Malformed arguments are what the usage is for.
    ["mcast/router x 1", "mcast/router: Invalid argument (1022)\nusage: mcast/router PORT 0/1\n"],
    ["mcast/router 3 maybe", "mcast/router: Invalid argument (1022)\nusage: mcast/router PORT 0/1\n"],
    ["mcast/querier 2", "mcast/querier: Invalid argument (1022)\nusage: mcast/querier 0/1\n"],
    ["port/sethub 1", "port/sethub: Invalid argument (1022)\nusage: port/sethub 0/1\n"],
  ];
  for (const [line, words] of cases) {
    assert.equal(formatExplained(line, { code: Errno.EINVAL }, sw), words, line);
  }
});

Deno.test("1098 says what still holds a VLAN or port, and which command frees it", () => {
  const sw = knowing({
    "vlan/remove": "N",
    "vlan/delport": "N PORT",
    "port/remove": "N",
    "port/setnumports": "N",
  });
  const cases: [string, string][] = [
    [
      "vlan/remove 10",
      "VLAN 10 still has ports, which vlan/allprint 10 lists: vlan/delport 10 PORT takes a trunk out, " +
      "port/setvlan PORT 0 an access port",
    ],
    [
      "vlan/delport 10 2",
      "VLAN 10 is port 2's untagged VLAN, which vlan/delport leaves alone: port/setvlan 2 0 or another VLAN " +
      "changes it",
    ],
    ["port/remove 3", "port 3 has clients, which port/print 3 lists: port/epclose 3 ID closes one"],
    [
      "port/setnumports 4",
      "ports at 4 or above are still there: `ports all` lists them, port/remove frees one",
    ],
  ];
  for (const [line, hint] of cases) {
    const name = line.slice(0, line.indexOf(" "));
    assert.equal(
      formatExplained(line, { code: Errno.EADDRINUSE }, sw),
      `${name}: Address already in use (1098)\n${hint}\n`,
    );
  }
  // Words that are not the numbers these take: the code alone.
  assert.equal(
    formatExplained("vlan/remove x", { code: Errno.EADDRINUSE }, sw),
    "vlan/remove: Address already in use (1098)\n",
  );
});

Deno.test("hash/find's 1019, debug/add's unknown category and load without a file say what to do", () => {
  const k = knowing({ "hash/find": "MAC [VLAN]", "debug/add": "dbgpath", "debug/list": "", load: "path" });
  assert.equal(
    formatExplained("hash/find 00:11:22:33:44:55", { code: Errno.ENODEV }, k),
    "hash/find: No such device (1019)\nthat MAC is not learnt (in that VLAN): `macs` lists the table\n",
  );
  assert.equal(
    formatExplained("debug/add nosuch", { code: Errno.EINVAL }, k),
    "debug/add: Invalid argument (1022)\nno debug category nosuch: debug/list lists them\n",
  );
  assert.equal(
    formatExplained("debug/add", { code: Errno.EINVAL }, k),
    "debug/add: Invalid argument (1022)\nusage: debug/add dbgpath\n",
  );
  assert.equal(
    formatExplained("load", { code: Errno.ENOENT }, k),
    "load: No such file or directory (1002)\nusage: load path\n",
  );
});

Deno.test("help WORD that matches no command says so at a terminal, with the nearest commands", () => {
  const k = knowing({ "port/print": "[N]", "port/setvlan": "N VLAN", ports: "[all]" });
  const header = [
    "COMMAND PATH       SYNTAX          HELP",
    "------------       --------------  ------------",
  ];
  assert.equal(
    formatExplained("help prot/print", { code: 0, lines: header }, k),
    `${header.join("\n")}\nno command starts with prot/print; did you mean port/print?\n`,
  );
  const row = "port/print         [N]             print the port/endpoint table";
  assert.equal(
    formatExplained("help port/pr", { code: 0, lines: [...header, row] }, k),
    `${[...header, row].join("\n")}\n`,
  );
});

Deno.test("1022 for a number out of its range says the range, where the usage line gives none", () => {
  const k = knowing({ "vlan/create": "N", "hash/setsize": "N", "port/setnumports": "N" });
  assert.equal(
    formatExplained("vlan/create 4095", { code: Errno.EINVAL }, k),
    "vlan/create: Invalid argument (1022)\na VLAN is 1-4093, not 4095\n",
  );
  assert.equal(
    formatExplained("hash/setsize 0", { code: Errno.EINVAL }, k),
    "hash/setsize: Invalid argument (1022)\nthe hash size is 1-1048576, not 0\n",
  );
  assert.equal(
    formatExplained("vlan/create ten", { code: Errno.EINVAL }, k),
    "vlan/create: Invalid argument (1022)\nusage: vlan/create N\n",
    "a malformed number still gets the usage",
  );
});

Deno.test("load of a relative path the switch cannot find says to give the full path", () => {
  assert.equal(
    formatExplained("load my.rc", { code: Errno.ENOENT }, knowing({ load: "path" })),
    "load: No such file or directory (1002)\n" +
      "the switch opens a relative path in the directory it runs in: give the full path\n",
  );
  assert.equal(
    formatExplained("load /etc/vde/none.rc", { code: Errno.ENOENT }, knowing({ load: "path" })),
    "load: No such file or directory (1002)\n",
  );
});

Deno.test("1022 from a port command given a port and its arguments says the port is past the last one", () => {
  const k = knowing({
    "port/print": "[N]",
    "port/setvlan": "N VLAN",
    "port/setuser": "N user",
    "port/allocatable": "N 0/1",
    "port/epclose": "N ID",
  });
  const past = (n: number) => `port ${n} is past the last port (port/showinfo says Numports)`;
  const cases: [string, string][] = [
    ["port/print 99", `port/print: Invalid argument (1022)\n${past(99)}\n`],
    ["port/setvlan 20 10", `port/setvlan: Invalid argument (1022)\n${past(20)}\n`],
    ["port/allocatable 40 1", `port/allocatable: Invalid argument (1022)\n${past(40)}\n`],
    ["port/epclose 40 2", `port/epclose: Invalid argument (1022)\n${past(40)}\n`],
    // A VLAN out of range is said with the VLANs a port takes; arguments that are no port are what the usage is for.
    [
      "port/setvlan 2 5000",
      "port/setvlan: Invalid argument (1022)\n" +
      "a port's untagged VLAN is 0, one vlan/create made (1-4093), or 4095 for none (tagged frames only), not 5000\n",
    ],
    ["port/print x", "port/print: Invalid argument (1022)\nusage: port/print [N]\n"],
    ["port/setvlan 2", "port/setvlan: Invalid argument (1022)\nusage: port/setvlan N VLAN\n"],
    // The other argument's bad value (said 'port 3 is past the last port' on a 32-port switch).
    ["port/allocatable 3 2", "port/allocatable: Invalid argument (1022)\nusage: port/allocatable N 0/1\n"],
    ["port/epclose 3 x", "port/epclose: Invalid argument (1022)\nusage: port/epclose N ID\n"],
    // A user that does not exist gives 1022 as a port past the last does: no guess.
    ["port/setuser 3 nosuchuser", "port/setuser: Invalid argument (1022)\nusage: port/setuser N user\n"],
  ];
  for (const [line, said] of cases) {
    assert.equal(formatExplained(line, { code: Errno.EINVAL }, k), said, line);
  }
});

Deno.test("shutdown refused (a lab's switch) says that it stops with its lab", () => {
  const k = knowing({ shutdown: "" });
  assert.equal(
    formatExplained("shutdown", { code: Errno.EOPNOTSUPP }, k),
    "shutdown: Operation not supported (1095)\nthis one stops with what runs it: a lab's switch with its lab " +
      "(`vde down LAB`, or `down` in its shell)\n",
  );
});

Deno.test("wirefilter's 1022 from a node command with well-formed nodes says the node may not exist", () => {
  const k = knowing({
    "markov-setnode": "n",
    "markov-numnodes": "n",
    "showedges": "[n]",
    "setedge": "n1,n2,w",
    "markov-name": "n,name",
    "showinfo": "",
  });
  const noNode = (n: number) =>
    `no node ${n}? nodes are 0 to markov-numnodes - 1 (showcurrent names the last); markov-numnodes N makes more`;
  const cases: [string, string][] = [
    ["markov-setnode 99", `markov-setnode: Invalid argument (1022)\n${noNode(99)}\n`],
    ["showedges 3", `showedges: Invalid argument (1022)\n${noNode(3)}\n`],
    ["setedge 0,5,1", `setedge: Invalid argument (1022)\n${noNode(5)}\n`],
    ["markov-name 4,slow", `markov-name: Invalid argument (1022)\n${noNode(4)}\n`],
    ["setedge 1,1,5", "setedge: Invalid argument (1022)\nan edge joins two different nodes\n"],
    [
      "markov-numnodes 5000",
      "markov-numnodes: Invalid argument (1022)\nthe number of Markov nodes is 1-1024, not 5000\n",
    ],
    // Malformed arguments are what the usage is for.
    ["markov-setnode x", "markov-setnode: Invalid argument (1022)\nusage: markov-setnode n\n"],
    ["setedge 0,1", "setedge: Invalid argument (1022)\nusage: setedge n1,n2,w\n"],
    ["markov-name 4", "markov-name: Invalid argument (1022)\nusage: markov-name n,name\n"],
    // A switch's showinfo takes no node: no guess about nodes there.
    ["showinfo 3", "showinfo: Invalid argument (1022)\nusage: showinfo (takes no arguments)\n"],
  ];
  for (const [line, said] of cases) {
    assert.equal(formatExplained(line, { code: Errno.EINVAL }, k), said, line);
  }
});

Deno.test("1022 from VLAN membership and spanning tree commands says which number is out of its range", () => {
  const k = knowing({
    "vlan/addport": "N PORT",
    "vlan/delport": "N PORT",
    "port/setvlan": "N VLAN",
    "stp/setprio": "PRIO",
    "stp/settimers": "HELLO MAXAGE FWDDELAY",
    "stp/setportcost": "PORT COST",
    "stp/setportprio": "PORT PRIO",
    "stp/setedge": "PORT 0/1",
    "stp/setguard": "PORT 0/1",
    "stp/setrootblock": "PORT 0/1",
    "stp/setp2p": "PORT yes/no/auto",
  });
  const past = (n: number) => `port ${n} is past the last port (port/showinfo says Numports)`;
  const cases: [string, string][] = [
    ["vlan/addport 10 99", past(99)],
    ["vlan/delport 10 40", past(40)],
    ["vlan/addport 5000 2", "a VLAN is 0-4093, not 5000"],
    ["stp/setprio 70000", "the bridge priority is 0-61440 in steps of 4096, not 70000: 61440"],
    // RSTP keeps the top four bits, as Open vSwitch; refused, not rounded, with the nearest values.
    ["stp/setprio 4097", "the bridge priority is 0-61440 in steps of 4096, not 4097: 4096 or 8192"],
    ["stp/setprio 100", "the bridge priority is 0-61440 in steps of 4096, not 100: 0 or 4096"],
    [
      "port/setvlan 1 4096",
      "a port's untagged VLAN is 0, one vlan/create made (1-4093), or 4095 for none (tagged frames only), not 4096",
    ],
    ["stp/settimers 1 2 3", "hello time is 1-10, max age 6-40, forward delay 2-30 (seconds), not 1 2 3"],
    // A Linux bridge's timers in centiseconds (ip link ... hello_time 200) are said in seconds.
    [
      "stp/settimers 200 2000 1500",
      "hello time is 1-10, max age 6-40, forward delay 2-30 (seconds), not 200 2000 1500; " +
      "ip link counts centiseconds: stp/settimers 2 20 15 is the same here",
    ],
    ["stp/setportcost 2 0", "a path cost is 1-200000000, not 0"],
    ["stp/setportprio 2 17", "a port priority is 0-240 in steps of 16, not 17: 16 or 32"],
    ["stp/setportprio 2 300", "a port priority is 0-240 in steps of 16, not 300: 240"],
    ["stp/setportprio 99 16", past(99)],
    ["stp/setportcost 0 5", "spanning tree runs on ports 1-4095, not 0"],
    ["stp/setedge 40 1", past(40)],
    ["stp/setguard 2 2", "BPDU guard is 0 or 1, not 2"],
    ["stp/setrootblock 2 x", "usage: stp/setrootblock PORT 0/1"],
    ["stp/setrootblock 0 1", "spanning tree runs on ports 1-4095, not 0"],
    ["stp/setp2p 1 maybe", "point-to-point is yes, no or auto, not maybe"],
    ["stp/setp2p 99 yes", past(99)],
    ["stp/setp2p 0 no", "spanning tree runs on ports 1-4095, not 0"],
    ["stp/setp2p 1", "usage: stp/setp2p PORT yes/no/auto"],
    // Malformed or missing numbers are what the usage is for.
    ["vlan/addport 10 x", "usage: vlan/addport N PORT"],
    ["stp/setportcost 2", "usage: stp/setportcost PORT COST"],
    ["stp/settimers 2 20", "usage: stp/settimers HELLO MAXAGE FWDDELAY"],
    ["stp/setedge 2 x", "usage: stp/setedge PORT 0/1"],
  ];
  for (const [line, said] of cases) {
    const name = line.split(" ")[0];
    assert.equal(
      formatExplained(line, { code: Errno.EINVAL }, k),
      `${name}: Invalid argument (1022)\n${said}\n`,
      line,
    );
  }
});

Deno.test("1006 from mirror/del says the port is no mirror output, and where they are listed", () => {
  assert.equal(
    formatExplained("mirror/del 7", { code: Errno.ENXIO }, knowing({ "mirror/del": "OUT" })),
    "mirror/del: No such device or address (1006)\nport 7 is no mirror output: mirror/print lists them\n",
  );
});

Deno.test("a menu's name alone is still 1038, and a person is told the menu's commands as help lists them", () => {
  const menus: KnownCommands = {
    syntax: () => undefined,
    paths: () => ["help", "mcast/snooping", "mcast/querier", "mcastx", "vlan/create"],
  };
  assert.equal(
    formatExplained("mcast", { code: Errno.ENOSYS }, menus),
    "mcast is a menu: mcast/snooping, mcast/querier (`help mcast` shows their arguments)\n",
  );
  assert.equal(
    failureHint("vlan", Errno.ENOSYS, menus),
    "vlan is a menu: vlan/create (`help vlan` shows their arguments)",
  );
});

Deno.test("tc netem's words on a wirefilter's console are answered with its commands; a switch's console has none of them", () => {
  const wirefilter = knownCommandsOf(
    wirefilterCommands(new WirefilterContext(new WireFilter({ seed: 1 }), { bidirectional: true })),
  );
  assert.equal(
    formatExplained("rate 1mbit", { code: Errno.ENOSYS }, wirefilter),
    "rate: no such command; tc netem's rate is bandwidth here, in bytes/s: bandwidth 125000\n",
  );
  assert.equal(
    failureHint("duplicate 2%", Errno.ENOSYS, wirefilter),
    "tc netem's duplicate is dup here: dup 2",
  );
  assert.equal(failureHint("rate 1mbit", Errno.ENOSYS, known), "no such command; `help` lists the commands");
});

Deno.test("netem's jitter on a wirefilter's console is said around the delay already set, or says it sets one", () => {
  const filter = new WireFilter({ seed: 1 });
  const ctx = new WirefilterContext(filter, { bidirectional: true });
  const console = { ...knownCommandsOf(wirefilterCommands(ctx)), delay: () => ctx.currentDelay() };
  const unset = failureHint("jitter 20ms", Errno.ENOSYS, console) ?? "";
  assert.match(
    unset,
    /: delay DELAY\+20, or DELAY\+20N for a normal distribution; DELAY is the delay it sets, in ms \(`showinfo` /,
  );
  const set = (v: string) => {
    const s = parseWireValue(v);
    if (isValueError(s)) throw new Error(s.error);
    filter.set("delay", s);
  };
  set("100");
  assert.equal(
    failureHint("jitter 20ms", Errno.ENOSYS, console),
    "tc netem's jitter is the spread of the delay here, in ms: delay 100+20, or 100+20N for a normal distribution",
  );
  // A spread already set is replaced, the delay kept.
  set("250+5");
  assert.match(failureHint("jitter 10", Errno.ENOSYS, console) ?? "", /: delay 250\+10, or 250\+10N /);
  // Two ways with different delays have no one number to keep.
  set("RL40");
  assert.match(failureHint("jitter 10", Errno.ENOSYS, console) ?? "", /: delay DELAY\+10, /);
});

Deno.test("a switch's ports, macs or hub on a wirefilter's console say what the wirefilter has", () => {
  const wirefilter = knownCommandsOf(
    wirefilterCommands(new WirefilterContext(new WireFilter({ seed: 1 }), { bidirectional: true })),
  );
  assert.equal(
    formatExplained("ports", { code: Errno.ENOSYS }, wirefilter),
    "ports: no such command; a wirefilter's console has no ports or MACs: `showinfo` shows its impairments, " +
      "`counters` what each did, loss/delay/dup/bandwidth/... set them (`help` lists them)\n",
  );
  assert.match(failureHint("hub on", Errno.ENOSYS, wirefilter) ?? "", /^a wirefilter's console has no ports/);
  // A switch's console without them (a lab's) is no wirefilter's.
  assert.equal(failureHint("ports", Errno.ENOSYS, known), "no such command; `help` lists the commands");
});

Deno.test("slirp commands on a switch with no slirp of its own say where a vde slirp's counters and forwards are", () => {
  const switchOnly: KnownCommands = {
    syntax: (p) => (p === "port/print" ? "[N]" : undefined),
    paths: () => ["port/print", "hash/print"],
  };
  const hint =
    "this switch runs no slirp of its own (`vde switch --slirp` has slirp/print and slirp/forward); " +
    "a `vde slirp` plugged into it has no console: its --http PORT serves its counters at /metrics, " +
    "its --forward options set its forwards";
  assert.equal(failureHint("slirp/print", Errno.ENOSYS, switchOnly), hint);
  assert.equal(
    formatExplained("slirp/forward list", { code: Errno.ENOSYS }, switchOnly),
    `slirp/forward: no such command; ${hint}\n`,
  );
  // A switch with its own slirp has the commands; one failing there is no missing slirp.
  const withSlirp: KnownCommands = { syntax: () => undefined, paths: () => ["port/print", "slirp/print"] };
  assert.doesNotMatch(failureHint("slirp/prnt", Errno.ENOSYS, withSlirp) ?? "", /no slirp of its own/);
  // A console that is no switch's (a lab's) is told nothing of switches.
  assert.doesNotMatch(failureHint("slirp/print", Errno.ENOSYS, known) ?? "", /no slirp of its own/);
});
