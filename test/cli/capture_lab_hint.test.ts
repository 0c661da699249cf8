import assert from "node:assert/strict";
import {
  labCapturePoint,
  labTermHint,
  type LinkJson,
  severalTermLine,
} from "../../src/cli/capture_lab_hint.ts";
import { captureWhilePinging, TWO_HOSTS, vde, withLabUp } from "../lab/_helpers.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";

const RING: LinkJson[] = [
  { name: "sw1:1-sw2:1", a: { node: "sw1", port: 1 }, b: { node: "sw2", port: 1 } },
  { name: "h1:eth1-sw1:3", a: { node: "h1", iface: "eth1" }, b: { node: "sw1", port: 3 } },
  { name: "nat-sw3:3", a: { node: "nat" }, b: { node: "sw3", port: 3 } },
];

const at = (sw: string, port: number, what: string, link: string) => ({ switch: sw, port, what, link });

Deno.test("vde capture LAB/LINK captures at the switch end named first, as vde status names the link or by its nodes", () => {
  const link = "sw1:1-sw2:1";
  assert.deepEqual(labCapturePoint("lab", "sw1:1-sw2:1", RING), at("lab/sw1", 1, "lab/sw1:1-sw2:1", link));
  assert.deepEqual(labCapturePoint("lab", "sw1-sw2", RING), at("lab/sw1", 1, "lab/sw1-sw2", link));
  // Named the other way round: the other end, as tcpdump on sw2's interface would see it.
  assert.deepEqual(labCapturePoint("lab", "sw2-sw1", RING), at("lab/sw2", 1, "lab/sw2-sw1", link));
  assert.deepEqual(labCapturePoint("lab", "sw2:1-sw1:1", RING), at("lab/sw2", 1, "lab/sw2:1-sw1:1", link));
  // A host's link is captured at its switch end, whichever is named first.
  assert.deepEqual(labCapturePoint("lab", "h1-sw1", RING), at("lab/sw1", 3, "lab/h1-sw1", "h1:eth1-sw1:3"));
  // One end of a link: a switch's port itself, a host's interface at the switch across.
  assert.deepEqual(labCapturePoint("lab", "sw2:1", RING), at("lab/sw2", 1, "lab/sw2:1", link));
  assert.deepEqual(labCapturePoint("lab", "h1:eth1", RING), at("lab/sw1", 3, "lab/h1:eth1", "h1:eth1-sw1:3"));
});

Deno.test("vde capture LAB/HOST captures at the switch port its one interface is plugged into; a slirp's too", () => {
  assert.deepEqual(labCapturePoint("lab", "h1", RING), at("lab/sw1", 3, "lab/h1", "h1:eth1-sw1:3"));
  assert.deepEqual(labCapturePoint("lab", "nat", RING), at("lab/sw3", 3, "lab/nat", "nat-sw3:3"));
  for (const what of ["sw9", "h2", "sw1-sw3", "h1:eth0", "sw1:9", "sw1", ""]) {
    assert.equal(labCapturePoint("lab", what, RING), undefined, what);
  }
});

Deno.test("vde capture of a host with two interfaces, of two links between two nodes, or of a link with no switch end, says why in one line", () => {
  const links: LinkJson[] = [
    { name: "h1:eth0-sw1:1", a: { node: "h1", iface: "eth0" }, b: { node: "sw1", port: 1 } },
    { name: "h1:eth1-sw1:2", a: { node: "h1", iface: "eth1" }, b: { node: "sw1", port: 2 } },
    { name: "h2:eth0-h3:eth0", a: { node: "h2", iface: "eth0" }, b: { node: "h3", iface: "eth0" } },
  ];
  assert.deepEqual(labCapturePoint("lab", "h1", links), {
    refused: "lab/h1 has 2 interfaces in lab lab: name one, lab/h1:eth0 or lab/h1:eth1",
  });
  assert.deepEqual(labCapturePoint("lab", "h1-sw1", links), {
    refused: "lab/h1-sw1 names 2 links of lab lab: name one, lab/h1:eth0-sw1:1 or lab/h1:eth1-sw1:2",
  });
  assert.deepEqual(
    labCapturePoint("lab", "h1:eth1", links),
    at("lab/sw1", 2, "lab/h1:eth1", "h1:eth1-sw1:2"),
  );
  assert.deepEqual(labCapturePoint("lab", "h3-h2", links), {
    refused: "lab/h3-h2 is link h2:eth0-h3:eth0 of lab lab, which has no switch end: vde captures at a " +
      "switch's port; inside the host: `vde exec lab h3 tcpdump -i eth0 -U -w - | tcpdump -r -`",
  });
});

/** Two hosts across two switches: a ping from h1 to h2 crosses link sw1-sw2. */
const ACROSS = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    sw2: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.0.1/24 }
    h2: { kind: host, address: 10.9.0.2/24 }
  links:
    - endpoints: [sw1, sw2]
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw2]
`;

Deno.test("vde capture LAB/LINK and LAB/HOST record that link's and that host's frames, at the switch port they are", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: ACROSS }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    // The link between the switches, at sw1's end (named first): the pings, each way.
    const link = await captureWhilePinging(
      name,
      [`${name}/sw1-sw2`, "--filter", "icmp"],
      `${dir}/link.pcapng`,
    );
    assert.match(link.said, /^5 frames captured, 0 dropped/m);
    assert.equal(link.read.length, 5, link.read.join("\n"));
    for (const row of link.read) assert.match(row, new RegExp(`^${name}/sw1 port 1\teth:ethertype:ip:icmp`));
    // Named the other way round, the same link at sw2's end.
    const back = await captureWhilePinging(
      name,
      [`${name}/sw2-sw1`, "--filter", "icmp"],
      `${dir}/back.pcapng`,
    );
    for (const row of back.read) assert.match(row, new RegExp(`^${name}/sw2 port 1\teth:ethertype:ip:icmp`));
    // Host h2 alone (its one interface), unfiltered: every frame is its switch port's, the pings among them.
    const host = await captureWhilePinging(name, [`${name}/h2`], `${dir}/host.pcapng`);
    assert.equal(host.read.length, 5, host.read.join("\n"));
    for (const row of host.read) assert.match(row, new RegExp(`^${name}/sw2 port 2\t`));
    assert.ok(host.read.some((row) => row.includes(":icmp")), host.read.join("\n"));
    // A --port of another port would capture something else under the link's name.
    const port = await vde(["capture", `${name}/h2`, "--port", "1", "-c", "1", "-w", "/dev/null"]);
    assert.equal(port.code, 1);
    assert.match(
      port.stderr,
      new RegExp(`^vde: ${name}/h2 is port 2 of ${name}/sw2: --port is for a switch`),
    );
  });
});

Deno.test("vde capture -d of a lab's link says what it records: the link and the switch port it is", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const out = `${file}.pcapng`;
    const r = await vde(["capture", `${name}/h1-sw1`, "-d", "-w", out]);
    assert.equal(r.code, 0, r.stderr);
    const pid = Number(/as pid (\d+)/.exec(r.stdout + r.stderr)?.[1]);
    try {
      assert.match(
        r.stdout + r.stderr,
        new RegExp(`^vde capture: ${name}/h1-sw1 \\(port 1 of ${name}/sw1\\) into `, "m"),
      );
    } finally {
      if (pid > 0) Deno.kill(pid, "SIGTERM");
    }
  });
});

Deno.test("vde term LAB/HOST, LAB/SLIRP or LAB/LINK says how to reach it: vde exec, the lab's nodes, its link command", () => {
  const nodes = [{ name: "sw1", kind: "switch" }, { name: "h1", kind: "host" }, {
    name: "nat",
    kind: "slirp",
  }];
  const said = (what: string) => labTermHint({ lab: "lab", what, nodes, links: RING });
  assert.equal(
    said("h1"),
    "lab/h1 is a host of lab lab, which has no console: a shell there is `vde exec lab h1`, " +
      "a command `vde term lab -c 'h1 ip -br addr'`",
  );
  assert.equal(
    said("nat"),
    "lab/nat is a slirp of lab lab, which has no console of its own: the lab's shows it, `vde term lab -c nodes`",
  );
  assert.equal(
    said("sw2-sw1"),
    "lab/sw2-sw1 is a link of lab lab: the lab's console changes it, `vde term lab -c 'link sw2-sw1 loss 5%'` " +
      "(`-c links` lists them)",
  );
  for (const what of ["sw1", "sw9", ""]) assert.equal(said(what), undefined, what);
});

Deno.test("vde term of a host several labs have names each lab's vde exec at once; of a link end, which lab", () => {
  assert.equal(
    severalTermLine({ what: "h1", labs: [{ lab: "a", kind: "host" }, { lab: "b", kind: "host" }] }),
    "h1 is a host of labs a, b, which has no console: a shell there is `vde exec a/h1` or `vde exec b/h1`",
  );
  assert.equal(
    severalTermLine({
      what: "h1:eth0",
      labs: [{ lab: "a", kind: "link end" }, { lab: "b", kind: "link end" }],
    }),
    "h1:eth0 is a link end of labs a, b: name one, a/h1:eth0 or b/h1:eth0",
  );
});

Deno.test("vde term of a running lab's host says vde exec, not that no socket is there", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const r = await vde(["term", `${name}/h2`, "-c", "ports"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^vde: ${name}/h2 is a host of lab ${name}, which has no console: .*\`vde exec ${name} h2\``,
      ),
    );
  });
});

/**
 * A host and switch named after this test process, as no other lab names them (another checkout's run of
 * this module at the same time included): one running lab has them, or the two this module brings up.
 */
const HBARE = `hb${Deno.pid.toString(36)}`;
const SWBARE = `sb${Deno.pid.toString(36)}`;

/** A lab whose host and switch have names no other test's lab gives, so one running lab has them. */
const BARE_NAMES = `name: x
topology:
  nodes:
    ${SWBARE}: { kind: switch, ports: 4 }
    ${HBARE}: { kind: host, address: 10.9.0.1/24 }
  links:
    - endpoints: [${HBARE}, ${SWBARE}]
`;

Deno.test("vde capture of a running lab's host or link named without its lab (as vde status prints it) captures it; vde term says how to reach it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: BARE_NAMES }, async (name, file) => {
    const dir = file.slice(0, file.lastIndexOf("/"));
    // The host asks for an address no one has: its ARP requests cross its port.
    const poke = { from: HBARE, to: "10.9.0.9", count: 1 };
    for (const what of [HBARE, `${HBARE}:eth0-${SWBARE}:1`, `${HBARE}:eth0`]) {
      const got = await captureWhilePinging(name, [what, "--filter", "arp"], `${dir}/bare.pcapng`, poke);
      assert.match(got.said, /^1 frame captured, 0 dropped/m, what);
      assert.match(
        got.read[0] ?? "",
        new RegExp(`^${name}/${SWBARE} port 1\teth:ethertype:arp$`),
        `${what}: ${got.read}`,
      );
    }
    const term = await vde(["term", HBARE, "-c", "ports"]);
    assert.match(
      term.stderr,
      new RegExp(`^vde: ${name}/${HBARE} is a host of lab ${name}, .*\`vde exec ${name} ${HBARE}\``),
    );
  });
});

Deno.test("vde capture and vde term of a host that two running labs have, named without its lab, say to name the lab, not one of them", async (t) => {
  if (skipUnlessRoot(t)) return;
  // BARE_NAMES brought up twice: two running labs have its host.
  await withLabUp({ text: BARE_NAMES }, async (a) => {
    await withLabUp({ text: BARE_NAMES }, async (b) => {
      const both = new RegExp(
        `^vde: ${HBARE} is a host of labs (${a}, ${b}|${b}, ${a}): name one, (${a}/${HBARE} or ${b}/${HBARE}|${b}/${HBARE} or ${a}/${HBARE})\n$`,
      );
      const capture = await vde(["capture", HBARE, "-c", "1", "-w", "/dev/null"]);
      assert.equal(capture.code, 1);
      assert.match(capture.stderr, both);
      // A host has no console: vde term names each lab's vde exec at once.
      const term = await vde(["term", HBARE, "-c", "ports"]);
      assert.equal(term.code, 1);
      assert.match(
        term.stderr,
        new RegExp(
          `^vde: ${HBARE} is a host of labs (${a}, ${b}|${b}, ${a}), which has no console: a shell there is ` +
            `(\`vde exec ${a}/${HBARE}\` or \`vde exec ${b}/${HBARE}\`|\`vde exec ${b}/${HBARE}\` or \`vde exec ${a}/${HBARE}\`)\n$`,
        ),
      );
      // One end of a link, as `vde status` writes it: said as that, not as a link.
      const end = await vde(["capture", `${HBARE}:eth0`, "-c", "1", "-w", "/dev/null"]);
      assert.equal(end.code, 1);
      assert.match(
        end.stderr,
        new RegExp(`^vde: ${HBARE}:eth0 is a link end of labs (${a}, ${b}|${b}, ${a}): name one`),
      );
    });
  });
});
