/**
 * A slirp left in VLAN 0 while every host is in a VLAN of its own is
 * warned of (the lab stays valid) with its link's `vlan` to give; a slirp
 * that shares a LAN with a host, by its VLAN or a trunk, is not.
 */
import assert from "node:assert/strict";
import { validateLab } from "../../src/lab/validate.ts";
import { slirpVlanWarnings } from "../../src/lab/slirp_vlan.ts";

/** A lab with the node lines and link lines given. */
function warnings(nodes: string[], links: string[]): string[] {
  const text = `name: t\ntopology:\n  nodes:\n${nodes.map((n) => `    ${n}\n`).join("")}  links:\n${
    links.map((l) => `    ${l}\n`).join("")
  }`;
  const { lab, errors } = validateLab(text);
  assert.deepEqual(errors, []);
  return slirpVlanWarnings(lab!);
}

const NODES = [
  "sw1: { kind: switch, vlans: [10, 20] }",
  "nat: { kind: slirp }",
  "h1: { kind: host, address: dhcp }",
  "h2: { kind: host, address: dhcp }",
];

Deno.test("a slirp in VLAN 0 with every host in VLAN 10 is warned of, with the link's vlan to give", () => {
  assert.deepEqual(
    warnings(NODES, [
      "- endpoints: [nat, sw1]",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 10 }",
    ]),
    ["slirp nat is in VLAN 0 (untagged) and reaches no host (h1, h2 in VLAN 10): give its link to sw1 `vlan: 10`"],
  );
});

Deno.test("hosts in several VLANs are each named, and the fix says to choose one", () => {
  assert.deepEqual(
    warnings(NODES, [
      "- { endpoints: [h2, sw1], vlan: 20 }",
      "- { endpoints: [nat, sw1] }",
      "- { endpoints: [h1, sw1], vlan: 10 }",
    ]),
    [
      "slirp nat is in VLAN 0 (untagged) and reaches no host (h1 in VLAN 10; h2 in VLAN 20): " +
      "give its link to sw1 `vlan: N` with the hosts' VLAN it is for",
    ],
  );
});

Deno.test("a slirp in the hosts' VLAN, or with a host in VLAN 0, or reaching them over a trunk, is no warning", () => {
  assert.deepEqual(
    warnings(NODES, [
      "- { endpoints: [nat, sw1], vlan: 10 }",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 20 }",
    ]),
    [],
  );
  assert.deepEqual(
    warnings(NODES, [
      "- endpoints: [nat, sw1]",
      "- endpoints: [h1, sw1]",
      "- { endpoints: [h2, sw1], vlan: 10 }",
    ]),
    [],
  );
  assert.deepEqual(
    warnings([...NODES, "sw2: { kind: switch, vlans: [10] }"], [
      "- { endpoints: [nat, sw2], vlan: 10 }",
      "- { endpoints: [sw1, sw2], trunk: [10] }",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 10 }",
    ]),
    [],
  );
});

const TWO = [...NODES, "sw2: { kind: switch, vlans: [10, 20] }"];

Deno.test("with several switches, the fix names only the VLANs the slirp's switch carries to the hosts", () => {
  // The trunk carries VLAN 10 to sw1, not 20: h2 stays out of the slirp's reach from sw2 whatever its vlan.
  assert.deepEqual(
    warnings(TWO, [
      "- endpoints: [nat, sw2]",
      "- { endpoints: [sw1, sw2], trunk: [10] }",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 20 }",
    ]),
    ["slirp nat is in VLAN 0 (untagged) and reaches no host (h1 in VLAN 10): give its link to sw2 `vlan: 10`"],
  );
  // A switch-to-switch link for VLAN 0 alone: VLAN 10 of sw2 would reach no host either, so it is not the fix.
  assert.deepEqual(
    warnings(TWO, [
      "- endpoints: [nat, sw2]",
      "- endpoints: [sw1, sw2]",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 10 }",
    ]),
    [
      "slirp nat is in VLAN 0 (untagged) and reaches no host (h1, h2 in VLAN 10), nor would it in a VLAN of sw2, " +
      "which carries none of theirs to them: link it to a host's switch with that link's `vlan`, " +
      "or carry the VLAN to sw2 on a `trunk`",
    ],
  );
});

Deno.test("a slirp in VLAN 0 with a cable on its LAN serves the far side's hosts, and is no warning", () => {
  assert.deepEqual(
    warnings([...NODES, 'wan: { kind: cable, connect: "127.0.0.1:5000", insecure: true }'], [
      "- endpoints: [nat, sw1]",
      "- endpoints: [wan, sw1]",
      "- { endpoints: [h1, sw1], vlan: 10 }",
      "- { endpoints: [h2, sw1], vlan: 10 }",
    ]),
    [],
  );
});
