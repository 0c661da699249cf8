/**
 * `vde graph`: the example labs as Graphviz DOT, accepted by Debian's dot.
 */
import assert from "node:assert/strict";
import { validateLab } from "../../src/lab/validate.ts";
import { readLabText } from "../../src/lab/lab_text.ts";
import { labDot } from "../../src/web/lab_dot.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";

function exampleDot(file: string): string {
  // As vde up reads it: class.yaml's PORT with its default.
  const text = Deno.readTextFileSync(`${REPO_ROOT}/examples/${file}`);
  const { lab, errors } = readLabText(text, { stp: true, lookup: () => undefined });
  assert.ok(lab, JSON.stringify(errors));
  return labDot(lab);
}

Deno.test("vde graph: a lab's link carries its impairments and its switch ports", () => {
  const dot = exampleDot("lossy-wan.yaml");
  assert.match(dot, /"site1" -- "site2" \[label="20 ms \+-5 ms, 10% loss, 10 Mbit\/s", taillabel="1"/);
  assert.match(dot, /"h1" \[shape=ellipse, label="h1\\nhost 192\.168\.50\.1\/24"\]/);
});

Deno.test("vde graph: a link's jitter without a delay, and its limit, are in its label", () => {
  const text = "name: j\ntopology:\n  nodes:\n    a: { kind: switch }\n    b: { kind: switch }\n" +
    "  links:\n    - { endpoints: [a, b], jitter: 5ms, limit: 20 }\n";
  const { lab, errors } = validateLab(text);
  assert.ok(lab, JSON.stringify(errors));
  assert.match(labDot(lab), /"a" -- "b" \[label="\+-5 ms jitter, limit 20"/);
});

Deno.test("vde graph: dot -Tsvg accepts every example lab", async (t) => {
  if (skipUnless(t, (await hasCommand("dot")) ? null : "dot missing (Debian graphviz)")) return;
  const files = [...Deno.readDirSync(`${REPO_ROOT}/examples`)].map((e) => e.name).filter((n) =>
    n.endsWith(".yaml")
  );
  assert.ok(files.length > 0);
  for (const file of files) {
    const svg = await run(["dot", "-Tsvg"], { input: exampleDot(file) });
    assert.equal(svg.stderr, "", file);
    assert.match(svg.stdout, /<svg/, file);
  }
});
