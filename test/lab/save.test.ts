/**
 * `save` over the lab file: the running lab written into the file's own
 * text, its comments kept, what was removed live gone from it, and a file
 * that brings up what ran.
 */
import assert from "node:assert/strict";
import { saveInto } from "../../src/lab/save.ts";
import { validateLab } from "../../src/lab/validate.ts";

const plain = (x: unknown) => JSON.parse(JSON.stringify(x));

Deno.test("saveInto keeps the file's comments, updates changed links and appends new nodes and links", () => {
  const original = `# my lab
name: t
topology:
  nodes:
    s: { kind: switch, ports: 4 } # the core
    h: { kind: host }
  links:
    # the only link
    - endpoints: [h, s]
      loss: 5%
`;
  const { lab } = validateLab(original);
  assert.ok(lab);
  lab.links[0]!.impair = { delay: 10 };
  lab.nodes.push({ kind: "switch", name: "s2", ports: 8, hub: false, stp: false, vlans: [] });
  lab.links.push({ ends: [{ node: "s2", port: 1 }, { node: "s", port: 2 }], impair: {}, trunk: [] });
  const saved = saveInto(original, lab);
  assert.match(saved, /^# my lab$/m);
  assert.match(saved, /# the core/);
  assert.match(saved, /# the only link/);
  assert.doesNotMatch(saved, /loss/);
  assert.match(saved, /delay: 10ms/);
  assert.match(saved, /s2: \{ kind: switch, ports: 8 \}/);
  // In the file's own style: yaml alone would write every list \`[ h, s ]\`, the file's untouched lines too.
  assert.match(saved, /endpoints: \[s2:1, s:2\]/);
  assert.match(saved, /endpoints: \[h, s\]/);
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
  assert.deepEqual(plain(validateLab(saved).lab), plain(lab));
});

const THREE = `# three switches
name: t
topology:
  nodes:
    sw1: { kind: switch, ports: 4 } # the core
    sw2: { kind: switch, ports: 4 }
    sw3: { kind: switch, ports: 4 }
  links:
    # slow
    - endpoints: [sw1, sw2]
      delay: 5ms
    # lossy
    - endpoints: [sw1, sw2]
      loss: 1%
    - endpoints: [sw2, sw3]
`;

Deno.test("saveInto after del drops the removed node and links from the file, keeping the other links' settings and the comments", () => {
  const { lab } = validateLab(THREE);
  assert.ok(lab);
  // del of the first sw1-sw2 link, and of sw3 with its link; a VLAN set on the link that stays.
  lab.links.splice(0, 1);
  lab.links.pop();
  lab.nodes.pop();
  lab.links[0]!.vlan = 7;
  const saved = saveInto(THREE, lab);
  assert.match(saved, /# the core/);
  assert.match(saved, /# lossy/);
  assert.doesNotMatch(saved, /delay|sw3/);
  assert.match(saved, /loss: 1%\n\s+vlan: 7\n/);
  const again = validateLab(saved).lab!;
  assert.deepEqual(again.nodes.map((n) => n.name), ["sw1", "sw2"]);
  assert.deepEqual(again.links.map((l) => [l.impair, l.vlan]), [[{ loss: 1 }, 7]]);
});

Deno.test("saveInto writes the lab anew where a host lost the address of a link removed live: the file must come up", () => {
  const text = `name: t
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.0.0.1/24 }
  links:
    - endpoints: [h1, sw1]
`;
  const { lab } = validateLab(text);
  assert.ok(lab);
  lab.links.pop();
  const h1 = lab.nodes[1]!;
  if (h1.kind === "host") delete h1.addresses.eth0;
  const saved = saveInto(text, lab);
  const { lab: again, errors } = validateLab(saved);
  assert.deepEqual(errors, []);
  assert.deepEqual(plain(again), plain(lab));
});

Deno.test("saveInto keeps the file's flow lists as it writes them, [a, b] or [ a, b ], and a string that looks like one as it is", () => {
  const original = `name: t
topology:
  nodes:
    s: { kind: switch, vlans: [10, 20] }
    h: { kind: host, address: 10.0.0.1/24, exec: ["echo x: [ a ]"] }
  links:
    - endpoints: [h, s]
      vlan: 10
`;
  const { lab } = validateLab(original);
  assert.ok(lab);
  lab.links[0]!.impair = { delay: 10 };
  const saved = saveInto(original, lab);
  assert.equal(saved, original.replace("vlan: 10\n", "vlan: 10\n      delay: 10ms\n"));
  const padded = original.replace("[10, 20]", "[ 10, 20 ]").replace("[h, s]", "[ h, s ]")
    .replace('["echo x: [ a ]"]', '[ "echo x: [ a ]" ]');
  assert.equal(saveInto(padded, lab), padded.replace("vlan: 10\n", "vlan: 10\n      delay: 10ms\n"));
});

Deno.test("saveInto writes a link's limit set live, and the file brings it back", () => {
  const original = "name: t\ntopology:\n  nodes:\n    a: { kind: switch }\n    b: { kind: switch }\n" +
    "  links:\n    - endpoints: [a, b]\n      rate: 1mbit\n";
  const { lab } = validateLab(original);
  assert.ok(lab);
  lab.links[0]!.impair = { rate: 125_000, limit: 100 };
  const saved = saveInto(original, lab);
  assert.match(saved, /limit: 100/);
  assert.deepEqual(plain(validateLab(saved).lab), plain(lab));
});

Deno.test("saveInto leaves a node's { ... } longer than 80 columns on its one line, as the file wrote it", () => {
  const h1 =
    `    h1: { kind: host, address: 10.0.2.10/24, gateway: 10.0.2.2, exec: ["ip -br addr", "ip route"] }`;
  const original = `name: t
topology:
  nodes:
    s: { kind: switch }
${h1}
  links:
    - endpoints: [h1, s]
`;
  const { lab } = validateLab(original);
  assert.ok(lab);
  lab.links[0]!.impair = { loss: 5 };
  const saved = saveInto(original, lab);
  assert.ok(saved.split("\n").includes(h1), saved);
  assert.match(saved, /^ {6}loss: 5%$/m);
});
