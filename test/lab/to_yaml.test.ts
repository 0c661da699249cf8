import assert from "node:assert/strict";
import { labToYaml, saveInto } from "../../src/lab/to_yaml.ts";
import { validateLab } from "../../src/lab/validate.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("labToYaml writes a lab that validates back to the same lab", () => {
  for (const e of Deno.readDirSync(`${ROOT}examples`)) {
    const { lab } = validateLab(Deno.readTextFileSync(`${ROOT}examples/${e.name}`), { stp: true });
    assert.ok(lab, e.name);
    const text = labToYaml(lab);
    assert.deepEqual(validateLab(text, { stp: true }).lab, lab, `${e.name}:\n${text}`);
  }
});

Deno.test("labToYaml writes nodes and endpoints on one line each", () => {
  const { lab } = validateLab(
    "name: t\ntopology:\n  nodes: { s: { kind: switch, ports: 4 }, h: { kind: host } }\n  links:\n    - endpoints: [h, s]\n",
  );
  const text = labToYaml(lab!);
  assert.match(text, /^ {4}s: \{ kind: switch, ports: 4 \}$/m);
  assert.match(text, /^ {4}- endpoints: \[ h:eth0, s:1 \]$/m);
});

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
  assert.match(saved, /endpoints: \[ s2:1, s:2 \]/);
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x));
  assert.deepEqual(plain(validateLab(saved).lab), plain(lab));
});
