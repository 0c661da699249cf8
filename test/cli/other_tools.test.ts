import assert from "node:assert/strict";
import { otherToolHint, otherToolOption } from "../../src/cli/other_tools.ts";
import { vde } from "../lab/_helpers.ts";

Deno.test("containerlab's command words after lab, clab or containerlab are answered with vde's, the lab file carried over", () => {
  assert.equal(
    otherToolHint("lab", ["deploy", "-t", "x.clab.yml"]),
    "a lab comes up with `vde up x.clab.yml`",
  );
  assert.equal(otherToolHint("clab", ["destroy", "-t", "x.yaml"]), "a lab goes down with `vde down x.yaml`");
  // containerlab's short -c is its --cleanup too.
  for (const cleanup of ["--cleanup", "-c"]) {
    assert.equal(
      otherToolHint("destroy", ["-t", "x.yaml", cleanup]),
      "a lab goes down with `vde down x.yaml --cleanup`",
    );
  }
  assert.match(otherToolHint("containerlab", ["inspect"]) ?? "", /^`vde status` lists running labs/);
  assert.equal(otherToolHint("lab", ["graph", "-t", "a.yml"]), "a lab file is drawn with `vde graph a.yml`");
  assert.match(otherToolHint("clab", ["exec", "--cmd", "ls"]) ?? "", /`vde exec HOST COMMAND\.\.\.`/);
  // Alone, or with a word vde has no counterpart for: the lab commands there are.
  for (const rest of [[], ["frobnicate"]]) {
    assert.equal(
      otherToolHint("lab", rest),
      "lab files: `vde up lab.yaml`, `vde status`, `vde down LAB`, `vde graph lab.yaml`",
    );
  }
});

Deno.test("an unknown command named like an Object member gets no hint, not a crash", () => {
  for (const word of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    assert.equal(otherToolHint(word, []), undefined, word);
    assert.match(otherToolHint("lab", [word]) ?? "", /^lab files: /, word);
  }
});

Deno.test("containerlab's save and redeploy are answered with the lab shell's save and vde up --reconfigure", () => {
  assert.match(otherToolHint("save", []) ?? "", /vde term LAB -c 'save FILE'/);
  assert.equal(
    otherToolHint("redeploy", ["-t", "x.yml"]),
    "a lab comes up again with `vde up --reconfigure x.yml`",
  );
});

Deno.test("containerlab's apply (clab apply -t FILE) is answered with vde up --apply", () => {
  assert.equal(
    otherToolHint("clab", ["apply", "-t", "x.yml"]),
    "a running lab takes its edited file live with `vde up --apply x.yml`",
  );
});

Deno.test("docker's network, rm and logs, tc netem's words and a sniffer's name are answered with vde's", () => {
  assert.match(
    otherToolHint("network", ["create", "net1"]) ?? "",
    /^a network is a switch here: `vde switch --sock DIR/,
  );
  assert.equal(
    otherToolHint("rm", ["lab.yml"]),
    "a switch stops with `vde term DIR -c shutdown`, a lab with `vde down lab.yml`",
  );
  assert.match(otherToolHint("logs", ["demo"]) ?? "", /^a lab in the background logs to \/.*\/LAB\.log, /);
  for (const word of ["tc", "netem"]) {
    assert.match(
      otherToolHint(word, ["qdisc", "add"]) ?? "",
      /`vde wirefilter DIR1 DIR2 --loss 5 --delay 100\+20`/,
    );
  }
  for (const word of ["tcpdump", "tshark", "wireshark"]) {
    assert.match(otherToolHint(word, ["-i", "eth0"]) ?? "", /`vde capture DIR -w FILE\.pcapng`/);
  }
});

Deno.test("containerlab's tools netem set is answered with the lab console's link line, its values carried over", () => {
  const set = [
    "netem",
    "set",
    "-n",
    "clab-demo-h1",
    "-i",
    "eth1",
    "--delay",
    "10ms",
    "--jitter=2ms",
    "--loss",
    "5",
  ];
  for (const [word, rest] of [["tools", set], ["clab", ["tools", ...set]]] as const) {
    assert.equal(
      otherToolHint(word, rest),
      "a running lab's link changes live at its console: `vde term LAB -c 'link A-B delay 10ms jitter 2ms loss 5%'` " +
        "(`-c links` lists the links A-B; in the lab file, the link's keys)",
    );
  }
  assert.match(
    otherToolHint("tools", ["netem", "set", "--rate", "1000", "--corruption", "1"]) ?? "",
    /'link A-B rate 1000'.*no corruption, `vde wirefilter --noise`/,
  );
  assert.equal(
    otherToolHint("tools", ["netem", "show"]),
    "a running lab's links and their impairments: `vde term LAB -c links`",
  );
  assert.match(
    otherToolHint("tools", ["veth", "create"]) ?? "",
    /^containerlab's tools are a lab file's links here/,
  );
});

Deno.test("a malformed tools netem set line: each of -n/-i and the impairment flags reads the whole line for its own, a word taken as one's value still read by the other", () => {
  // A host of root's lab answers with what it was given: the node, its interface and the settings.
  const roots = (host: string, line: (lab: string) => string) => `[${host}] ${line("L")}`;
  const eachWay = "; a lab link's delay and loss are each way, netem's on one interface are what it sends";
  const generic = (settings: string) =>
    `a running lab's link changes live at its console: \`vde term LAB -c 'link A-B ${settings}'\` ` +
    "(`-c links` lists the links A-B; in the lab file, the link's keys)";
  const cases: [string[], string][] = [
    // -n with no value takes the next word, a flag, as the node; --delay still gives the delay.
    [
      ["-n", "--delay", "5ms", "-i", "eth1"],
      `[--delay] vde term L -c 'link --delay:eth1 delay 5ms'${eachWay}`,
    ],
    [["-n", "r1", "-i", "--delay", "5ms"], `[r1] vde term L -c 'link r1:--delay delay 5ms'${eachWay}`],
    // -i with no value at the end: no interface, so no link is looked for; the settings' default.
    [["-n", "r1", "-i"], generic("delay 10ms")],
    [["-n", "r1", "-i", "eth1", "--delay"], `[r1] vde term L -c 'link r1:eth1 delay 10ms'${eachWay}`],
    // An unknown flag between is passed over, a word after it too.
    [
      ["-n", "r1", "--foo", "-i", "eth1", "--delay", "5ms"],
      `[r1] vde term L -c 'link r1:eth1 delay 5ms'${eachWay}`,
    ],
    [
      ["-n", "r1", "--foo", "bar", "-i", "eth1", "--delay", "5ms"],
      `[r1] vde term L -c 'link r1:eth1 delay 5ms'${eachWay}`,
    ],
    // --delay with no value takes -n as its value (which the console refuses, naming it); -n still names r1.
    [["--delay", "-n", "r1", "-i", "eth1"], `[r1] vde term L -c 'link r1:eth1 delay -n'${eachWay}`],
    [
      ["--delay", "--loss", "5", "-n", "r1", "-i", "eth1"],
      `[r1] vde term L -c 'link r1:eth1 delay --loss'${eachWay}`,
    ],
  ];
  for (const [args, expected] of cases) {
    assert.equal(otherToolHint("tools", ["netem", "set", ...args], [], roots), expected, args.join(" "));
  }
});

Deno.test("a netem value or a lab file's name with shell metacharacters is said inside its quotes, as one word", () => {
  assert.equal(
    otherToolHint("tools", ["netem", "set", "--delay", "10ms'; touch /tmp/pwned; '"]),
    "a running lab's link changes live at its console: " +
      "`vde term LAB -c 'link A-B delay 10ms'\\''; touch /tmp/pwned; '\\'''` " +
      "(`-c links` lists the links A-B; in the lab file, the link's keys)",
  );
  assert.equal(
    otherToolHint("destroy", ["-t", "my lab;rm -rf ~.yaml", "--cleanup"]),
    "a lab goes down with `vde down 'my lab;rm -rf ~.yaml' --cleanup`",
  );
});

Deno.test("a QEMU user's vde qemu or vde vm is answered with QEMU's -netdev vde and a mac=, a libvirt user's vde virsh with a bridge", () => {
  for (const word of ["qemu", "kvm", "vm", "QEMU"]) {
    assert.equal(
      otherToolHint(word, ["-m", "512"]),
      "vde runs no VMs; QEMU plugs into a switch itself: qemu-system-x86_64 ... -netdev vde,id=n0,sock=DIR " +
        "-device virtio-net,netdev=n0,mac=52:54:00:00:00:01 (each VM a mac= of its own)",
    );
  }
  for (const word of ["virsh", "libvirt"]) {
    assert.match(
      otherToolHint(word, ["net-define"]) ?? "",
      /^libvirt has no VDE interface: .*<interface type='bridge'><source bridge='br0'\/><\/interface>$/,
    );
  }
});

Deno.test("a Linux bridge's or Open vSwitch's command line typed to vde names the switch console command that does it", () => {
  assert.equal(
    otherToolHint("bridge", ["fdb", "show"]),
    "fdb here is macs at a switch's console, the MAC table: `vde term DIR -c macs`, " +
      "or `vde term LAB/sw1 -c macs` for a lab's",
  );
  assert.match(otherToolHint("brctl", ["show"]) ?? "", /^brctl show here is ports at a switch's console/);
  assert.match(
    otherToolHint("ovs-vsctl", ["show"]) ?? "",
    /^ovs-vsctl show here is ports at a switch's console/,
  );
  assert.match(otherToolHint("ovs-appctl", ["fdb/show", "br0"]) ?? "", /`vde term DIR -c macs`/);
  assert.match(otherToolHint("fdb", []) ?? "", /`vde term DIR -c macs`/);
  assert.match(otherToolHint("show", ["spanning-tree"]) ?? "", /`vde term DIR -c stp`/);
  // A tool's line with no word of ours is told what a bridge is here.
  for (
    const [word, rest] of [["brctl", ["addbr", "br0"]], ["bridge", []], ["ovs-vsctl", [
      "add-br",
      "br0",
    ]]] as const
  ) {
    assert.match(
      otherToolHint(word, rest) ?? "",
      /^a bridge is a switch here \(`vde switch --sock DIR`\)/,
      word,
    );
  }
  // `show` alone is a listing word, as ps and ls are; a lab shell's `link` typed to vde is no bridge's.
  assert.match(otherToolHint("show", []) ?? "", /^`vde status` lists running labs/);
  assert.equal(otherToolHint("link", ["sw1-sw2", "down"]), undefined);
});

Deno.test("docker's, compose's and containerlab's options to the lab commands say what they are here", async () => {
  assert.equal(
    otherToolOption("up", "f", "lab.yaml"),
    "the lab file is the argument, or -t FILE as containerlab's: vde up lab.yaml",
  );
  assert.equal(otherToolOption("status", "o", "json"), "it is --json here, or --format json");
  assert.equal(
    otherToolOption("exec", "u", "alice"),
    "a command as another user: vde exec HOST runuser -u alice -- COMMAND",
  );
  assert.equal(
    otherToolOption("exec", "e", undefined),
    "a variable for the command: vde exec HOST env VAR=VALUE COMMAND",
  );
  // Each value carried over as one shell word: a directory or a value with a blank, the file given.
  assert.equal(
    otherToolOption("exec", "w", "/srv/my dir"),
    "a command in a directory: vde exec HOST env -C '/srv/my dir' COMMAND",
  );
  assert.equal(
    otherToolOption("exec", "env", "GREETING=hello world"),
    "a variable for the command: vde exec HOST env 'GREETING=hello world' COMMAND",
  );
  assert.equal(
    otherToolOption("down", "file", "x.yaml"),
    "the lab file is the argument, or -t FILE as containerlab's: vde down x.yaml",
  );
  assert.equal(otherToolOption("up", "debug", undefined), undefined);
  assert.equal(otherToolOption("up", "constructor", undefined), undefined);
  // On the command line, each as the unknown option's own line.
  const cases: [string[], string][] = [
    [
      ["up", "-f", "x.yaml"],
      "vde: unknown option '-f' (the lab file is the argument, or -t FILE as containerlab's: vde up x.yaml)",
    ],
    // The value joined to the option, as getopt takes it: the same hint.
    [
      ["up", "-fx.yaml"],
      "vde: unknown option '-fx.yaml' (the lab file is the argument, or -t FILE as containerlab's: vde up x.yaml)",
    ],
    [["status", "-o", "json"], "vde: unknown option '-o' (it is --json here, or --format json)"],
    [
      ["exec", "-u", "alice", "h1", "id"],
      "vde: unknown option '-u' (a command as another user: vde exec HOST runuser -u alice -- COMMAND)",
    ],
    [["down", "--volumes"], "vde: unknown option '--volumes' (the lab's log goes too with --cleanup (-c))"],
  ];
  for (const [args, line] of cases) {
    const r = await vde(args);
    assert.deepEqual([r.code, r.stderr], [1, `${line}\n(run with --help for usage)\n`], args.join(" "));
  }
});
