import assert from "node:assert/strict";
import { labCaptureHint, labTermHint, type LinkJson } from "../../src/cli/capture_lab_hint.ts";
import { TWO_HOSTS, vde, withLabUp } from "../lab/_helpers.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";

const RING: LinkJson[] = [
  { name: "sw1:1-sw2:1", a: { node: "sw1", port: 1 }, b: { node: "sw2", port: 1 } },
  { name: "h1:eth1-sw1:3", a: { node: "h1", iface: "eth1" }, b: { node: "sw1", port: 3 } },
  { name: "nat-sw3:3", a: { node: "nat" }, b: { node: "sw3", port: 3 } },
];

Deno.test("vde capture LAB/LINK, as vde status names the link or by its two nodes either way, says its switch port", () => {
  for (const what of ["sw1:1-sw2:1", "sw1-sw2", "sw2-sw1", "sw2:1-sw1:1"]) {
    assert.equal(
      labCaptureHint("lab", what, RING),
      `lab/${what} is a link of lab lab, not a switch: its frames are its switch port's, \`vde capture lab/sw1 --port 1\``,
    );
  }
  assert.match(labCaptureHint("lab", "h1-sw1", RING) ?? "", /`vde capture lab\/sw1 --port 3`$/);
});

Deno.test("vde capture LAB/HOST says the switch port the host is plugged into, and tcpdump inside it; a slirp its port", () => {
  assert.equal(
    labCaptureHint("lab", "h1", RING),
    "lab/h1 is a host of lab lab, not a switch: capture at the switch port it is plugged into, " +
      "`vde capture lab/sw1 --port 3`, or inside it `vde exec lab h1 tcpdump -i eth1`",
  );
  assert.match(
    labCaptureHint("lab", "nat", RING) ?? "",
    /is a node of lab lab, .*`vde capture lab\/sw3 --port 3`$/,
  );
  for (const what of ["sw9", "h2", "sw1-sw3", ""]) {
    assert.equal(labCaptureHint("lab", what, RING), undefined, what);
  }
});

Deno.test("vde capture of a running lab's host or link says which switch port to capture", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name) => {
    const host = await vde(["capture", `${name}/h2`, "-c", "1", "-w", "/dev/null"]);
    assert.equal(host.code, 1);
    assert.match(
      host.stderr,
      new RegExp(`^vde: ${name}/h2 is a host of lab ${name}, .*vde capture ${name}/sw1 --port 2`),
    );
    const link = await vde(["capture", `${name}/h1-sw1`, "-c", "1", "-w", "/dev/null"]);
    assert.match(
      link.stderr,
      new RegExp(`is a link of lab ${name}, .*vde capture ${name}/sw1 --port 1\`\\n$`),
    );
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

/** A lab whose host and switch have names no other test's lab gives, so one running lab has them. */
const BARE_NAMES = `name: x
topology:
  nodes:
    swbare: { kind: switch, ports: 4 }
    hbare: { kind: host, address: 10.9.0.1/24 }
  links:
    - endpoints: [hbare, swbare]
`;

Deno.test("vde capture and vde term of a running lab's host or link named without its lab (as vde status prints it) say how to reach it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: BARE_NAMES }, async (name) => {
    const host = await vde(["capture", "hbare", "-c", "1", "-w", "/dev/null"]);
    assert.equal(host.code, 1);
    assert.match(
      host.stderr,
      new RegExp(`^vde: ${name}/hbare is a host of lab ${name}, .*vde capture ${name}/swbare --port 1`),
    );
    const link = await vde(["capture", "hbare:eth0-swbare:1", "-c", "1", "-w", "/dev/null"]);
    assert.match(
      link.stderr,
      new RegExp(`is a link of lab ${name}, .*vde capture ${name}/swbare --port 1\`\\n$`),
    );
    const term = await vde(["term", "hbare", "-c", "ports"]);
    assert.match(
      term.stderr,
      new RegExp(`^vde: ${name}/hbare is a host of lab ${name}, .*\`vde exec ${name} hbare\``),
    );
  });
});

Deno.test("vde capture and vde term of a host that two running labs have, named without its lab, say to name the lab, not one of them", async (t) => {
  if (skipUnlessRoot(t)) return;
  // BARE_NAMES brought up twice: two running labs have its host.
  await withLabUp({ text: BARE_NAMES }, async (a) => {
    await withLabUp({ text: BARE_NAMES }, async (b) => {
      const both = new RegExp(
        `^vde: hbare is a host of labs (${a}, ${b}|${b}, ${a}): name one, as (${a}|${b})/hbare\n$`,
      );
      const capture = await vde(["capture", "hbare", "-c", "1", "-w", "/dev/null"]);
      assert.equal(capture.code, 1);
      assert.match(capture.stderr, both);
      const term = await vde(["term", "hbare", "-c", "ports"]);
      assert.equal(term.code, 1);
      assert.match(term.stderr, both);
    });
  });
});
