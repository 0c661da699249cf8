/**
 * A lab file's variables, as containerlab expands its topology files: each
 * form's value, escapes, and a variable with neither value nor default
 * named at its line and column.
 */
import assert from "node:assert/strict";
import {
  expandVariables,
  hasVariables,
  MAX_NESTING,
  recordedLookup,
  variablesNotTaken,
} from "../../src/lab/variables.ts";
import { readLabText } from "../../src/lab/lab_text.ts";
import { formatErrors } from "../../src/lab/validate.ts";

const env = (vars: Record<string, string>) => recordedLookup(vars);

Deno.test("${VAR} is its value and ${VAR:=default} its default where it is unset or empty", () => {
  const text = "a: ${A}\nb: ${B:=7}\nc: ${C:=7}\nd: ${D:-x}";
  assert.equal(expandVariables(text, env({ A: "one", C: "", D: "dee" })).text, "a: one\nb: 7\nc: 7\nd: dee");
});

Deno.test("${VAR=default} takes the default only when unset; ${VAR:+other} is other when it is set", () => {
  const text = "${E=d} ${U=d} ${S:+on} ${U:+on}. ${E+set} ${E:+set}";
  assert.equal(expandVariables(text, env({ E: "", S: "x" })).text, " d on . set ");
});

Deno.test("a default may hold a variable; $${X} and $$X are a plain ${X} and $X; a bare $VAR (a shell's) and $$ stay as written", () => {
  const text = 'port: ${P:=${BASE:=18000}}\nexec: ["echo $HOME $${X} $$Y $$ $$1"] # $schema=x';
  assert.equal(
    expandVariables(text, env({ BASE: "19000" })).text,
    'port: 19000\nexec: ["echo $HOME ${X} $Y $$ $$1"] # $schema=x',
  );
});

Deno.test("the variables taken from the environment are recorded with their values; defaults are not", () => {
  const { used } = expandVariables("${A} ${B:=2} ${C:=3}", env({ A: "1", C: "" }));
  assert.deepEqual(used, { A: "1", C: "" });
});

Deno.test("a variable without value or default is named with its line and column, one line each", () => {
  const text = "name: lab\ntopology:\n  nodes: { sw1: { kind: switch, ports: ${PORTS} } }\nx: ${Y:=1} ${Z}";
  const { errors } = readLabText(text, { lookup: env({}) });
  assert.deepEqual(formatErrors("lab.yaml", errors), [
    "lab.yaml:3:40: variable PORTS is not set (set it, or give a default: ${PORTS:=VALUE})",
    "lab.yaml:4:12: variable Z is not set (set it, or give a default: ${Z:=VALUE})",
  ]);
});

Deno.test("an unclosed ${ and one that holds no name are mistakes that say how to write a plain ${", () => {
  const { errors } = expandVariables("a: ${A\nb: ${1x}\nc: ${A:?x}", env({ A: "1" }));
  assert.deepEqual(errors.map((e) => `${e.line}:${e.col}`), ["1:4", "2:4", "3:4"]);
  assert.match(errors[0]!.message, /without its `}` on its line: write `\$\$\{`/);
  assert.match(errors[1]!.message, /is no variable/);
  assert.match(errors[2]!.message, /a default as `\$\{A:=VALUE\}`/);
});

Deno.test("the file is read as the lab its variables make, its name given by --name over the file's", () => {
  const text =
    "name: ${LAB:=demo}\ntopology:\n  nodes:\n    sw1: { kind: switch, ports: ${PORTS:=8} }\n  links: []\n";
  const plain = readLabText(text, { lookup: env({}) });
  assert.equal(plain.lab?.name, "demo");
  const sw = plain.lab?.nodes[0];
  assert.ok(sw?.kind === "switch" && sw.ports === 8);
  assert.equal(readLabText(text, { lookup: env({ LAB: "s1" }) }).lab?.name, "s1");
  assert.equal(readLabText(text, { lookup: env({ LAB: "s1" }), name: "s2" }).lab?.name, "s2");
  const bad = readLabText(text, { lookup: env({}), name: "no/slash" });
  assert.match(formatErrors("f", bad.errors)[0]!, /^f:1:7: lab name \(--name\) "no\/slash" may hold only/);
});

Deno.test("hasVariables finds a ${ to expand, not an escaped $${ nor a shell's $VAR", () => {
  assert.equal(hasVariables("a: ${A}"), true);
  assert.equal(hasVariables("${A}"), true);
  assert.equal(hasVariables("a: $${A} $B"), false);
});

Deno.test("defaults nested past MAX_NESTING are one mistake at their line and column, not a stack overflow", () => {
  let deep = "x";
  for (let i = 0; i < 100_000; i++) deep = `\${A:=${deep}}`;
  const { errors } = expandVariables(`a: 1\nb: ${deep}`, env({}));
  assert.deepEqual(errors.map((e) => `${e.line}:${e.col}`), [`2:${4 + 5 * MAX_NESTING}`]);
  assert.match(errors[0]!.message, /nested more than 32 deep/);
  let fits = "x";
  for (let i = 0; i < MAX_NESTING; i++) fits = `\${A:=${fits}}`;
  const { text, errors: none } = expandVariables(fits, env({}));
  assert.deepEqual({ text, none }, { text: "x", none: [] });
});

Deno.test("an unclosed ${ is one mistake for its line, whose rest stays as written; the next line is expanded", () => {
  const { text, errors } = expandVariables("a: ${ ${B} ${ ${\nc: ${B}", env({ B: "b" }));
  assert.deepEqual(errors.map((e) => `${e.line}:${e.col}`), ["1:4"]);
  assert.equal(text, "a: ${ ${B} ${ ${\nc: b");
  // 200 000 of them on one line: one scan of it, not one per ${ (which took minutes).
  assert.equal(expandVariables("${".repeat(200_000), env({})).errors.length, 1);
});

Deno.test("a variable named as an Object property (constructor, __proto__) is a variable like any other", () => {
  const { text, used } = expandVariables(
    "${constructor:=c} ${__proto__} ${toString:+t}",
    env({ ["__proto__"]: "p" }),
  );
  assert.equal(text, "c p ");
  assert.deepEqual(Object.entries(used), [["__proto__", "p"]]);
  // What a running lab recorded, read back from its state.json: only what it recorded is set.
  const had = recordedLookup(JSON.parse(JSON.stringify(used)));
  assert.equal(had("__proto__"), "p");
  assert.equal(had("constructor"), undefined);
  assert.equal(expandVariables("${toString:=t} ${hasOwnProperty:-h}", had).text, "t h");
});

Deno.test("variablesNotTaken names what this shell sets otherwise than the running lab recorded, and what the lab keeps", () => {
  const here =
    expandVariables("${PORT:=1} ${PORTS:=4} ${LAB:=x} ${SAME}", env({ PORT: "9", PORTS: "", SAME: "s" }))
      .used;
  assert.deepEqual(variablesNotTaken(here, { PORT: "7", SAME: "s", PORTS: "6" }), [
    { name: "PORT", here: "9", kept: "7" },
    { name: "PORTS", here: "", kept: "6" },
  ]);
  assert.deepEqual(variablesNotTaken({ PORT: "9" }, {}), [{ name: "PORT", here: "9", kept: undefined }]);
  assert.deepEqual(
    variablesNotTaken({}, { PORT: "7" }),
    [],
    "one this shell does not set is the lab's to keep",
  );
});

Deno.test("a mistake in the expanded file is said at its line and column in the file, however long the values before it", () => {
  const text = "name: ${LAB:=a-long-lab-name}\ntopology:\n  nodes:\n" +
    '    s${W:=w}1:\n      kind: switch\n      rc: "${RC}"\n      ports: x\n' +
    "    sw2: { kind: switch, ports: ${Y:=y} }\n";
  // RC's value holds a line break (a double-quoted YAML string may): the lines after it are one further down.
  const { errors } = readLabText(text, { lookup: env({ RC: "first\n        second" }) });
  const lines = text.split("\n");
  assert.deepEqual(errors.map((e) => `${e.line}:${e.col}`), [
    `7:${lines[6]!.indexOf("x") + 1}`,
    `8:${lines[7]!.indexOf("${Y") + 1}`,
  ]);
});
