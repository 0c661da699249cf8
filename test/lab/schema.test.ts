import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { parse, stringify } from "yaml";
import { validateLab } from "../../src/lab/validate.ts";
import { readLabText } from "../../src/lab/lab_text.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function examples(): string[] {
  return [...Deno.readDirSync(`${ROOT}examples`)].filter((e) => e.name.endsWith(".yaml")).map((e) => e.name)
    .sort();
}

function schemaValidator() {
  const schema = JSON.parse(Deno.readTextFileSync(`${ROOT}schema/lab.schema.json`));
  return new Ajv({ allErrors: true }).compile(schema);
}

Deno.test("every example lab passes the shipped JSON Schema and vde's own validation", () => {
  const check = schemaValidator();
  assert.ok(examples().length >= 3);
  for (const name of examples()) {
    const text = Deno.readTextFileSync(`${ROOT}examples/${name}`);
    assert.ok(check(parse(text)), `${name}: ${JSON.stringify(check.errors)}`);
    assert.deepEqual(readLabText(text, { stp: true, lookup: () => undefined }).errors, [], name);
    assert.match(text, /^# yaml-language-server: \$schema=\.\.\/schema\/lab\.schema\.json$/m, name);
  }
});

Deno.test("the JSON Schema refuses what validation refuses: unknown keys, kinds and link settings", () => {
  const check = schemaValidator();
  const base = { name: "x", topology: { nodes: { s: { kind: "switch" }, h: { kind: "host" } }, links: [] } };
  assert.ok(check(base));
  assert.ok(!check({ ...base, extra: 1 }));
  assert.ok(!check({ name: "x", topology: { nodes: { s: { kind: "swich" } } } }));
  assert.ok(!check({ name: "x", topology: { nodes: { s: { kind: "switch", prots: 3 } } } }));
  assert.ok(!check({ ...base, topology: { ...base.topology, links: [{ endpoints: ["s"] }] } }));
  assert.ok(
    !check({ ...base, topology: { ...base.topology, links: [{ endpoints: ["s", "h"], loss: "lots" }] } }),
  );
  assert.ok(
    check({ ...base, topology: { ...base.topology, links: [{ endpoints: ["s:3", "h"], loss: "2%" }] } }),
  );
  const cable = (c: Record<string, unknown>) =>
    check({ name: "x", topology: { nodes: { c: { kind: "cable", listen: 7000, ...c } } } });
  assert.ok(cable({ key: "lab.key" }));
  assert.ok(cable({ insecure: true }));
  assert.ok(!cable({}), "a cable without a key must say insecure");
  assert.ok(!cable({ key: "lab.key", insecure: true }));
});

Deno.test("the JSON Schema takes containerlab's extended endpoints ({ node, interface }) as validation does, and nothing else in them", () => {
  const check = schemaValidator();
  const lab = (ends: unknown[]) => ({
    name: "x",
    topology: { nodes: { s: { kind: "switch" }, h: { kind: "host" } }, links: [{ endpoints: ends }] },
  });
  const good = [{ node: "h", interface: "eth0" }, { node: "s", interface: 2 }];
  assert.ok(check(lab(good)), JSON.stringify(check.errors));
  assert.deepEqual(validateLab(stringify(lab(good))).errors, []);
  assert.ok(check(lab([{ node: "h" }, "s"])));
  assert.ok(!check(lab([{ node: "h", mac: "x" }, "s"])));
  assert.ok(!check(lab([{ interface: "eth0" }, "s"])));
});

Deno.test("the JSON Schema and validation agree on a cable's key and insecure: a key with insecure: false is fine", () => {
  const check = schemaValidator();
  const cases: [Record<string, unknown>, boolean][] = [
    [{ key: "lab.key" }, true],
    [{ insecure: true }, true],
    [{ key: "lab.key", insecure: false }, true],
    [{}, false],
    [{ insecure: false }, false],
    [{ key: "lab.key", insecure: true }, false],
    [{ key: "lab.key", insecure: "no" }, false],
  ];
  for (const [fields, ok] of cases) {
    const doc = { name: "x", topology: { nodes: { c: { kind: "cable", listen: 7000, ...fields } } } };
    assert.equal(check(doc), ok, `schema: ${JSON.stringify(fields)}`);
    assert.equal(
      validateLab(stringify(doc)).errors.length === 0,
      ok,
      `validation: ${JSON.stringify(fields)}`,
    );
  }
});

Deno.test("the README's lab example is a valid lab file", () => {
  const readme = Deno.readTextFileSync(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("### Labs:"));
  const text = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(text, "a yaml block in the Labs section");
  assert.deepEqual(validateLab(text).errors, []);
  assert.ok(schemaValidator()(parse(text)));
});

Deno.test("the JSON Schema and validation agree on a host's MTU: a tap's largest, 65521", () => {
  const check = schemaValidator();
  for (const [mtu, ok] of [[65521, true], [65522, false], [68, true], [67, false]] as const) {
    const lab = { name: "x", topology: { nodes: { h: { kind: "host", mtu } }, links: [] } };
    assert.equal(check(lab), ok, `schema, mtu ${mtu}`);
    assert.equal(
      validateLab(stringify(lab), { stp: true }).errors.length === 0,
      ok,
      `validation, mtu ${mtu}`,
    );
  }
});

Deno.test("the JSON Schema takes a variable for any value (a name, a port, a number, a switch's hub) and still refuses a misspelled key", () => {
  const check = schemaValidator();
  const lab = {
    name: "${LAB:=class}",
    topology: {
      nodes: {
        sw1: { kind: "switch", ports: "${PORTS:=8}", hub: "${HUB:=false}" },
        nat: { kind: "slirp", forwards: ["tcp:${PORT:=18080}:10.0.2.15:80"], mtu: "${MTU}" },
      },
      links: [{ endpoints: ["nat", "sw1"], loss: "${LOSS:=0}", vlan: "${VLAN:=10}" }],
    },
  };
  assert.ok(check(lab), JSON.stringify(check.errors));
  assert.ok(
    !check({ ...lab, topology: { ...lab.topology, nodes: { sw1: { kind: "switch", prots: "${P}" } } } }),
  );
  assert.ok(!check({ ...lab, name: "${LAB" }), "an unclosed ${ is no variable");
});

Deno.test("the JSON Schema takes a switch's priority, mode, group and mgmt_mode, and refuses a priority off its steps", () => {
  const check = schemaValidator();
  const sw = (s: Record<string, unknown>) => ({
    name: "x",
    topology: { nodes: { s: { kind: "switch", ...s } } },
  });
  assert.ok(check(sw({ stp: true, priority: 4096, mode: 660, group: "students", mgmt_mode: "0660" })));
  assert.ok(!check(sw({ stp: true, priority: 1000 })));
  assert.ok(!check(sw({ mode: "rw-rw----" })));
  assert.ok(!check(sw({ mode: 4660 })), "no setuid, setgid or sticky bit, as validate.ts refuses them");
  assert.ok(!check(sw({ mgmt_mode: "07777" })));
  assert.ok(check(sw({ mode: "0o777" })));
});
