import assert from "node:assert/strict";
import { labToYaml } from "../../src/lab/to_yaml.ts";
import { validateLab } from "../../src/lab/validate.ts";
import { readLabText } from "../../src/lab/lab_text.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("labToYaml writes a lab that validates back to the same lab", () => {
  for (const e of Deno.readDirSync(`${ROOT}examples`)) {
    // Read as vde up reads it: class.yaml's PORT with its default.
    const { lab } = readLabText(Deno.readTextFileSync(`${ROOT}examples/${e.name}`), {
      stp: true,
      lookup: () => undefined,
    });
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

Deno.test("labToYaml writes a switch's modes as their octal digits and its group and priority, which validate back the same", () => {
  const { lab } = validateLab(
    "name: t\ntopology:\n  nodes:\n    s: { kind: switch, stp: true, priority: 4096, mode: 0660, group: root, mgmt_mode: 640 }\n",
    { stp: true },
  );
  const text = labToYaml(lab!);
  assert.match(text, /priority: 4096,\s+mode: 660,\s+group: root,\s+mgmt_mode: 640\s/);
  assert.deepEqual(validateLab(text, { stp: true }).lab, lab);
});

Deno.test("labToYaml writes a node with many settings on one line, past 80 columns", () => {
  const { lab } = validateLab(`name: t
topology:
  nodes:
    s: { kind: switch }
    h1: { kind: host, address: 10.0.2.10/24, gateway: 10.0.2.2, exec: ["ip -br addr", "ip route"] }
  links:
    - endpoints: [h1, s]
`);
  assert.ok(lab);
  const text = labToYaml(lab);
  const line = text.split("\n").find((l) => l.startsWith("    h1: {"));
  assert.ok(line?.endsWith("}"), text);
  assert.deepEqual(validateLab(text).lab, lab);
});
