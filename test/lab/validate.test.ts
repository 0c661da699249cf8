import assert from "node:assert/strict";
import { formatErrors, validateLab } from "../../src/lab/validate.ts";
import { generateKeyFile } from "../../src/cable/key.ts";
import { FIVE_MISTAKES, TWO_HOSTS } from "./_helpers.ts";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";
import { didYouMean } from "../../src/did_you_mean.ts";
import { ipv4InSubnet, parseCidr, parseDuration, parsePercent, parseRate } from "../../src/lab/values.ts";
import type { SwitchNode } from "../../src/lab/spec.ts";
import { plainNode } from "../../src/lab/to_yaml.ts";

const DEMO = `name: demo
topology:
  nodes:
    sw1: { kind: switch, ports: 16 }
    sw2: { kind: switch, hub: true, vlans: [10, 20] }
    nat: { kind: slirp, forwards: ["tcp:8080:10.0.2.15:80"] }
    h1:  { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2, exec: ["true"] }
    h2:  { kind: host, address: 10.0.2.16/24 }
    wan: { kind: cable, connect: "peer.example:7000", key: lab.key }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [nat, sw1]
    - endpoints: ["sw1:5", sw2]
      loss: 2%
      delay: 5ms
      rate: 10mbit
    - endpoints: ["sw2", h2]
      vlan: 10
    - endpoints: [sw2, wan]
`;

function errorsOf(text: string): string[] {
  return formatErrors("lab.yaml", validateLab(text).errors);
}

Deno.test("validateLab accepts the issue's demo lab and fixes ports in link order", () => {
  const { lab, errors } = validateLab(DEMO);
  assert.deepEqual(errors, []);
  assert.ok(lab);
  assert.equal(lab.name, "demo");
  assert.deepEqual(lab.nodes.map((n) => `${n.name}:${n.kind}`), [
    "sw1:switch",
    "sw2:switch",
    "nat:slirp",
    "h1:host",
    "h2:host",
    "wan:cable",
  ]);
  assert.deepEqual(lab.links[0]!.ends, [{ node: "h1", iface: "eth0" }, { node: "sw1", port: 1 }]);
  assert.deepEqual(lab.links[1]!.ends, [{ node: "nat" }, { node: "sw1", port: 2 }]);
  assert.deepEqual(lab.links[2]!.ends, [{ node: "sw1", port: 5 }, { node: "sw2", port: 1 }]);
  assert.deepEqual(lab.links[2]!.impair, { loss: 2, delay: 5, rate: 1_250_000 });
  assert.equal(lab.links[3]!.vlan, 10);
});

Deno.test("automatic ports skip the ports fixed anywhere in the file", () => {
  const { lab } = validateLab(`name: t
topology:
  nodes: { s: { kind: switch, ports: 4 }, a: { kind: host }, b: { kind: host } }
  links:
    - endpoints: [a, s]
    - endpoints: [b, "s:1"]
`);
  assert.deepEqual(lab!.links.map((l) => l.ends[1]!.port), [2, 1]);
});

Deno.test("a file with five mistakes gives five FILE:LINE:COL lines in file order", () => {
  const errors = errorsOf(FIVE_MISTAKES);
  assert.deepEqual(errors, [
    `lab.yaml:4:26: unknown key "prots" in node sw1 (switch) (did you mean "ports"?)`,
    `lab.yaml:5:33: h1: address: "10.0.2.300" is not an IPv4 or IPv6 address`,
    "lab.yaml:7:29: h4: mtu must be a whole number from 68 to 65521, got 70000",
    "lab.yaml:10:23: port sw1:3 is used by two links",
    `lab.yaml:11:19: unknown node "h3" (did you mean "h1"?)`,
  ]);
});

Deno.test("validateLab reports a YAML syntax error in one line: the first, at its position", () => {
  const errors = errorsOf("name: x\ntopology:\n  nodes: { a: [\n");
  assert.equal(errors.length, 1, errors.join("\n"));
  assert.match(errors[0]!, /^lab\.yaml:\d+:\d+: not YAML: .* \(expected YAML with `name` and `topology`\)$/);
});

Deno.test("validateLab says in one line that a file is not a lab file: binary, other YAML, not a mapping", () => {
  const notLab = "not a lab file: expected YAML with `name` and `topology`";
  const cases: [string, string][] = [
    [
      "\x7fELF\x02\x01\x01\0\0\0",
      "lab.yaml:1:8: not a lab file: binary data, expected YAML with `name` and `topology`",
    ],
    ['{"version": 3, "services": {"web": {}}}\n', `lab.yaml:1:1: ${notLab}`],
    ["root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n", `lab.yaml:1:1: ${notLab}`],
    ["\n- a\n- b\n", `lab.yaml:2:1: ${notLab}`],
    ["", `lab.yaml:1:1: ${notLab}`],
  ];
  for (const [text, line] of cases) {
    assert.deepEqual(errorsOf(text), [line], JSON.stringify(text));
    assert.equal(validateLab(text).notLab, true);
  }
  // A lab file with a mistake is a lab file: every mistake, each on its line.
  assert.equal(validateLab("name: x\n").notLab, undefined);
});

Deno.test("validateLab hints at misspelled top-level keys instead of calling the file not a lab file", () => {
  const misspelled = validateLab("nmae: x\ntopolgy:\n  nodes: {}\n");
  assert.equal(misspelled.notLab, undefined);
  const messages = misspelled.errors.map((e) => `${e.line}:${e.col}: ${e.message}`);
  assert.ok(
    messages.includes('1:1: unknown key "nmae" in the top level (did you mean "name"?)'),
    messages.join("\n"),
  );
  assert.ok(
    messages.includes('2:1: unknown key "topolgy" in the top level (did you mean "topology"?)'),
    messages.join("\n"),
  );
  const capitalised = validateLab("Name: x\nTopology: {}\n");
  assert.equal(capitalised.notLab, undefined);
  assert.ok(
    capitalised.errors.some((e) =>
      e.message === 'unknown key "Name" in the top level (did you mean "name"?)'
    ),
    capitalised.errors.map((e) => e.message).join("\n"),
  );
});

Deno.test("validateLab checks link values, kinds and ends", () => {
  const errors = errorsOf(`name: t
topology:
  nodes:
    s: { kind: swich }
    n: { kind: slirp }
    m: { kind: switch, ports: 4 }
    c: { kind: cable, connect: "x:1", listen: 3, key: k }
    h: { kind: host, gateway: nope, routes: ["10.1.0.0/16 via 10.0.2.1", "garbage"] }
  links:
    - endpoints: [n, m]
      loss: 200%
      delay: fast
      colour: red
    - endpoints: [n, "m:9"]
    - endpoints: [h, h]
    - endpoints: ["n:1", m]
`);
  assert.deepEqual(errors, [
    `lab.yaml:4:16: unknown kind "swich" of node s (did you mean "switch"?)`,
    "lab.yaml:7:10: cable c needs exactly one of `connect` and `listen`",
    `lab.yaml:8:31: h: gateway "nope" is not an IP address`,
    `lab.yaml:8:74: h: routes: expected "PREFIX via GATEWAY" or "PREFIX dev ethN", got "garbage"`,
    "lab.yaml:11:13: loss: a percentage is at most 100%, got 200%",
    `lab.yaml:12:14: delay: expected a duration such as 5ms or 1s, got "fast"`,
    `lab.yaml:13:7: unknown key "colour" in a link (known: endpoints, loss, delay, jitter, dup, rate, mtu, limit, vlan, trunk)`,
    `lab.yaml:14:22: port "9" of switch m must be a number from 1 to 3`,
    "lab.yaml:15:18: a link joins two different nodes, both ends are h",
    `lab.yaml:16:19: a slirp node has a single end: write "n" without ":1"`,
  ]);
});

Deno.test("a host's gateway on none of its subnets is an error, unless a route or DHCP may reach it", () => {
  const lab = (h: string) =>
    `name: t\ntopology:\n  nodes:\n    s: { kind: switch }\n    h: { kind: host, ${h} }\n  links:\n    - endpoints: [h, s]\n`;
  assert.deepEqual(errorsOf(lab("address: 10.0.0.2/24, gateway: 10.1.0.1")), [
    "lab.yaml:5:53: h: gateway 10.1.0.1 is on none of h's subnets (10.0.0.2/24): fix it, or add a route to it",
  ]);
  assert.deepEqual(errorsOf(lab("address: [10.0.0.2/24, 10.1.0.2/16], gateway: 10.1.200.1")), []);
  assert.deepEqual(
    errorsOf(lab("address: 10.0.0.2/24, gateway: 10.1.0.1, routes: ['10.1.0.0/24 dev eth0']")),
    [],
  );
  assert.deepEqual(errorsOf(lab("address: dhcp, gateway: 10.1.0.1")), []);
  assert.deepEqual(
    errorsOf(lab("address: fd00::2/64, gateway: fd01::1")),
    [],
    "IPv6 gateways may be link-local",
  );
});

Deno.test("a cable node names its key, or says insecure: true for a plain cable, as vde cable asks", () => {
  const lab = (c: string) => `name: t\ntopology:\n  nodes:\n    c: { kind: cable, listen: 7000${c} }\n`;
  assert.deepEqual(errorsOf(lab("")), [
    "lab.yaml:4:10: cable c needs a `key` file (vde cable keygen FILE), or `insecure: true` for a plain cable",
  ]);
  assert.deepEqual(errorsOf(lab(", key: k, insecure: true")), [
    "lab.yaml:4:10: cable c has a key and insecure: true; keep one of them",
  ]);
  assert.deepEqual(errorsOf(lab(", key: lab.key")), []);
  assert.deepEqual(errorsOf(lab(", key: lab.key, insecure: false")), [], "a key, and saying it is not plain");
  assert.deepEqual(errorsOf(lab(", insecure: false")), [
    "lab.yaml:4:10: cable c needs a `key` file (vde cable keygen FILE), or `insecure: true` for a plain cable",
  ]);
  const plain = validateLab(lab(", insecure: true"));
  assert.deepEqual(plain.errors, []);
  assert.deepEqual(plain.lab?.nodes[0], {
    kind: "cable",
    name: "c",
    connect: undefined,
    listen: "7000",
    key: undefined,
    insecure: true,
  });
});

Deno.test("a switch out of ports says which it has: ports: N counts port 0, for management clients", () => {
  const text = `name: t
topology:
  nodes:
    sw1: { kind: switch, ports: 3 }
    h1: { kind: host }
    h2: { kind: host }
    h3: { kind: host }
  links:
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
    - endpoints: [h3, sw1]
`;
  assert.deepEqual(errorsOf(text), [
    "lab.yaml:11:23: switch sw1 has no free port left: ports 1-2 are taken (ports: 3 counts port 0, which is for management clients)",
  ]);
});

Deno.test("spanning tree is refused when the engine has none", () => {
  const text = "name: t\ntopology:\n  nodes: { s: { kind: switch, stp: true } }\n";
  assert.deepEqual(errorsOf(text), ["lab.yaml:3:36: s: stp: spanning tree is not available in this vde"]);
  assert.deepEqual(validateLab(text, { stp: true }).errors, []);
});

Deno.test("ipv4InSubnet holds the addresses of a CIDR's subnet and no other", () => {
  assert.equal(ipv4InSubnet("10.0.2.2", "10.0.2.15/24"), true);
  assert.equal(ipv4InSubnet("10.0.3.2", "10.0.2.15/24"), false);
  assert.equal(ipv4InSubnet("192.168.1.1", "0.0.0.0/0"), true);
  assert.equal(ipv4InSubnet("10.0.2.16", "10.0.2.15/32"), false);
  assert.equal(ipv4InSubnet("10.0.2.15", "10.0.2.15/33"), false, "an impossible prefix holds nothing");
});

Deno.test("value parsers read lab units", () => {
  assert.deepEqual(parsePercent("2.5%"), { ok: true, value: 2.5 });
  assert.deepEqual(parseDuration("1s"), { ok: true, value: 1000 });
  assert.deepEqual(parseDuration(20), { ok: true, value: 20 });
  assert.deepEqual(parseRate("8mbit"), { ok: true, value: 1_000_000 });
  assert.deepEqual(parseRate(800), { ok: true, value: 100_000 });
  assert.equal(parseCidr("fd00::1/64").ok, true);
  assert.equal(parseCidr("10.0.0.1").ok, false);
  assert.equal(didYouMean("prots", ["ports", "hub"]), "ports");
  assert.equal(didYouMean("xyz", ["ports", "hub"]), undefined);
});

Deno.test("a switch may not take the name of a lab shell command", () => {
  assert.deepEqual(errorsOf("name: t\ntopology:\n  nodes:\n    links: { kind: switch }\n"), [
    `lab.yaml:4:5: a switch cannot be called "links": the lab shell has a command of that name`,
  ]);
  // The shell's later words too: `apply port/print` would apply a file, not ask switch apply.
  for (const word of ["del", "diff", "apply", "capture", "watch"]) {
    assert.deepEqual(errorsOf(`name: t\ntopology:\n  nodes:\n    ${word}: { kind: switch }\n`), [
      `lab.yaml:4:5: a switch cannot be called "${word}": the lab shell has a command of that name`,
    ]);
  }
});

Deno.test("a host may not take the name of a lab shell command either: its name is its shell command", () => {
  for (const word of ["save", "status", "capture"]) {
    assert.deepEqual(errorsOf(`name: t\ntopology:\n  nodes:\n    ${word}: { kind: host }\n`), [
      `lab.yaml:4:5: a host cannot be called "${word}": the lab shell has a command of that name`,
    ]);
  }
  // A slirp or a cable has no command of its own, so its name shadows nothing.
  assert.deepEqual(errorsOf("name: t\ntopology:\n  nodes:\n    save: { kind: slirp }\n"), []);
});

Deno.test("a hub cannot run spanning tree", () => {
  const text = "name: t\ntopology:\n  nodes: { s: { kind: switch, hub: true, stp: true } }\n";
  assert.deepEqual(formatErrors("lab.yaml", validateLab(text, { stp: true }).errors), [
    "lab.yaml:3:47: s: stp: a hub has no spanning tree (vde_switch refuses fstp in hub mode)",
  ]);
});

Deno.test("validateLab takes a switch's dataplane (thread or main, unset by default) and names a wrong one", () => {
  const lab = (sw1: string) => `name: demo\ntopology:\n  nodes:\n    sw1: ${sw1}\n`;
  const nodeOf = (text: string) => validateLab(text).lab?.nodes[0] as { dataplane?: string } | undefined;
  assert.equal(nodeOf(lab("{ kind: switch }"))?.dataplane, undefined);
  assert.equal(nodeOf(lab("{ kind: switch, dataplane: main }"))?.dataplane, "main");
  assert.equal(nodeOf(lab("{ kind: switch, dataplane: thread }"))?.dataplane, "thread");
  assert.deepEqual(errorsOf(lab("{ kind: switch, dataplane: gpu }")), [
    'lab.yaml:4:37: sw1: dataplane must be "thread" or "main", got "gpu"',
  ]);
});

Deno.test("an rc file that is a FIFO nobody writes is checked without waiting for a writer; a key file that is one is refused, unread", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-files-" });
  try {
    for (const f of ["sw1.rc", "lab.key"]) {
      assert.ok((await new Deno.Command("mkfifo", { args: [`${dir}/${f}`] }).output()).success);
    }
    const text = `name: f
topology:
  nodes:
    sw1: { kind: switch, rc: sw1.rc }
    c1: { kind: cable, listen: 7000, key: lab.key }
  links:
    - endpoints: [c1, sw1]
`;
    // The check opened each for reading, which waits for a writer: the validation never came back.
    assert.deepEqual(formatErrors("lab.yaml", validateLab(text, { filesFrom: dir }).errors), [
      `lab.yaml:5:43: c1: key: cannot read key file ${dir}/lab.key: it is a named pipe, not a regular file`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing or unreadable rc or key file is a FILE:LINE:COL error, relative to the lab file's directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-files-" });
  try {
    const text = `name: f
topology:
  nodes:
    sw1: { kind: switch, rc: sw1.rc }
    sw2: { kind: switch, rc: ${dir}/conf }
    c1: { kind: cable, listen: 7000, key: lab.key }
  links:
    - endpoints: [c1, sw1]
`;
    await Deno.mkdir(`${dir}/conf`);
    const errorsOf = () => formatErrors("lab.yaml", validateLab(text, { filesFrom: dir }).errors);
    assert.deepEqual(errorsOf(), [
      `lab.yaml:4:30: sw1: rc: cannot read the startup script ${dir}/sw1.rc: no such file`,
      `lab.yaml:5:30: sw2: rc: cannot read the startup script ${dir}/conf: it is a directory`,
      `lab.yaml:6:43: c1: key: cannot read key file ${dir}/lab.key: no such file (make one with: vde cable ` +
      "keygen FILE, then copy it to both hosts)",
    ]);
    await Deno.writeTextFile(`${dir}/sw1.rc`, "hub on\n");
    await Deno.remove(`${dir}/conf`);
    await Deno.writeTextFile(`${dir}/conf`, "");
    await generateKeyFile(`${dir}/lab.key`);
    assert.deepEqual(errorsOf(), []);
    // Without a directory to look in (vde graph, the shell's add) the names are only names.
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(validateLab(text).errors, []);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a cable key file the cable would refuse (/dev/zero, open to others, no key in it) is a FILE:LINE:COL error of the lab file, before anything starts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-lab-files-" });
  try {
    await Deno.writeTextFile(`${dir}/open.key`, `${"ab".repeat(32)}\n`, { mode: 0o600 });
    await Deno.chmod(`${dir}/open.key`, 0o644);
    await Deno.writeTextFile(`${dir}/text.key`, "not a key\n", { mode: 0o600 });
    await generateKeyFile(`${dir}/good.key`);
    const text = `name: f
topology:
  nodes:
    sw1: { kind: switch }
    c1: { kind: cable, listen: 7001, key: /dev/zero }
    c2: { kind: cable, listen: 7002, key: open.key }
    c3: { kind: cable, listen: 7003, key: text.key }
    c4: { kind: cable, listen: 7004, key: good.key }
  links:
    - endpoints: [c1, sw1]
    - endpoints: [c2, sw1]
    - endpoints: [c3, sw1]
    - endpoints: [c4, sw1]
`;
    assert.deepEqual(formatErrors("lab.yaml", validateLab(text, { filesFrom: dir }).errors), [
      "lab.yaml:5:43: c1: key: cannot read key file /dev/zero: it is a character device, not a regular file",
      `lab.yaml:6:43: c2: key: key file ${dir}/open.key is readable by group or others (mode 0644): chmod 600 ${dir}/open.key`,
      `lab.yaml:7:43: c3: key: key file ${dir}/text.key must hold 64 hex digits (make one with: vde cable keygen FILE)`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a containerlab file's kinds and keys are answered with vde's counterparts, not with near words; a link to a node in error adds no error of its own", () => {
  const errors = errorsOf(`name: clab
topology:
  kinds:
    linux: { image: alpine }
  nodes:
    sw1: { kind: bridge }
    h1: { kind: linux, image: alpine, mgmt-ipv4: 172.20.20.2, binds: [a:b], cmd: sleep inf }
    h2: { kind: host, address: 10.0.0.2/24, prots: 1 }
  links:
    - endpoints: [h2, sw1]
`);
  assert.deepEqual(errors, [
    `lab.yaml:3:3: unknown key "kinds" in topology (containerlab's per-kind defaults have no counterpart here: give each node its kind, one of switch, slirp, host, cable)`,
    `lab.yaml:6:18: unknown kind "bridge" of node sw1 (containerlab's bridge is kind: switch here)`,
    `lab.yaml:7:17: unknown kind "linux" of node h1 (containerlab's linux is kind: host here)`,
    `lab.yaml:8:45: unknown key "prots" in node h2 (host) (known: kind, address, gateway, routes, exec, interfaces, mtu)`,
  ]);
  const keys = errorsOf(`name: clab
topology:
  nodes:
    h1: { kind: host, image: alpine, mgmt-ipv4: 172.20.20.2, binds: [a:b], cmd: sleep inf }
`);
  assert.deepEqual(keys, [
    `lab.yaml:4:23: unknown key "image" in node h1 (host) (a host is a network namespace of this machine, not a container: no image)`,
    `lab.yaml:4:38: unknown key "mgmt-ipv4" in node h1 (host) (hosts have no management network; address: gives eth0 its address)`,
    `lab.yaml:4:62: unknown key "binds" in node h1 (host) (a host is a network namespace of this machine, not a container: it sees this machine's files)`,
    `lab.yaml:4:76: unknown key "cmd" in node h1 (host) (containerlab's cmd is exec here: a list of shell commands run in the host's namespace)`,
  ]);
});

Deno.test("a link to a node in error still has its other end checked, whichever end comes first", () => {
  assert.deepEqual(
    errorsOf(`name: t
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    r1: { kind: router }
  links:
    - endpoints: [r1, "sw1:9"]
    - endpoints: ["sw1:8", r1]
`),
    [
      `lab.yaml:5:17: unknown kind "router" of node r1 (one of switch, slirp, host, cable)`,
      `lab.yaml:7:23: port "9" of switch sw1 must be a number from 1 to 3`,
      `lab.yaml:8:19: port "8" of switch sw1 must be a number from 1 to 3`,
    ],
  );
});

Deno.test("a VM as a node (kind qemu, vm, kvm, vrnetlab's vr-*) is answered with how QEMU plugs into a lab's switch", () => {
  const errors = errorsOf(`name: vms
topology:
  nodes:
    sw1: { kind: switch }
    vm1: { kind: qemu }
    vm2: { kind: vm, image: disk.qcow2 }
    r1: { kind: vr-sros }
  links:
    - endpoints: [vm1, sw1]
`);
  const hint = "a VM is no node: leave it out and, once the lab is up, plug QEMU into a switch by the sock " +
    "`vde status LAB` shows, -netdev vde,id=n0,sock=/run/vde/LAB/sw1 as root";
  assert.deepEqual(errors, [
    `lab.yaml:5:18: unknown kind "qemu" of node vm1 (${hint})`,
    `lab.yaml:6:18: unknown kind "vm" of node vm2 (${hint})`,
    `lab.yaml:7:17: unknown kind "vr-sros" of node r1 (${hint})`,
  ]);
});

Deno.test("containerlab's extended endpoints ({ node, interface }) are taken as NODE:INTERFACE; its link type and mgmt are answered", () => {
  const { lab, errors } = validateLab(`name: clab
topology:
  nodes:
    sw1: { kind: switch }
    h1: { kind: host, interfaces: { eth1: 10.1.0.1/24 } }
  links:
    - endpoints:
        - node: h1
          interface: eth1
        - { node: sw1, interface: 3 }
`);
  assert.deepEqual(errors, []);
  assert.deepEqual(lab?.links[0]?.ends, [{ node: "h1", iface: "eth1" }, { node: "sw1", port: 3 }]);
  assert.deepEqual(
    errorsOf(`name: clab
mgmt: { network: m }
topology:
  nodes:
    sw1: { kind: switch }
    h1: { kind: host }
  links:
    - type: veth
      endpoints: [{ node: h1, interface: eth0 }, { node: sw1, mac: x }]
`),
    [
      `lab.yaml:2:1: unknown key "mgmt" in the top level (containerlab's management network has no counterpart here: reach a host with vde exec HOST)`,
      `lab.yaml:8:7: unknown key "type" in a link (containerlab's type has no counterpart here: a node is its kind, a link a cable between its endpoints)`,
      `lab.yaml:9:50: an endpoint is NODE or NODE:PORT, got {"node":"sw1","mac":"x"}`,
    ],
  );
});

Deno.test("a key given twice is named with both lines, and the file's other mistakes are still reported", () => {
  assert.deepEqual(
    errorsOf(`name: dup
topology:
  nodes:
    sw1: { kind: switch }
    h1: { kind: host, address: 10.0.2.15/24 }
    h1: { kind: host, address: 10.0.2.16/24 }
    h2: { kind: hots }
  links:
    - endpoints: [h1, sw1]
      loss: 2%
      loss: 3%
`),
    [
      `lab.yaml:6:5: duplicate key "h1" (also at line 5): give each key once`,
      `lab.yaml:7:17: unknown kind "hots" of node h2 (did you mean "host"?)`,
      `lab.yaml:11:7: duplicate key "loss" (also at line 10): give each key once`,
    ],
  );
});

Deno.test("a switch takes the Linux bridge's mcast_snooping and mcast_querier; other spellings get the key's name", () => {
  const lab = (sw1: string) => `name: demo\ntopology:\n  nodes:\n    sw1: ${sw1}\n`;
  const nodeOf = (text: string) =>
    validateLab(text).lab?.nodes[0] as { mcastSnooping?: boolean; mcastQuerier?: boolean } | undefined;
  assert.deepEqual(
    { ...nodeOf(lab("{ kind: switch, mcast_snooping: true, mcast_querier: true }")) },
    { ...nodeOf(lab("{ kind: switch }")), mcastSnooping: true, mcastQuerier: true },
  );
  assert.equal(nodeOf(lab("{ kind: switch }"))?.mcastSnooping, undefined, "off unless asked for");
  assert.deepEqual(errorsOf(lab("{ kind: switch, mcast_querier: true }")), [
    "lab.yaml:4:26: sw1: mcast_querier needs mcast_snooping: true (the querier is part of snooping)",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: switch, snooping: true, mcast-querier: true, igmp_snooping: 1 }")), [
    'lab.yaml:4:26: unknown key "snooping" in node sw1 (switch) (did you mean "mcast_snooping"?)',
    'lab.yaml:4:42: unknown key "mcast-querier" in node sw1 (switch) (did you mean "mcast_querier"?)',
    'lab.yaml:4:63: unknown key "igmp_snooping" in node sw1 (switch) (did you mean "mcast_snooping"?)',
  ]);
});

Deno.test("a switch takes the Linux bridge's snooping knobs (mcast_query_interval: 500, centiseconds as ip link's), in their ranges and with snooping, and saves them as given", () => {
  const lab = (sw1: string) => `name: demo\ntopology:\n  nodes:\n    sw1: ${sw1}\n`;
  const node = validateLab(
    lab("{ kind: switch, mcast_snooping: true, mcast_query_interval: 500, mcast_last_member_count: 3 }"),
  ).lab?.nodes[0] as SwitchNode;
  assert.deepEqual(node.mcastKnobs, { mcast_query_interval: 500, mcast_last_member_count: 3 });
  assert.deepEqual(plainNode(node), {
    kind: "switch",
    mcast_snooping: true,
    mcast_query_interval: 500,
    mcast_last_member_count: 3,
  });
  assert.deepEqual(errorsOf(lab("{ kind: switch, mcast_querier_interval: 800 }")), [
    "lab.yaml:4:26: sw1: mcast_querier_interval needs mcast_snooping: true (it is a snooping setting)",
  ]);
  const [bad] = errorsOf(lab("{ kind: switch, mcast_snooping: true, mcast_query_interval: 50 }"));
  assert.match(bad!, /mcast_query_interval \(centiseconds, as ip link's\).*100.*8640000/);
  const [zero] = errorsOf(lab("{ kind: switch, mcast_snooping: true, mcast_last_member_count: 0 }"));
  assert.match(zero!, /mcast_last_member_count.*1.*255/);
});

Deno.test("a switch end named like containerlab's bridge interface (br1:eth1) is that port; eth0 or a word is told that a switch's ends are ports", () => {
  const { lab, errors } = validateLab(`name: t
topology:
  nodes:
    br1: { kind: switch }
    n1: { kind: host }
  links:
    - endpoints: ["n1:eth1", "br1:eth1"]
    - endpoints: ["n1:eth2", "br1:eth7"]
`);
  assert.deepEqual(errors, []);
  assert.deepEqual(lab?.links.map((l) => l.ends[1]), [{ node: "br1", port: 1 }, { node: "br1", port: 7 }]);
  assert.deepEqual(
    errorsOf(`name: t
topology:
  nodes:
    br1: { kind: switch }
    n1: { kind: host }
  links:
    - endpoints: ["n1:eth1", "br1:eth0"]
    - endpoints: ["n1:eth2", "br1:e1"]
`),
    [
      `lab.yaml:7:30: port "eth0" of switch br1 must be a number from 1 to 31 ` +
      `(a switch's ends are ports: "br1:1", or "br1" for the next free one)`,
      `lab.yaml:8:30: port "e1" of switch br1 must be a number from 1 to 31 ` +
      `(a switch's ends are ports: "br1:1", or "br1" for the next free one)`,
    ],
  );
});

Deno.test("lab and node names too long for a tap are taken: containerlab-style names need no shortening", () => {
  const { lab, errors } = validateLab(`name: datacenter
topology:
  nodes:
    sw1: { kind: switch }
    router-east-1: { kind: host }
  links:
    - endpoints: [router-east-1, sw1]
`);
  assert.deepEqual(errors, []);
  assert.deepEqual(lab!.links[0]!.ends, [{ node: "router-east-1", iface: "eth0" }, { node: "sw1", port: 1 }]);
});

Deno.test("a route whose gateway is on none of the host's subnets is a mistake in the file, unless a dev route may reach it", () => {
  const host = (routes: string) =>
    `name: t
topology:
  nodes:
    s: { kind: switch }
    h1: { kind: host, address: 10.0.0.1/24, routes: ${routes} }
  links:
    - endpoints: [h1, s]
`;
  assert.deepEqual(errorsOf(host(`["10.9.0.0/16 via 10.1.0.1", "10.8.0.0/16 via 10.0.0.254"]`)), [
    "lab.yaml:5:54: h1: routes: gateway 10.1.0.1 is on none of h1's subnets (10.0.0.1/24), which Linux refuses (Nexthop has invalid gateway)",
  ]);
  assert.deepEqual(errorsOf(host(`["10.1.0.0/24 dev eth0", "10.9.0.0/16 via 10.1.0.1"]`)), []);
  assert.deepEqual(errorsOf(host(`["default via 10.0.0.254"]`)), []);
});

Deno.test("a host's mtu is at most a tap's, and not below 1280 where the host has an IPv6 address", () => {
  const host = (settings: string) =>
    `name: t\ntopology:\n  nodes:\n    s: { kind: switch }\n    h: { kind: host, ${settings} }\n  links:\n    - endpoints: [h, s]\n`;
  assert.deepEqual(errorsOf(host("address: 10.0.0.1/24, mtu: 65535")), [
    "lab.yaml:5:49: h: mtu must be a whole number from 68 to 65521, got 65535",
  ]);
  assert.deepEqual(errorsOf(host("address: [10.0.0.1/24, 'fd00::1/64'], mtu: 1000")), [
    "lab.yaml:5:65: h: mtu 1000 is below 1280, which IPv6 needs: fd00::1/64 would be dropped",
  ]);
  assert.deepEqual(errorsOf(host("address: 10.0.0.1/24, mtu: 1000")), []);
  assert.deepEqual(errorsOf(host("address: 'fd00::1/64', mtu: 65521")), []);
});

Deno.test("a switch takes vde switch's mode, group, mgmt_mode (octal as written) and priority (with stp), each wrong value in one line", () => {
  const lab = (sw1: string) => `name: demo\ntopology:\n  nodes:\n    sw1: ${sw1}\n`;
  const nodeOf = (text: string) => validateLab(text, { stp: true }).lab?.nodes[0];
  assert.deepEqual(
    nodeOf(lab('{ kind: switch, stp: true, priority: 4096, mode: 660, group: root, mgmt_mode: "0640" }')),
    {
      ...nodeOf(lab("{ kind: switch, stp: true }")),
      priority: 4096,
      mode: 0o660,
      group: "root",
      mgmtMode: 0o640,
    },
  );
  assert.equal((nodeOf(lab("{ kind: switch, mode: 0o666 }")) as { mode?: number }).mode, 0o666);
  const errors = formatErrors(
    "lab.yaml",
    validateLab(
      lab("{ kind: switch, mode: 68, group: l9-no-such-group, mgmt_mode: rw, stp: true, priority: 1000 }"),
      { stp: true },
    ).errors,
  );
  assert.deepEqual(errors, [
    "lab.yaml:4:32: sw1: mode must be an octal mode like 660 (at most 777), got 68",
    'lab.yaml:4:43: sw1: group "l9-no-such-group" is no group of this machine (getent group lists them)',
    'lab.yaml:4:72: sw1: mgmt_mode must be an octal mode like 660 (at most 777), got "rw"',
    "lab.yaml:4:97: sw1: priority must be 0-61440 in steps of 4096, not 1000: 0 or 4096",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: switch, priority: 4096 }")), [
    "lab.yaml:4:26: sw1: priority is the spanning tree's: it needs stp: true",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: switch, priority: 70000 }")), [
    "lab.yaml:4:36: sw1: priority must be a whole number from 0 to 61440, got 70000",
  ]);
});

Deno.test("a switch's mode has no setuid, setgid or sticky bit, is said as written when refused, and may be an alias", () => {
  const lab = (sw1: string) => `name: demo\ntopology:\n  nodes:\n    sw1: ${sw1}\n`;
  assert.deepEqual(errorsOf(lab("{ kind: switch, mode: 4660, mgmt_mode: 7777 }")), [
    "lab.yaml:4:32: sw1: mode must be an octal mode like 660 (at most 777), got 4660",
    "lab.yaml:4:49: sw1: mgmt_mode must be an octal mode like 660 (at most 777), got 7777",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: switch, mode: 0x1b0 }")), [
    "lab.yaml:4:32: sw1: mode must be an octal mode like 660 (at most 777), got 0x1b0",
  ]);
  const node = validateLab(lab("{ kind: switch, mode: &m 660, mgmt_mode: *m }")).lab?.nodes[0];
  assert.deepEqual([(node as { mode?: number }).mode, (node as { mgmtMode?: number }).mgmtMode], [
    0o660,
    0o660,
  ]);
});

Deno.test("a misspelt links key is the one error, not one per host whose address then has no link", () => {
  const text = TWO_HOSTS.replace("  links:", "  link:");
  assert.deepEqual(errorsOf(text), ['lab.yaml:7:3: unknown key "link" in topology (did you mean "links"?)']);
  // With no links key at all, each host's address without its link is still said.
  assert.deepEqual(errorsOf(text.replace(/ {2}link:\n(.*\n)*/, "")), [
    "lab.yaml:5:5: host h1 has an address on eth0 but no link there",
    "lab.yaml:6:5: host h2 has an address on eth0 but no link there",
  ]);
});

Deno.test("a host's address: with its link on eth1 (containerlab's h1:eth1) says the interfaces: line that puts it there", () => {
  const text = "name: demo\ntopology:\n  nodes:\n    sw1: { kind: switch }\n" +
    '    h2: { kind: host, address: 10.0.0.2/24 }\n  links:\n    - endpoints: ["h2:eth1", "sw1:eth2"]\n';
  assert.deepEqual(errorsOf(text), [
    "lab.yaml:5:5: host h2 has an address on eth0 but no link there (its link is on eth1: " +
    "`interfaces: { eth1: 10.0.0.2/24 }` puts the address there, or `h2:eth0` for `h2:eth1` in the link moves the link)",
  ]);
  const fixed = text.replace("address: 10.0.0.2/24", "interfaces: { eth1: 10.0.0.2/24 }");
  assert.deepEqual(errorsOf(fixed), []);
});

Deno.test("nodes written as a list, or missing, is one error, not an unknown node per link end", () => {
  const text = TWO_HOSTS.replace(/^ {4}(\w+:)/gm, "    - $1");
  assert.deepEqual(errorsOf(text), [
    "lab.yaml:4:5: `nodes` must be a mapping of node names to their settings (no `-` before each: " +
    "`sw1: { kind: switch }`)",
  ]);
  assert.deepEqual(errorsOf(text.replace("  nodes:", "  nodez:")), [
    "lab.yaml:2:1: missing `topology.nodes`",
    'lab.yaml:3:3: unknown key "nodez" in topology (did you mean "nodes"?)',
  ]);
});

Deno.test('DHCP in capitals and a VLAN list written as one word ("10,20", 10 20) say what to write', () => {
  const text = `name: y
topology:
  nodes:
    sw1: { kind: switch, vlans: "10,20" }
    h1: { kind: host, address: DHCP }
  links:
    - endpoints: [h1, sw1]
      trunk: 10 20
`;
  assert.deepEqual(errorsOf(text), [
    'lab.yaml:4:33: sw1: vlans must be whole numbers from 1 to 4093, got "10,20" (a list is written [10, 20])',
    'lab.yaml:5:32: h1: address: expected dhcp, in lower case, got "DHCP"',
    'lab.yaml:8:14: trunk must be whole numbers from 1 to 4093, got "10 20" (a list is written [10, 20])',
  ]);
});

Deno.test("a number in quotes and gateway: dhcp say what to write", () => {
  const text = TWO_HOSTS.replace("ports: 4", 'ports: "4"').replace(
    "address: 10.9.0.2/24",
    "address: dhcp, gateway: dhcp",
  );
  assert.deepEqual(errorsOf(text), [
    'lab.yaml:4:33: sw1: ports must be a whole number from 2 to 65535, got "4" (a number is written without quotes)',
    'lab.yaml:6:47: h2: gateway "dhcp" is not an IP address (address: dhcp sets the default route itself)',
  ]);
});

Deno.test("an rc file of ours that others may write is a FILE:LINE:COL error with the chmod that fixes it, as the switch's start would refuse it", async () => {
  await asRootWithoutSudo("vde-lab-rc-open-", async (dir) => {
    const text = `name: f
topology:
  nodes:
    sw1: { kind: switch, rc: sw1.rc }
    sw2: { kind: switch, rc: ours.rc }
`;
    await Deno.writeTextFile(`${dir}/sw1.rc`, "hub on\n");
    await Deno.chmod(`${dir}/sw1.rc`, 0o666);
    await Deno.writeTextFile(`${dir}/ours.rc`, "hub on\n");
    await Deno.chmod(`${dir}/ours.rc`, 0o644);
    assert.deepEqual(formatErrors("lab.yaml", validateLab(text, { filesFrom: dir }).errors), [
      `lab.yaml:4:30: sw1: rc: cannot read the startup script ${dir}/sw1.rc: anyone may write it (mode 0666), ` +
      `and its lines would run as ours: chmod go-w ${dir}/sw1.rc`,
    ]);
  });
});

Deno.test("an rc file that is another user's, or named by their symlink, is a FILE:LINE:COL error before anything starts, as the switch's start would refuse it", async () => {
  await asRootWithoutSudo("vde-lab-rc-owner-", async (dir) => {
    const text = `name: f
topology:
  nodes:
    sw1: { kind: switch, rc: sw1.rc }
    sw2: { kind: switch, rc: link.rc }
    sw3: { kind: switch, rc: ours.rc }
`;
    await Deno.writeTextFile(`${dir}/sw1.rc`, "hub on\n");
    giveToNobody(`${dir}/sw1.rc`);
    await Deno.writeTextFile(`${dir}/ours.rc`, "hub on\n");
    await Deno.symlink(`${dir}/ours.rc`, `${dir}/link.rc`);
    giveToNobody(`${dir}/link.rc`);
    const why =
      "'s (the file or the symlink naming it), and its lines would run as ours: give a script of your own";
    assert.deepEqual(formatErrors("lab.yaml", validateLab(text, { filesFrom: dir }).errors), [
      `lab.yaml:4:30: sw1: rc: cannot read the startup script ${dir}/sw1.rc: it is nobody${why}`,
      `lab.yaml:5:30: sw2: rc: cannot read the startup script ${dir}/link.rc: it is nobody${why}`,
    ]);
  });
});
