/**
 * The lab shell's commands on a lab running in the background (`vde up -d`),
 * through `vde term LAB` (or the lab's runtime directory): the lab's console
 * is its control socket. A `link` line with a mistake in it changes nothing,
 * an unknown link is named as such, and a typo gets the nearest lab command.
 */
import { Errno } from "../../src/console/reply_format.ts";
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { userName } from "../../src/os/users.ts";
import {
  execRefusal,
  helpColumns,
  hostCommandOf,
  labCommands,
  routerLinkLine,
  trunkList,
} from "../../src/lab/commands.ts";
import type { LabRunner } from "../../src/lab/runner.ts";
import { CommandRegistry, ok, type Session, type SessionKind } from "../../src/console/registry.ts";
import { parseHelpListing } from "../../src/console/switch/remote_console.ts";
import {
  hostWithExec,
  leftovers,
  ONE_SWITCH,
  TWO_HOSTS,
  TWO_SWITCHES,
  vde,
  vdeCommand,
  withLabFile,
  withLabInProcess,
  withLabUp,
} from "./_helpers.ts";

Deno.test("vde term LAB runs the lab shell's commands on a lab in the background; a bad link line changes nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    let r = await vde(["term", name, "-c", "links", "-c", "sw1 port/showinfo"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sw1:1-sw2:1 +up /m);
    assert.match(r.stdout, /Numports=4/);

    // A folder of the lab's name where vde term runs (the one holding its lab file) does not hide the lab.
    const folder = await Deno.makeTempDir({ prefix: `${name}-cwd-` });
    try {
      await Deno.mkdir(`${folder}/${name}`);
      r = await run([...vdeCommand(), "term", name, "-c", "links"], {
        cwd: folder,
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^sw1:1-sw2:1 +up /m);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }

    // So does the lab's file, as in vde status and vde down; a typo of the lab's name gets the lab's.
    r = await vde(["term", file, "-c", "links"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sw1:1-sw2:1 +up /m);
    r = await vde(["term", `${name}x`, "-c", "links"]);
    assert.match(r.stderr, new RegExp(`\\(did you mean [^)]*\\b${name}\\b`), r.stderr);

    // The runtime directory stands for the lab too.
    r = await vde(["term", labDir(name), "-c", "link sw1-sw2 down"]);
    assert.equal(r.code, 0, r.stderr);
    r = await vde(["term", name, "-c", "link sw1-sw2 up loss 10% delay fast"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /delay: expected a duration such as 5ms or 1s, got "fast"/);
    r = await vde(["term", name, "-c", "link sw1-sw2"]);
    assert.equal(r.stdout.trim(), "sw1:1-sw2:1 down, -", "the failed line did not bring the link up");

    r = await vde(["term", name, "-c", "link sw1-sw2 up loss 10%", "-c", "link sw1-sw2"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), "sw1:1-sw2:1 up, loss 10%");

    // A listing command's failure in words comes without the listing's framing.
    r = await vde(["term", name, "-c", "exec h9 ls"]);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "vde: exec h9 ls: no host h9 (hosts: none)\n");

    // A failure with reasons on several lines (an added node's mistakes) says them all on stderr.
    r = await vde(["term", name, "-c", "add switch sw3 ports 0 numports 3"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "vde: add switch sw3 ports 0 numports 3: sw3: ports must be a whole number from 2 to 65535, got 0\n" +
        'unknown key "numports" in node sw3 (switch) (did you mean "ports"?)\n',
    );

    r = await vde(["term", name, "-c", "link sw1-sw9 down"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no link sw1-sw9 \(links: sw1:1-sw2:1\)/);

    // help as --help lays out options: within 80 columns, each help at one column, continuations under it.
    r = await vde(["term", name, "-c", "help"]);
    const lines = r.stdout.trimEnd().split("\n");
    assert.ok(lines.every((l) => l.length <= 80), r.stdout);
    const column = lines[0]!.indexOf("this list");
    assert.ok(column > "help".length, r.stdout);
    assert.equal(lines.find((l) => l.startsWith("exec "))!.indexOf("run a command"), column, r.stdout);
    for (const l of lines.filter((l) => l.startsWith(" "))) assert.equal(l.search(/\S/), column, r.stdout);
    assert.match(
      r.stdout,
      /^link A-B down\|up\|clear\|KEY VALUE\.\.\.\n {20,}down pulls the cable \(ports go down at both ends\), up\n {20,}plugs it back; loss, .*\n {20,}impair it; vlan N moves its untagged VLAN, trunk N,M its\n {20,}tagged ones \(0: none\)$/m,
    );
    assert.match(r.stdout, /\(switches: sw1, sw2\)/);

    // A typo gets the nearest lab command.
    r = await vde(["term", name, "-c", "nodez"]);
    assert.equal(r.stderr, "vde: nodez: 1038 Function not implemented (did you mean nodes?)\n");
    // A typo in a switch's command gets the nearest of that switch's commands.
    r = await vde(["term", name, "-c", "sw1 prot/print"]);
    assert.equal(r.stderr, "vde: sw1 prot/print: 1038 Function not implemented (did you mean port/print?)\n");
    // watch is for a terminal: a script is told what to read instead, the lab's or the switch's.
    r = await vde(["term", name, "-c", "sw1 watch"]);
    assert.match(
      r.stderr,
      /^vde: sw1 watch: 1038 .*\(watch redraws at a terminal: .*; a script reads sw1 ports\)\n$/,
    );
    r = await vde(["term", name, "-c", "watch"]);
    assert.match(r.stderr, /; a script reads links \(a switch's counters: SWITCH ports\)\n$/);
    // A typo in a switch's name gets the lab's switches, though the lab's help lists none by name.
    r = await vde(["term", name, "-c", "sw3 port/print"]);
    assert.equal(r.stderr, "vde: sw3 port/print: 1038 Function not implemented (did you mean sw1, sw2?)\n");
    // So does a typo in a host's name (`h9 ip a` was answered "no such command"), though help lists none either.
    r = await vde(["term", name, "-c", "add host h1", "-c", "h2 ip -br addr"]);
    assert.equal(r.stderr, "vde: h2 ip -br addr: 1038 Function not implemented (did you mean h1?)\n");
    // A switch's 1017 names what is already there, from that switch's command and arguments.
    r = await vde(["term", name, "-c", "sw1 vlan/create 10", "-c", "sw1 vlan/create 10"]);
    assert.equal(
      r.stderr,
      "vde: sw1 vlan/create 10: 1017 File exists (VLAN 10 exists; vlan/allprint 10 shows it)\n",
    );
    // `ports`, a switch's command that vde term emulates for a C switch, is said as the lab's switch's line.
    r = await vde(["term", name, "-c", "ports"]);
    assert.equal(
      r.stderr,
      "vde: ports: ports is a switch's command: sw1 ports (`use sw1` drops the prefix; switches: sw1, sw2)\n",
    );
    // Words vde term would check for a C switch's `hub` are the lab's to answer too: not a bare 1022.
    r = await vde(["term", name, "-c", "hub maybe"]);
    assert.equal(
      r.stderr,
      "vde: hub maybe: hub is a switch's command: sw1 hub maybe (`use sw1` drops the prefix; switches: sw1, sw2)\n",
    );

    // A lab's switch stops with its lab, which its refused shutdown says.
    r = await vde(["term", name, "-c", "sw1 shutdown"]);
    assert.match(
      r.stderr,
      /^vde: sw1 shutdown: 1095 Operation not supported \(this one stops with what runs it: a lab's switch with its lab/,
    );
    // A file that cannot be written is named with the reason.
    r = await vde(["term", name, "-c", "save /nonexistent/dir/lab.yaml"]);
    assert.equal(
      r.stderr,
      "vde: save /nonexistent/dir/lab.yaml: cannot write /nonexistent/dir/lab.yaml: No such file or directory (os error 2)\n",
    );

    // A relative FILE goes beside the lab file, as diff and apply read theirs, and the reply says where.
    const copy = `${file.slice(0, file.lastIndexOf("/"))}/copy.yaml`;
    r = await vde(["term", name, "-c", "save copy.yaml"]);
    assert.equal(r.stdout, `saved ${copy}\n`, r.stderr);
    assert.match(await Deno.readTextFile(copy), new RegExp(`^name: ${name}$`, "m"));
    await assert.rejects(Deno.stat("copy.yaml"), Deno.errors.NotFound);
    // A name another user made a symlink first (a lab file in /tmp) is refused; what it points at is kept.
    const dir = file.slice(0, file.lastIndexOf("/"));
    await Deno.writeTextFile(`${dir}/precious`, "precious\n");
    await Deno.symlink(`${dir}/precious`, `${dir}/linked.yaml`);
    await new Deno.Command("chown", { args: ["-h", "65534:65534", `${dir}/linked.yaml`] }).output();
    r = await vde(["term", name, "-c", "save linked.yaml"]);
    assert.match(
      r.stderr,
      /^vde: save linked\.yaml: cannot write .*linked\.yaml: it is a symbolic link of nobody.s, not followed/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/precious`), "precious\n");

    r = await vde(["term", name, "-c", "down"]);
    assert.equal(r.code, 0, r.stderr);
  });
});

Deno.test("lab help wraps each command's help under itself, and a long command's help starts on the next line", () => {
  const rows: [string, string][] = [
    ["help", "this list"],
    ["exec HOST COMMAND...", "run a command in a host's namespace"],
    [
      "link A-B down|up|clear|loss V|delay V|jitter V|dup V|rate V|mtu V",
      "down pulls the cable (ports go down at both ends), up plugs it back, the rest impair it",
    ],
  ];
  assert.deepEqual(helpColumns(rows, 50), [
    "help                  this list",
    "exec HOST COMMAND...  run a command in a host's",
    "                      namespace",
    "link A-B down|up|clear|loss V|delay V|jitter V|dup",
    "  V|rate V|mtu V",
    "                      down pulls the cable (ports",
    "                      go down at both ends), up",
    "                      plugs it back, the rest",
    "                      impair it",
  ]);
  // vde term learns the commands from it: continuation lines and the SWITCH and HOST placeholders are none.
  const learnt = parseHelpListing([
    ...helpColumns(rows, 50),
    "SWITCH COMMAND...     a switch's command",
    "HOST COMMAND...       a command in a host",
  ]);
  assert.deepEqual(learnt.map((c) => c.path), ["help", "exec", "link"]);
});

/** The lab shell's commands over a stand-in for the few runner fields they read, and a session of each kind. */
function labConsole(fields: Partial<Record<keyof LabRunner, unknown>>) {
  const { commands } = labCommands(fields as unknown as LabRunner, {
    down: () => {},
    save: () => Promise.resolve(""),
  });
  const session = (kind: SessionKind): Session => ({
    kind,
    debug: new Set(),
    loadDepth: 0,
    commands,
    notify: () => {},
    render: () => "",
  });
  return { commands, session };
}

Deno.test("lab help lists logout through vde term LAB only, not at the lab's own shell, which refuses it", async () => {
  // help and logout read nothing of the lab but its switches and hosts.
  const { commands, session } = labConsole({ switches: new Map(), hosts: new Map() });
  const helpOf = async (kind: SessionKind) => {
    const reply = await commands.execute("help", session(kind));
    return (reply?.lines ?? []).map((l) => l.split(" ")[0]);
  };
  for (const kind of ["terminal", "stdin"] as const) {
    assert.ok(!(await helpOf(kind)).includes("logout"), kind);
    assert.notEqual((await commands.execute("logout", session(kind)))?.code, 0, kind);
  }
  assert.ok((await helpOf("mgmt")).includes("logout"));
  assert.equal((await commands.execute("logout", session("mgmt")))?.endSession, true);
});

Deno.test("through vde term LAB as at the shell, a program typed without its host is answered with the host's line", async () => {
  const hosts = new Map([["h1", { ns: "vde-demo-h1" }]]);
  const { commands, session } = labConsole({ switches: new Map(), hosts });
  const reply = await commands.execute("ping 10.0.2.16", session("mgmt"));
  assert.equal(reply?.code, Errno.ENOSYS);
  assert.equal(
    reply?.raw,
    "ping: no such command in the lab shell; a program runs in a host: h1 ping 10.0.2.16 " +
      "(or exec HOST ...; hosts: h1)\n",
  );
  assert.equal(
    (await commands.execute("lnik sw1-sw2 down", session("mgmt")))?.raw,
    undefined,
    "a typo: no hint",
  );
});

Deno.test("watch sent to the lab by a script says it redraws at a terminal and what a script reads, not that watch is a host's program", async () => {
  const hosts = new Map([["h1", { ns: "vde-demo-h1" }]]);
  const { commands, session } = labConsole({ lab: { name: "demo" }, switches: new Map(), hosts });
  for (const line of ["watch", "watch 1"]) {
    const reply = await commands.execute(line, session("mgmt"));
    assert.equal(reply?.code, Errno.ENOSYS, line);
    assert.equal(
      reply?.raw,
      "watch redraws at a terminal: type it in `vde term demo` without -c, or at the lab shell; " +
        "a script reads links (a switch's counters: SWITCH ports)\n",
      line,
    );
  }
});

Deno.test("through vde term LAB as at the shell, a switch's command or a bridge's line is answered with the switch's", async () => {
  const swCommands = new CommandRegistry();
  for (const path of ["ports", "macs"]) {
    swCommands.add({
      path,
      syntax: "",
      help: path,
      listing: true,
      run: () => ok(),
    });
  }
  const { commands, session } = labConsole({
    switches: new Map([["sw1", { commands: swCommands }]]),
    hosts: new Map([["h1", { ns: "vde-demo-h1" }]]),
  });
  const said = async (line: string) => (await commands.execute(line, session("mgmt")))?.raw;
  assert.equal(
    await said("ports"),
    "ports is a switch's command: sw1 ports (`use sw1` drops the prefix; switches: sw1)\n",
  );
  assert.match(
    await said("bridge fdb show") ?? "",
    /^fdb here is macs, a switch's command \(the MAC table\): sw1 macs /,
  );
  // A program stays its host's.
  assert.match(
    await said("ip link") ?? "",
    /^ip: no such command in the lab shell; a program runs in a host: h1 ip link/,
  );
});

Deno.test("exec HOST with a bare interactive shell says how to get one instead of ending at once in silence", async () => {
  for (const command of ["bash", "/bin/sh", "bash -i", "zsh -l", " fish "]) {
    assert.match(
      execRefusal("lab", "h1", command) ?? "",
      /^exec runs a command without a terminal, .*from another terminal: vde exec lab h1 \S*sh$/,
      command,
    );
  }
  for (const command of ["bash -c 'ip -br addr'", "sh script.sh", "ip -br addr", "ssh host", "shuf -n 1"]) {
    assert.equal(execRefusal("lab", "h1", command), undefined, command);
  }
  // Through the lab's control socket (vde term LAB -c) too, before anything runs.
  const { commands, session } = labConsole({
    lab: { name: "lab", nodes: [], links: [] },
    switches: new Map(),
    hosts: new Map([["h1", { ns: "vde-lab-h1" }]]),
    settledFor: () => Promise.resolve(),
  });
  for (const line of ["exec h1 bash", "h1 bash"]) {
    const reply = await commands.execute(line, session("mgmt"));
    assert.notEqual(reply?.code, 0, line);
    assert.match(reply?.raw ?? "", /vde exec lab h1 bash/, line);
  }
});

Deno.test("capture at the lab's console (vde term LAB, no terminal to stream to) says the vde capture line that records the switch, beside it", async () => {
  const { commands, session } = labConsole({
    lab: { name: "u17", nodes: [], links: [] },
    switches: new Map([["sw1", {}], ["sw2", {}]]),
    hosts: new Map(),
    links: [
      { name: "sw1:1-sw2:1", spec: { ends: [{ node: "sw1", port: 1 }, { node: "sw2", port: 1 }] } },
      { name: "h1:eth0-sw2:2", spec: { ends: [{ node: "h1", iface: "eth0" }, { node: "sw2", port: 2 }] } },
    ],
  });
  const say = async (line: string) => {
    const reply = await commands.execute(line, session("mgmt"));
    assert.notEqual(reply?.code, 0, line);
    return reply?.raw ?? "";
  };
  assert.match(
    await say("capture sw2"),
    /`vde capture u17\/sw2 -w sw2\.pcapng`.*`vde capture u17\/sw2 -w - \| tcpdump/,
  );
  assert.match(await say("capture"), /vde capture u17\/sw1 /, "the first switch when none is named");
  assert.equal(await say("capture sw9"), "no switch sw9 (switches: sw1, sw2)\n");
  // A link or a host, as containerlab's users capture: vde capture LAB/LINK records it, beside the shell.
  assert.match(await say("capture sw2-sw1"), /`vde capture u17\/sw2-sw1 -w sw2-sw1\.pcapng`/);
  assert.match(await say("capture h1:eth0"), /`vde capture u17\/h1:eth0 -w h1-eth0\.pcapng`/);
  assert.match(await say("capture h1"), /beside the shell, .*`vde capture u17\/h1 -w - \| tcpdump -n -r -`/);
  // Where it cannot be captured at a switch port, the line says why.
  const bare = labConsole({
    lab: { name: "u17", nodes: [], links: [] },
    switches: new Map([["sw1", {}]]),
    hosts: new Map(),
    links: [
      {
        name: "h1:eth0-h2:eth0",
        spec: { ends: [{ node: "h1", iface: "eth0" }, { node: "h2", iface: "eth0" }] },
      },
    ],
  });
  const reply = await bare.commands.execute("capture h1-h2", bare.session("mgmt"));
  assert.match(
    reply?.raw ?? "",
    /no switch end: vde captures at a switch's port; inside the host: `vde exec u17 h1 tcpdump -i eth0/,
  );
});

Deno.test("vde status LAB names the lab's web view when it has one, so a forgotten --http 0 port is found again", async () => {
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const up = await vde(["up", "-d", file, "--http", "127.0.0.1:0"]);
    assert.equal(up.code, 0, up.stderr);
    const url = /web view on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(up.stderr)?.[1];
    assert.ok(url !== undefined, up.stderr);
    const status = await vde(["status", name]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout.split("\n")[1], `web view ${url} (metrics at ${url}metrics)`);
  });
  await withLabUp({ text: ONE_SWITCH }, async (name) => {
    const status = await vde(["status", name]);
    assert.equal(status.stdout.split("\n")[1], "", "no web view, no line");
  });
});

Deno.test("vde up -d names the background lab's log, where its exec lines and errors go, on stderr as every --daemon start: nothing on stdout", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabFile({ text: hostWithExec("10.9.0.1/24", ["echo u19-was-here"]) }, async (name, file) => {
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, "");
    const log = /its log \(exec lines, cables, errors\): (\S+)$/m.exec(up.stderr)?.[1];
    assert.equal(log, `${labDir(name)}.log`, up.stderr);
    assert.match(await Deno.readTextFile(log!), /h1\$ echo u19-was-here/);
  });
});

Deno.test("a background lab's log says each change made through its console, with who made it first, where a typed line cannot forge it; a refused one is not said", async () => {
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    const term = (...lines: string[]) => vde(["term", name, ...lines.flatMap((l) => ["-c", l])]);
    // `link sw1-sw2` alone shows the link, and changes nothing.
    let r = await term(
      "link sw1-sw2 down",
      "link sw1-sw2",
      "link sw1-sw2 delay 5ms",
      "add switch sw3",
      "add link sw3 sw1",
    );
    assert.equal(r.code, 0, r.stderr);
    r = await term("link sw1-sw9 down");
    assert.equal(r.code, 1, "no such link: refused");
    r = await term("del sw3");
    assert.equal(r.code, 0, r.stderr);
    // A file named to read as another's change: what was typed comes after who typed it, so it names no one.
    const forged = `${file.slice(0, file.lastIndexOf("/"))}/x.yaml, from its console of root (pid 1)`;
    await Deno.copyFile(file, forged);
    r = await term(`apply ${forged}`);
    assert.equal(r.code, 0, r.stderr);
    const said = (await Deno.readTextFile(`${labDir(name)}.log`)).split("\n")
      .filter((l) => / (link|add|del|apply) /.test(l))
      .map((l) => l.replace(/^\S+ /, "").replace(/ \(pid \d+\): /, " (pid N): "));
    const who = `from its console of ${userName(Deno.uid()!)} (pid N)`;
    assert.deepEqual(said, [
      `vde up: lab ${name}: ${who}: link sw1-sw2 down`,
      `vde up: lab ${name}: ${who}: link sw1-sw2 delay 5ms`,
      `vde up: lab ${name}: ${who}: add switch sw3`,
      `vde up: lab ${name}: ${who}: add link sw3 sw1`,
      `vde up: lab ${name}: ${who}: del sw3`,
      `vde up: lab ${name}: ${who}: apply ${forged}`,
    ]);
  });
});

/** TWO_HOSTS with a slirp on the switch too. */
const DEL_LAB = TWO_HOSTS.replace("    h1:", "    nat: { kind: slirp }\n    h1:") +
  "    - endpoints: [nat, sw1]\n";

Deno.test("del of a link or a node takes it out of the running lab live: its port and interface free for the next link, a host's namespace gone", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: DEL_LAB }, async (name) => {
    const term = (...lines: string[]) => vde(["term", name, ...lines.flatMap((l) => ["-c", l])]);
    let r = await term("del h1-sw1");
    assert.equal(r.stdout, "removed link h1:eth0-sw1:1\n", r.stderr);
    assert.notEqual((await term("h1 ip link show eth0")).code, 0, "h1's eth0 went with its tap");
    r = await term("add link sw1 h1 delay 1ms");
    assert.equal(r.stdout, "added link sw1:1-h1:eth0\n", "port 1 and eth0 were free again");
    r = await term("del nat", "del h2", "nodes");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^removed slirp nat and 1 link nat-sw1:3\nremoved host h2 and 1 link h2:eth0-sw1:2\n/,
    );
    assert.deepEqual(r.stdout.split("\n").slice(3).map((l) => l.split(" ")[0]).filter((n) => n !== ""), [
      "sw1",
      "h1",
    ]);
    const ns = (await run(["ip", "netns", "list"], { check: false })).stdout;
    assert.doesNotMatch(ns, new RegExp(`^vde-${name}-h2 `, "m"), "h2's namespace is gone");
    r = await term("h2 ls");
    assert.equal(r.stderr, "vde: h2 ls: no node h2 (it was removed)\n");
    r = await term("del sw9");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "vde: del sw9: no node or link sw9 (nodes: sw1 h1; `links` lists the links)\n");
    r = await term("del sw1", "links");
    assert.equal(
      r.stdout,
      "removed switch sw1 and 1 link sw1:1-h1:eth0\nLINK  STATE  A>B  B>A  DROPS  SETTINGS\n",
    );
    assert.equal((await vde(["down", name])).code, 0);
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("a mistyped add kind or link setting in the lab's console gets a did-you-mean and changes nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name) => {
    const add = await vde(["term", name, "-c", "add swtich sw3"]);
    assert.equal(add.code, 1);
    assert.match(add.stderr, /^vde: add swtich sw3: unknown "swtich": did you mean add switch\? usage: add /);
    const link = await vde(["term", name, "-c", "link sw1-sw2 los 5%"]);
    assert.equal(link.code, 1);
    assert.equal(link.stderr, 'vde: link sw1-sw2 los 5%: unknown link setting "los" (did you mean loss?)\n');
    for (const word of ["constructor", "__proto__"]) {
      const inherited = await vde(["term", name, "-c", `link sw1-sw2 ${word} 5`]);
      assert.equal(inherited.code, 1);
      assert.match(
        inherited.stderr,
        new RegExp(`^vde: link sw1-sw2 ${word} 5: unknown link setting "${word}" \\(`),
      );
    }
    const links = await vde(["term", name, "-c", "link sw1-sw2", "-c", "nodes"]);
    assert.match(links.stdout, /^sw1:1-sw2:1 up, -$/m);
    assert.doesNotMatch(links.stdout, /sw3/);
    // wirefilter's word for the queue bound is answered with the link's (netem's), then set live.
    const capacity = await vde(["term", name, "-c", "link sw1-sw2 rate 1mbit capacity 75000"]);
    assert.match(capacity.stderr, /unknown link setting "capacity" \(wirefilter's capacity .* limit 50\)/);
    const limited = await vde(["term", name, "-c", "link sw1-sw2 rate 1mbit limit 50", "-c", "link sw1-sw2"]);
    assert.equal(limited.stdout, "sw1:1-sw2:1 up, rate 1mbit, limit 50\n", limited.stderr);
  });
});

Deno.test("tc netem's words in a link line are answered with the link's own, or where the impairment is, and change nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name) => {
    const cases: [string, string][] = [
      ["delay 100ms 20ms", `"20ms" (tc netem's delay 100ms 20ms is delay 100ms jitter 20ms here)`],
      ["duplicate 1%", `"duplicate" (tc netem's duplicate is dup here: dup 1%)`],
      ["loss 5% 25%", `"25%" (tc netem's loss 5% 25% is loss 5% here; a lab link has no loss correlation, `],
      ["reorder 25%", `"reorder" (a lab link has no reordering (tc netem's reorder); \`vde wirefilter\``],
    ];
    for (const [words, said] of cases) {
      const r = await vde(["term", name, "-c", `link sw1-sw2 ${words}`]);
      assert.equal(r.code, 1);
      assert.ok(r.stderr.startsWith(`vde: link sw1-sw2 ${words}: unknown link setting ${said}`), r.stderr);
    }
    const links = await vde(["term", name, "-c", "link sw1-sw2"]);
    assert.match(links.stdout, /^sw1:1-sw2:1 up, -$/m);
  });
});

Deno.test("ip link's order and words in a link line (link set dev sw1-sw2 down) are answered with the line the shell takes, and change nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name) => {
    const cases: [string, string][] = [
      ["link set dev sw1-sw2 down", "no link set (the link's name comes first, without ip's set and dev: "],
      ["link down sw1-sw2", "no link down (the link's name comes first, without ip's set and dev: "],
      ["link sw1-sw2 set down", `unknown link setting "set" (without ip's set and dev: `],
    ];
    for (const [line, said] of cases) {
      const r = await vde(["term", name, "-c", line]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `vde: ${line}: ${said}\`link sw1-sw2 down\`)\n`);
    }
    const links = await vde(["term", name, "-c", "link sw1-sw2"]);
    assert.match(links.stdout, /^sw1:1-sw2:1 up, -$/m);
    // A name that is no link anywhere in the line still lists the links.
    const none = await vde(["term", name, "-c", "link sw1-sw9 down"]);
    assert.match(none.stderr, /no link sw1-sw9 \(links: sw1:1-sw2:1\)/);
  });
});

Deno.test("a router's words in a link line (shutdown, no shutdown, disable, enable) are answered with link NAME down or up, and change nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name) => {
    const cases: [string, string, string][] = [
      ["shutdown", "shutdown", "link sw1-sw2 down"],
      ["shut", "shut", "link sw1-sw2 down"],
      ["disable", "disable", "link sw1-sw2 down"],
      ["no shutdown", "no", "link sw1-sw2 up"],
      ["enable", "enable", "link sw1-sw2 up"],
      ["loss 5% shutdown", "shutdown", "link sw1-sw2 loss 5% down"],
    ];
    for (const [words, word, line] of cases) {
      const r = await vde(["term", name, "-c", `link sw1-sw2 ${words}`]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: link sw1-sw2 ${words}: unknown link setting "${word}" (a router's word: \`${line}\`)\n`,
      );
    }
    const links = await vde(["term", name, "-c", "link sw1-sw2"]);
    assert.match(links.stdout, /^sw1:1-sw2:1 up, -$/m);
  });
});

Deno.test("routerLinkLine: a lone no, or a word that is no router's, is not one", () => {
  assert.equal(routerLinkLine("sw1-sw2", ["no"], 0), undefined);
  assert.equal(routerLinkLine("sw1-sw2", ["no", "enable"], 0), undefined);
  assert.equal(routerLinkLine("sw1-sw2", ["constructor"], 0), undefined);
  assert.equal(routerLinkLine("sw1-sw2", ["no", "shut", "mtu", "1400"], 0), "link sw1-sw2 up mtu 1400");
});

Deno.test("a line runs in a host as exec HOST COMMAND or HOST COMMAND, unless the host is named like a shell command", () => {
  const hosts = new Set(["h1", "links"]);
  assert.deepEqual(hostCommandOf("exec h1 ping -c 1 10.0.2.2", hosts), {
    host: "h1",
    command: "ping -c 1 10.0.2.2",
  });
  assert.deepEqual(hostCommandOf("h1 ping -c 1 10.0.2.2 ", hosts), {
    host: "h1",
    command: "ping -c 1 10.0.2.2",
  });
  assert.deepEqual(hostCommandOf("exec links ip -br addr", hosts), { host: "links", command: "ip -br addr" });
  for (const line of ["links ip -br addr", "h1", "exec h1", "exec h2 ls", "sw1 port/print", "nodes"]) {
    assert.equal(hostCommandOf(line, hosts), undefined, line);
  }
});

Deno.test("the shell's link A-B limit N sets the link's queue bound live; a bad N changes nothing", async () => {
  const spec = {
    ends: [{ node: "a", port: 1 }, { node: "b", port: 1 }],
    impair: { rate: 125_000 },
    trunk: [],
  };
  const link = { name: "a:1-b:1", spec, wire: { up: true, impair: { rate: 125_000 } } };
  let set: unknown;
  const { commands, session } = labConsole({
    switches: new Map(),
    hosts: new Map(),
    links: [link],
    findLink: () => link,
    change: (fn: () => Promise<unknown>) => fn(),
    setLinkUp: () => {},
    setImpairments: (_l: unknown, i: unknown) => set = i,
  });
  assert.equal((await commands.execute("link a-b limit 50", session("mgmt")))?.code, 0);
  assert.deepEqual(set, { rate: 125_000, limit: 50 });
  set = undefined;
  const bad = await commands.execute("link a-b limit 0", session("mgmt"));
  assert.equal(bad?.raw, 'limit: limit must be a whole number of frames from 1 to 5592, got "0"\n');
  assert.equal(set, undefined);
});

Deno.test("status says which switches run spanning tree, at the default priority too, in the table and the JSON", async () => {
  const ring = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4, stp: true, priority: 4096 }
    sw2: { kind: switch, ports: 4, stp: true }
    sw3: { kind: switch, ports: 4 }
  links: []
`;
  await withLabInProcess(ring, async (_r, line) => {
    const nodes = await line("nodes");
    assert.match(nodes, /^sw1 +switch +4 ports \(0 in use\), stp, priority 4096, sock /m);
    assert.match(nodes, /^sw2 +switch +4 ports \(0 in use\), stp, sock /m);
    assert.match(nodes, /^sw3 +switch +4 ports \(0 in use\), sock /m);
    const doc = JSON.parse((await line("status json")).slice(2));
    assert.deepEqual(
      doc.nodes.map((n: { name: string; stp: boolean }) => [n.name, n.stp]),
      [["sw1", true], ["sw2", true], ["sw3", false]],
    );
  });
});

Deno.test("the shell's status json is the status as one line of JSON, for vde status --json; another argument is refused", async () => {
  const text = ONE_SWITCH.replace(
    "  links: []\n",
    '    c1: { kind: cable, listen: "127.0.0.1:0", insecure: true }\n  links:\n    - endpoints: [c1, sw1]\n',
  );
  await withLabInProcess(text, async (r, line) => {
    const reply = await line("status json");
    assert.match(reply, /^0 \{.*\}$/, "one line");
    const doc = JSON.parse(reply.slice(2));
    assert.deepEqual([doc.name, doc.pid, doc.state, doc.file], [r.lab.name, Deno.pid, "up", r.file]);
    assert.equal(doc.web, undefined, "no web view, no key");
    const [sw1, c1] = doc.nodes;
    assert.deepEqual([sw1.kind, sw1.ports, sw1.portsInUse, sw1.hub], ["switch", 4, 1, false]);
    assert.deepEqual([c1.kind, c1.state], ["cable", "none"]);
    assert.match(c1.listen, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(c1.listen, "127.0.0.1:0", "the port the kernel picked");
    assert.deepEqual(doc.links, [{
      name: r.links[0]!.name,
      state: "up",
      a: { node: "c1" },
      b: { node: "sw1", port: 1 },
      framesAtoB: 0,
      framesBtoA: 0,
      drops: 0,
      settings: {},
    }]);
    assert.match(await line("status yaml"), /^22 status takes no argument but json, not "yaml"/);
  });
});

Deno.test("a switch's load typed at the lab's console by another user is refused, as at the switch's own console", async () => {
  const lab = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
  links: []
`;
  const script = await Deno.makeTempFile({ prefix: "vde-lead-load-" });
  try {
    await Deno.writeTextFile(script, "port/print\n");
    await withLabInProcess(
      lab,
      async (_r, line) => {
        const reply = await line(`sw1 load ${script}`);
        assert.match(
          reply,
          /^1 load reads files as \S+, and this console.s client is 54321: only \S+ may load/,
          reply,
        );
      },
      undefined,
      { peerUid: 54321 },
    );
    await withLabInProcess(
      lab,
      async (_r, line) => {
        assert.match(await line(`sw1 load ${script}`), /^0 /, "root's own session loads");
      },
      undefined,
      { peerUid: 0 },
    );
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("exit and quit at the lab shell say the lab ends with its shell (down or Ctrl-D) and how one outlives it", async () => {
  await withLabInProcess(ONE_SWITCH, async (r, line) => {
    for (const word of ["exit", "quit"]) {
      const reply = await line(word);
      assert.equal(
        reply,
        `${Errno.ENOSYS} ${word}: the lab ends with its shell: \`down\` (or Ctrl-D) takes it down; ` +
          "a lab that runs on without it is `vde up -d FILE`, its shell then `vde term LAB`\n",
      );
    }
    assert.equal(r.switches.size, 1, "the lab runs on");
  });
});

Deno.test("the shell's add of a cable whose key file the cable would refuse (/dev/zero, a relative one missing) says so in one line and adds nothing", async () => {
  await withLabInProcess(ONE_SWITCH, async (r, line) => {
    assert.equal(
      await line("add cable wan listen 0 key /dev/zero"),
      `${Errno.EINVAL} wan: key: cannot read key file /dev/zero: it is a character device, not a regular file\n`,
    );
    // Relative: from the lab file's directory, as the file's own keys.
    assert.match(
      await line("add cable wan listen 0 key lab.key"),
      new RegExp(`^${Errno.EINVAL} wan: key: cannot read key file ${r.baseDir}/lab\\.key: no such file `),
    );
    assert.equal(r.lab.nodes.some((n) => n.name === "wan"), false);
    assert.equal(r.cables.size, 0);
  });
});

Deno.test("link A-B trunk takes VLANs with commas between, each once, or 0 for none; nothing else", () => {
  assert.deepEqual(trunkList("10,20,10"), [10, 20]);
  assert.deepEqual(trunkList("4093"), [4093]);
  assert.deepEqual(trunkList("0"), []);
  for (const bad of [undefined, "", "0,10", "10,", ",10", "10 20", "4094", "-1", "1e3", "x"]) {
    assert.equal(trunkList(bad), undefined, String(bad));
  }
});
