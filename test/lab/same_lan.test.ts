/**
 * Two hosts on one address on one LAN are refused at the second address's
 * line; the same address on two LANs (switches, VLANs, a cable's far side)
 * stays valid. And a gateway that is the host's own address.
 */
import assert from "node:assert/strict";
import { formatErrors, validateLab } from "../../src/lab/validate.ts";
import { ipKey, leasesOnStatics, slirpStatics } from "../../src/lab/same_lan.ts";
import { inHost, ipv4sIn, pingCount, staticThenDhcpLive, TWO_HOSTS, vde, withLabUp } from "./_helpers.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { MAX_VLAN } from "../../src/switch/engine.ts";

function errorsOf(text: string): string[] {
  return formatErrors("lab.yaml", validateLab(text).errors);
}

/** A lab with the node lines and link lines given (each already indented). */
function lab(nodes: string[], links: string[]): string {
  return `name: t\ntopology:\n  nodes:\n${nodes.map((n) => `    ${n}\n`).join("")}  links:\n${
    links.map((l) => `    ${l}\n`).join("")
  }`;
}

const CLASH = "on the same LAN: neighbours would reach whichever answered ARP last; give each its own";

Deno.test("two hosts with one address on one switch are refused at the second's address", () => {
  assert.deepEqual(
    errorsOf(lab([
      "sw1: { kind: switch }",
      "h1: { kind: host, address: 10.0.2.10/24 }",
      "h2: { kind: host, address: 10.0.2.10/16 }",
    ], ["- endpoints: [h1, sw1]", "- endpoints: [h2, sw1]"])),
    [`lab.yaml:6:32: host h2 eth0 address 10.0.2.10 is h1's (eth0) too, ${CLASH}`],
  );
});

Deno.test("one address across two switches joined by a link, or two hosts joined directly, is one LAN", () => {
  assert.deepEqual(
    errorsOf(lab([
      "sw1: { kind: switch }",
      "sw2: { kind: switch }",
      "h1: { kind: host, address: [10.0.2.10/24, fd00::1/64] }",
      "h2: { kind: host, interfaces: { eth1: FD00:0::1/64 } }",
    ], ["- endpoints: [h1, sw1]", "- endpoints: [sw1, sw2]", '- endpoints: [sw2, "h2:eth1"]'])),
    [`lab.yaml:7:43: host h2 eth1 address FD00:0::1 is h1's (eth0) too, ${CLASH}`],
  );
  assert.equal(
    errorsOf(lab([
      "h1: { kind: host, address: 10.0.2.10/24 }",
      "h2: { kind: host, address: 10.0.2.10/24 }",
    ], ["- endpoints: [h1, h2]"])).length,
    1,
  );
});

Deno.test("a VLAN carried on a trunk between two switches is one LAN; VLANs apart are not", () => {
  const nodes = [
    "sw1: { kind: switch }",
    "sw2: { kind: switch }",
    "h1: { kind: host, address: 192.168.10.3/24 }",
    "h2: { kind: host, address: 192.168.10.3/24 }",
  ];
  const trunk = ["- endpoints: [sw1, sw2]", "  trunk: [10, 20]"];
  assert.equal(
    errorsOf(
      lab(nodes, [...trunk, "- endpoints: [h1, sw1]", "  vlan: 20", "- endpoints: [h2, sw2]", "  vlan: 20"]),
    )
      .length,
    1,
  );
  // h1 on VLAN 10, h2 on VLAN 20; or both untagged on switches the trunk joins only for 10 and 20.
  assert.deepEqual(
    errorsOf(
      lab(nodes, [...trunk, "- endpoints: [h1, sw1]", "  vlan: 10", "- endpoints: [h2, sw2]", "  vlan: 20"]),
    ),
    [],
  );
  assert.deepEqual(
    errorsOf(
      lab(nodes, [
        "- endpoints: [sw1, sw2]",
        "  vlan: 10",
        "- endpoints: [h1, sw1]",
        "- endpoints: [h2, sw2]",
      ]),
    ),
    [],
  );
});

Deno.test("one address on two unjoined switches, or a host's address on no link yet, is valid", () => {
  assert.deepEqual(
    errorsOf(lab([
      "sw1: { kind: switch }",
      "sw2: { kind: switch }",
      "h1: { kind: host, address: 10.0.2.10/24 }",
      "h2: { kind: host, address: 10.0.2.10/24 }",
      "h3: { kind: host, address: dhcp }",
      "h4: { kind: host, address: dhcp }",
    ], [
      "- endpoints: [h1, sw1]",
      "- endpoints: [h2, sw2]",
      "- endpoints: [h3, sw1]",
      "- endpoints: [h4, sw1]",
    ])),
    [],
  );
});

Deno.test("a gateway or a route's gateway that is the host's own address is refused", () => {
  const nodes = (h1: string) => ["sw1: { kind: switch }", `h1: { kind: host, address: 10.0.2.10/24, ${h1} }`];
  assert.deepEqual(errorsOf(lab(nodes("gateway: 10.0.2.10"), ["- endpoints: [h1, sw1]"])), [
    "lab.yaml:5:55: h1: gateway 10.0.2.10 is h1's own address (eth0): the gateway is the router's, " +
    "another node on the LAN (a slirp's, unless its vnet says, is 10.0.2.2)",
  ]);
  assert.match(
    errorsOf(lab(nodes('routes: ["10.9.0.0/16 via 10.0.2.10"]'), ["- endpoints: [h1, sw1]"]))[0]!,
    /h1: routes: gateway 10\.0\.2\.10 is h1's own address \(eth0\)/,
  );
  assert.deepEqual(errorsOf(lab(nodes("gateway: 10.0.2.2"), ["- endpoints: [h1, sw1]"])), []);
});

Deno.test("ipKey compares addresses as addresses, prefix length dropped", () => {
  assert.equal(ipKey("fd00::1/64"), ipKey("FD00:0:0::1"));
  assert.equal(ipKey("10.0.2.10/24"), ipKey("10.0.2.10"));
  assert.equal(ipKey("dhcp"), undefined);
});

Deno.test("a running lab refuses a link that would put a host added live on another's address, and runs on as it was", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const r = await vde(["term", name, "-c", "add host h3 address 10.9.0.1/24", "-c", "add link h3 sw1"]);
    assert.equal(
      r.stderr,
      `vde: add link h3 sw1: host h3 eth0 address 10.9.0.1 is h1's (eth0) too, ${CLASH}\n`,
    );
    const links = await vde(["term", name, "-c", "links"]);
    assert.doesNotMatch(links.stdout, /h3/, links.stdout);
    // On a LAN of its own (a switch of its own), the same address is h3's to have.
    const apart = await vde(["term", name, "-c", "add switch sw9", "-c", "add link h3 sw9"]);
    assert.equal(apart.code, 0, apart.stderr);
  });
});

Deno.test("a host on a slirp's gateway or DNS address on its LAN is refused, as its options set them", () => {
  const nodes = (options: string, h1: string) => [
    "sw1: { kind: switch }",
    `nat: { kind: slirp${options} }`,
    `h1: { kind: host, address: [${h1}] }`,
  ];
  const links = ["- endpoints: [nat, sw1]", "- endpoints: [h1, sw1]"];
  assert.deepEqual(errorsOf(lab(nodes("", "10.0.2.2/24, fd00::3/64"), links)), [
    "lab.yaml:6:33: host h1 eth0 address 10.0.2.2 is slirp nat's gateway, on the same LAN: neighbours would " +
    "reach whichever answered last; give the host another (slirp nat holds 10.0.2.2 and 10.0.2.3)",
    "lab.yaml:6:46: host h1 eth0 address fd00::3 is slirp nat's IPv6 DNS, on the same LAN: neighbours would " +
    "reach whichever answered last; give the host another (slirp nat holds fd00::2 and fd00::3), or the slirp's " +
    "DNS another with its option vnameserver6=ADDR",
  ]);
  // Its options move them: 10.0.2.2 is then free, 192.168.5.3 (the DNS moved into the network) is not.
  assert.deepEqual(errorsOf(lab(nodes(", options: addr=192.168.5.1/24", "10.0.2.2/24"), links)), []);
  assert.match(
    errorsOf(lab(nodes(", options: addr=192.168.5.1/24", "192.168.5.3/24"), links)).join("\n"),
    /address 192\.168\.5\.3 is slirp nat's DNS, on the same LAN: .*\(slirp nat holds 192\.168\.5\.1 and 192\.168\.5\.3\), or the slirp's DNS another with its option vnameserver=ADDR$/,
  );
  // A slirp run for IPv6 alone holds no IPv4 address.
  assert.deepEqual(errorsOf(lab(nodes(", options: v6", "10.0.2.2/24"), links)), []);
  // On another LAN (a switch of its own) the slirp's addresses are nobody's.
  assert.deepEqual(
    errorsOf(
      lab([...nodes("", "10.0.2.2/24"), "sw2: { kind: switch }"], [links[0]!, "- endpoints: [h1, sw2]"]),
    ),
    [],
  );
});

Deno.test("a static address in a slirp's DHCP pool beside a dhcp host is valid, and that slirp's DHCP reserves it", () => {
  const nodes = [
    "sw1: { kind: switch }",
    "nat: { kind: slirp }",
    "other: { kind: slirp }",
    "h1: { kind: host, address: [10.0.2.15/24, fd00::15/64] }",
    "h2: { kind: host, address: dhcp }",
    "h3: { kind: host, address: 10.0.2.16/24 }",
  ];
  const links = [
    "- endpoints: [nat, sw1]",
    "- endpoints: [h1, sw1]",
    "- endpoints: [h2, sw1]",
    "- endpoints: [h3, other]",
  ];
  const text = lab(nodes, links);
  assert.deepEqual(errorsOf(text), []);
  const parsed = validateLab(text);
  assert.ok(parsed.lab !== undefined);
  // Per slirp its LAN's static IPv4 addresses only: not IPv6, not dhcp, not another LAN's.
  assert.deepEqual(
    slirpStatics(parsed.lab.nodes, parsed.lab.links),
    new Map([["nat", [0x0a00020f]], ["other", [0x0a000210]]]),
  );
});

Deno.test("a lease is leased again where a host's static address on its slirp's LAN is the lease's, not on another LAN or one without a slirp", () => {
  const nodes = [
    "sw1: { kind: switch }",
    "sw2: { kind: switch }",
    "nat: { kind: slirp }",
    "h1: { kind: host, address: 10.0.2.15/24 }",
    "h2: { kind: host, address: dhcp }",
    "h3: { kind: host, address: dhcp }",
    "h4: { kind: host, address: 10.0.2.16/24 }",
    "h5: { kind: host, address: dhcp }",
  ];
  const links = [
    "- endpoints: [nat, sw1]",
    "- endpoints: [h1, sw1]",
    "- endpoints: [h2, sw1]",
    "- endpoints: [h3, sw1]",
    "- endpoints: [h4, sw2]",
    "- endpoints: [h5, sw2]",
  ];
  const parsed = validateLab(lab(nodes, links));
  assert.ok(parsed.lab !== undefined);
  const leases = [
    { host: "h2", iface: "eth0", lease: "10.0.2.15/24" },
    { host: "h3", iface: "eth0", lease: "10.0.2.16/24" },
    // sw2 has no slirp: whoever leased h5 its address (a cable's far side) is not the lab's to tell.
    { host: "h5", iface: "eth0", lease: "10.0.2.16/24" },
  ];
  assert.deepEqual(leasesOnStatics(parsed.lab.nodes, parsed.lab.links, leases), [leases[0]]);
});

/** TWO_HOSTS with both hosts on 10.9.0.1, h1 in VLAN 10 and h2 in VLAN 20: one address on two LANs. */
const APART = TWO_HOSTS.replace("10.9.0.2", "10.9.0.1")
  .replace("endpoints: [h1, sw1]\n", "endpoints: [h1, sw1]\n      vlan: 10\n")
  .replace("endpoints: [h2, sw1]\n", "endpoints: [h2, sw1]\n      vlan: 20\n");

Deno.test("moving a link's VLAN live (link A-B vlan N, apply of a changed file) onto another host's address is refused with the file's line, the lab unchanged", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: APART }, async (name, file) => {
    const line = `host h2 eth0 address 10.9.0.1 is h1's (eth0) too, ${CLASH}`;
    const moved = await vde(["term", name, "-c", "link h2:eth0-sw1:2 loss 5% vlan 10"]);
    assert.deepEqual([moved.code, moved.stderr], [1, `vde: link h2:eth0-sw1:2 loss 5% vlan 10: ${line}\n`]);
    const after = await vde(["term", name, "-c", "links"]);
    assert.doesNotMatch(after.stdout, /loss/, "the loss before the refused vlan is not set either");
    // The running lab is still its file: neither VLAN nor loss moved.
    assert.match((await vde(["up", "--apply", file])).stdout, /nothing to apply: .* as it is/);
    // The file's line for the same move, through apply: refused at its address, nothing changed.
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("vlan: 20", "vlan: 10"));
    const applied = await vde(["up", "--apply", file]);
    assert.deepEqual([applied.code, applied.stderr], [
      1,
      `${file}:6:32: ${line}\nvde: 1 error in ${file}; nothing was created or changed\n`,
    ]);
    // The lab shell's apply, read by the lab's own process, says the same line.
    const shell = await vde(["term", name, "-c", "apply"]);
    assert.equal(shell.stderr, `vde: apply: ${Deno.realPathSync(file)}:6:32: ${line}\nnothing was changed\n`);
    await Deno.writeTextFile(file, text);
    // A VLAN of its own is the host's to take.
    const own = await vde([
      "term",
      name,
      "-c",
      "link h2:eth0-sw1:2 vlan 30",
      "-c",
      "link h2:eth0-sw1:2 vlan 0",
    ]);
    assert.equal(own.code, 0, own.stderr);
  });
});

const ON_TRUNK = "vlan 10 is on the link's trunk too: a port carries a VLAN tagged or untagged, not both";

Deno.test("a link's untagged vlan that its trunk also carries is refused at the vlan", () => {
  const nodes = ["sw1: { kind: switch }", "sw2: { kind: switch }"];
  assert.deepEqual(
    errorsOf(lab(nodes, ["- endpoints: [sw1, sw2]", "  vlan: 10", "  trunk: [10, 20]"])),
    [`lab.yaml:8:13: ${ON_TRUNK}`],
  );
  assert.deepEqual(errorsOf(lab(nodes, ["- endpoints: [sw1, sw2]", "  vlan: 30", "  trunk: [10, 20]"])), []);
});

/** sw1 and sw2 joined by a trunk of VLAN 10; h1, h2 untagged on sw1, h3 in VLAN 10 on sw2. */
const TRUNKED = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.0.1/24 }
    h2: { kind: host, address: 10.9.0.2/24 }
    h3: { kind: host, address: 10.9.0.3/24 }
  links:
    - endpoints: [sw1, sw2]
      trunk: [10]
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
    - endpoints: [h3, sw2]
      vlan: 10
`;

Deno.test("link A-B vlan N moves a host's traffic to VLAN N and back live, and a trunk's own VLAN is refused untagged, its trunk kept", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TRUNKED }, async (name) => {
    // Untagged on the trunk too, the switch would make the trunk's tagged VLAN 10 its untagged one, and
    // vlan 0 after would leave the trunk without VLAN 10 while links and save still said trunk 10.
    const trunk = await vde(["term", name, "-c", "link sw1:1-sw2:1 vlan 10"]);
    assert.deepEqual([trunk.code, trunk.stderr], [1, `vde: link sw1:1-sw2:1 vlan 10: ${ON_TRUNK}\n`]);
    assert.equal(await pingCount(name, "h1", "10.9.0.2", 3), 3, "h1 -> h2, both untagged");
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 2), 0, "h1 -> h3 in VLAN 10");
    const moved = await vde(["term", name, "-c", "link h1:eth0-sw1:2 vlan 10"]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 3), 3, "h1 in VLAN 10 -> h3 across the trunk");
    assert.equal(await pingCount(name, "h2", "10.9.0.1", 2), 0, "h2 untagged -> h1 in VLAN 10");
    const back = await vde(["term", name, "-c", "link h1:eth0-sw1:2 vlan 0"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await pingCount(name, "h2", "10.9.0.1", 3), 3, "h2 -> h1 back untagged");
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 2), 0, "h1 untagged -> h3 in VLAN 10");
  });
});

Deno.test("link A-B trunk N,M changes a trunk's tagged VLANs live (0: none); one VLAN both untagged and on the trunk, or a bad list, is refused, the link as it was", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TRUNKED }, async (name) => {
    const term = (line: string) => vde(["term", name, "-c", line]);
    const moved = await term("link h1:eth0-sw1:2 vlan 10");
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 3), 3, "h1 in VLAN 10 -> h3 across the trunk");
    const none = await term("link sw1:1-sw2:1 trunk 0");
    assert.equal(none.code, 0, none.stderr);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 2), 0, "no trunk: VLAN 10 stays on sw1");
    const again = await term("link sw1:1-sw2:1 trunk 20,10");
    assert.equal(again.code, 0, again.stderr);
    assert.match((await term("links")).stdout, /^sw1:1-sw2:1 .*trunk 20,10/m);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 3), 3, "VLAN 10 on the trunk again");
    // As the file refuses `vlan: 20` beside `trunk: [20]`: the whole line, loss too, left undone.
    const both = await term("link sw1:1-sw2:1 loss 5% vlan 20 trunk 20");
    const onTrunk = ON_TRUNK.replaceAll("10", "20");
    assert.deepEqual([both.code, both.stderr], [
      1,
      `vde: link sw1:1-sw2:1 loss 5% vlan 20 trunk 20: ${onTrunk}\n`,
    ]);
    const bad = await term("link sw1:1-sw2:1 trunk 10,x");
    assert.deepEqual(
      [bad.code, bad.stderr],
      [
        1,
        `vde: link sw1:1-sw2:1 trunk 10,x: trunk needs VLANs, 1-${MAX_VLAN}, with commas between (10,20; 0: none)\n`,
      ],
    );
    const links = (await term("links")).stdout;
    assert.match(links, /^sw1:1-sw2:1 .*trunk 20,10/m);
    assert.doesNotMatch(links, /loss/);
    assert.equal(await pingCount(name, "h1", "10.9.0.3", 3), 3, "the trunk as it was");
  });
});

/** h1 on dhcp and h2 on 10.0.2.15, the slirp's first lease, on one switch with the slirp. */
const DHCP_BESIDE_STATIC = `name: x
topology:
  nodes:
    sw1: { kind: switch }
    nat: { kind: slirp }
    h1: { kind: host, address: dhcp }
    h2: { kind: host, address: 10.0.2.15/24, gateway: 10.0.2.2 }
  links:
    - endpoints: [nat, sw1]
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw1]
`;

/** The IPv4 addresses on host `node`'s eth0. */
async function ipv4sOf(lab: string, node: string): Promise<string[]> {
  return ipv4sIn((await inHost(lab, node, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"])).stdout);
}

/** The IPv4 address of host `node`'s eth0, or "" without one. */
async function ipv4Of(lab: string, node: string): Promise<string> {
  return (await ipv4sOf(lab, node))[0] ?? "";
}

Deno.test("a slirp's DHCP skips the lab's static addresses on its LAN: h1 on dhcp beside h2 on 10.0.2.15, and a host added live", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: DHCP_BESIDE_STATIC }, async (name) => {
    const h1 = await ipv4Of(name, "h1");
    assert.match(h1, /^10\.0\.2\.\d+$/);
    assert.notEqual(h1, "10.0.2.15", "h1's lease is h2's static address");
    assert.ok(await pingCount(name, "h1", "10.0.2.2", 3) >= 1, "h1 reaches the gateway");
    assert.ok(await pingCount(name, "h2", "10.0.2.2", 3) >= 1, "h2 reaches the gateway");
    // Live: h3 takes the address after h1's, the next a new lease would get; h4 on dhcp gets another.
    const next = `10.0.2.${Number(h1.split(".")[3]) + 1}`;
    const add = await vde(["term", name, ...staticThenDhcpLive(next)]);
    assert.equal(add.code, 0, add.stderr);
    const h4 = await ipv4Of(name, "h4");
    assert.match(h4, /^10\.0\.2\.\d+$/);
    assert.ok(![h1, "10.0.2.15", next].includes(h4), `h4 leased ${h4}, a static address or h1's`);
  });
});

Deno.test("a static address given live that a dhcp host holds as its lease (an applied file, the shell's add): the holder is leased another at once", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: DHCP_BESIDE_STATIC }, async (name, file) => {
    const [h1] = await ipv4sOf(name, "h1");
    assert.match(h1 ?? "", /^10\.0\.2\.\d+$/);
    // The file's h2 given h1's lease, applied live: h1 leaves it for another, at once, not in 12 h.
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(file, text.replace("10.0.2.15/24", `${h1}/24`));
    const applied = await vde(["up", "--apply", file], 90_000);
    assert.equal(applied.code, 0, applied.stderr);
    const second = await ipv4sOf(name, "h1");
    assert.equal(second.length, 1, `h1 holds ${second}`);
    assert.ok(![h1, undefined].includes(second[0]), `h1 holds ${second}, h2's static address`);
    assert.equal(await pingCount(name, "h2", "10.0.2.2", 3), 3, "h2 reaches the gateway on h1's old lease");
    // The shell's add of a host on h1's new lease: the same.
    const add = await vde([
      "term",
      name,
      "-c",
      `add host h3 address ${second[0]}/24`,
      "-c",
      "add link h3 sw1",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const third = await ipv4sOf(name, "h1");
    assert.equal(third.length, 1, `h1 holds ${third}`);
    assert.ok(![h1, second[0], undefined].includes(third[0]), `h1 holds ${third}, a static host's address`);
    assert.equal(
      await pingCount(name, "h3", "10.0.2.2", 3),
      3,
      "h3 reaches the gateway on h1's lease before",
    );
    assert.ok(await pingCount(name, "h1", "10.0.2.2", 3) >= 1, "h1 reaches the gateway on its new lease");
  });
});
