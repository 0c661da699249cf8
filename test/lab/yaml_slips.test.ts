/**
 * A lab file's flow-style slips (README's nodes are `{ kind: host, ... }`):
 * a comma left out, or the space after a colon, are said in words with what
 * to write, where the parser or the key check named only a symptom.
 */
import assert from "node:assert/strict";
import { formatErrors, validateLab } from "../../src/lab/validate.ts";

function errorsOf(text: string): string[] {
  return formatErrors("lab.yaml", validateLab(text).errors);
}

/** A two-node lab with `h1`'s node line and the link's extra lines given. */
function lab(h1: string, sw1 = "{ kind: switch }", linkExtra = ""): string {
  return `name: y
topology:
  nodes:
    sw1: ${sw1}
    h1: ${h1}
  links:
    - endpoints: [h1, sw1]
${linkExtra}`;
}

Deno.test("a comma left out between two key: value in { } is said so, not only as the parser's block-in-flow", () => {
  const errors = errorsOf(lab("{ kind: host address: 10.0.0.1/24 }"));
  assert.deepEqual(errors, [
    "lab.yaml:5:17: not YAML: Block collections are not allowed within flow collections: a `,` missing before " +
    "it? inside { } and [ ], items are separated by commas: { kind: host, address: ... } " +
    "(expected YAML with `name` and `topology`)",
  ]);
});

Deno.test("a key joined to its value with no space after the colon names the key: value meant", () => {
  assert.deepEqual(errorsOf(lab("{ kind: host, address:10.0.0.1/24 }")), [
    'lab.yaml:5:23: unknown key "address:10.0.0.1/24" in node h1 (host): a space is missing after the colon ' +
    "(`address: 10.0.0.1/24`)",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: host }", "{ kind:switch }")), [
    "lab.yaml:4:5: node sw1 has no `kind`: a space is missing after the colon (`kind: switch`)",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: host }", "\n      kind:switch")), [
    "lab.yaml:5:7: node sw1 must be a mapping with a `kind`: a space is missing after the colon (`kind: switch`)",
  ]);
  // On a line of its own in a block mapping, the parser finds a key without a value.
  const [line, ...rest] = errorsOf(lab("{ kind: host }", undefined, "      delay:5ms\n"));
  assert.deepEqual(rest, []);
  assert.match(
    line!,
    /^lab\.yaml:8:7: not YAML: Implicit map keys need to be followed by map values: each line/,
  );
  assert.match(line!, /\(`delay: 5ms`, not `delay:5ms`\)/);
});

Deno.test("a word with a colon that is no known key, and a node with no kind at all, keep their answers", () => {
  assert.deepEqual(errorsOf(lab("{ kind: host, frob:1 }")), [
    'lab.yaml:5:23: unknown key "frob:1" in node h1 (host) (known: kind, address, gateway, routes, exec, ' +
    "interfaces, mtu)",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: host }", "{ ports: 4 }")), [
    "lab.yaml:4:5: node sw1 has no `kind` (one of switch, slirp, host, cable)",
  ]);
});

Deno.test("a second value after a comma in { } is said as the list it continues, once, in brackets", () => {
  assert.deepEqual(errorsOf(lab("{ kind: host, address: 10.0.0.1/24, fd00::1/64 }")), [
    'lab.yaml:5:45: unknown key "fd00::1/64" in node h1 (host): a second value after a comma is a key of its own; ' +
    "a list is written in brackets: address: [10.0.0.1/24, fd00::1/64]",
  ]);
  assert.deepEqual(errorsOf(lab("{ kind: host }", "{ kind: switch, vlans: 10, 20, 30, ports: 8 }")), [
    'lab.yaml:4:37: unknown key "20" in node sw1 (switch): a second value after a comma is a key of its own; ' +
    "a list is written in brackets: vlans: [10, 20, 30]",
  ]);
  // A word that is no value keeps the usual answer.
  assert.match(
    errorsOf(lab("{ kind: host, address: 10.0.0.1/24, frob }"))[0]!,
    /unknown key "frob" .*\(known: /,
  );
});

Deno.test("a key joined to its value before the next key is said so; a flow sequence's garbage gets the parser's line alone", () => {
  const [line] = errorsOf(
    "name: y\ntopology:\n  nodes:\n    sw1:\n      kind:switch\n      ports: 4\n  links: []\n",
  );
  assert.match(
    line!,
    /^lab\.yaml:\d+:\d+: not YAML: Implicit keys need to be on a single line: each line of a mapping/,
  );
  // The colon itself left out: said so, with the line as meant.
  assert.match(
    errorsOf("name: y\ntopology:\n  nodes:\n    sw1:\n      kind switch\n      ports: 4\n  links: []\n")[0]!,
    /^lab\.yaml:5:7: not YAML: Implicit keys need to be on a single line: each line of a mapping is `key: value`, and this one has no colon \(`kind: switch`\) \(expected/,
  );
  assert.deepEqual(errorsOf('hello: [\n  - x: {\n\t"a\n'), [
    "lab.yaml:2:3: not YAML: Implicit keys of flow sequence pairs need to be on a single line " +
    "(expected YAML with `name` and `topology`)",
  ]);
});

Deno.test("a long key of colons (a:a:a:...) in { } is read in linear time, not minutes", () => {
  const started = performance.now();
  const errors = errorsOf(lab(`{ kind: host, ${"a:".repeat(200_000)}! }`));
  assert.match(errors[0]!, /^lab\.yaml:5:\d+: unknown key "a:a:a:/);
  assert.ok(performance.now() - started < 5_000, `${performance.now() - started} ms`);
});

Deno.test("a long run of blanks in a value or a line is read in linear time, not minutes", () => {
  const blanks = " ".repeat(300_000);
  let started = performance.now();
  const [vlans] = errorsOf(lab("{ kind: host }", `{ kind: switch, vlans: "1${blanks}x" }`));
  assert.match(vlans!, /vlans must be whole numbers/);
  assert.ok(performance.now() - started < 5_000, `vlans: ${performance.now() - started} ms`);
  started = performance.now();
  const [line] = errorsOf(
    `name: y\ntopology:\n  nodes:\n    sw1:\n      kind x${blanks}y:z\n      ports: 4\n`,
  );
  assert.match(line!, /^lab\.yaml:5:7: not YAML: Implicit keys need to be on a single line/);
  assert.ok(performance.now() - started < 5_000, `line: ${performance.now() - started} ms`);
});
