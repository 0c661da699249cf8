/**
 * A running lab's switch by name where a command takes a switch's path:
 * `vde capture wan/site1`, `vde term site1`, as a lab user knows them.
 */
import assert from "node:assert/strict";
import { vde, withLabUp } from "./_helpers.ts";
import { matchLabSwitch } from "../../src/lab/switch_paths.ts";

/** A switch name no other test's lab uses, so the bare name is this test's alone. */
const SWITCH = `s${Deno.pid.toString(36)}`;

const LAB = `name: x
topology:
  nodes:
    ${SWITCH}: { kind: switch, ports: 4 }
  links: []
`;

Deno.test("vde term and vde capture take a running lab's switch as SWITCH or LAB/SWITCH", async () => {
  await withLabUp({ text: LAB }, async (name) => {
    for (const target of [SWITCH, `${name}/${SWITCH}`]) {
      const term = await vde(["term", target, "-c", "port/print"]);
      assert.equal(term.code, 0, term.stderr);
      const file = await Deno.makeTempFile({ suffix: ".pcapng" });
      try {
        // Nothing crosses the switch: the capture runs until the timeout, its file begun.
        const capture = await vde(["capture", target, "-c", "1", "-w", file], 5_000);
        assert.doesNotMatch(capture.stderr, /no such switch/, target);
        const head = (await Deno.readFile(file)).subarray(0, 4);
        assert.deepEqual([...head], [0x0a, 0x0d, 0x0d, 0x0a], `${target}: a pcapng section header`);
      } finally {
        await Deno.remove(file);
      }
    }
  });
});

Deno.test("a lab switch name that finds none is answered with the near one, or the lab switches there are", async () => {
  await withLabUp({ text: LAB }, async (name) => {
    const typo = await vde(["capture", `${name}/${SWITCH}x`, "-w", "/dev/null"]);
    assert.equal(typo.code, 1);
    assert.match(
      typo.stderr,
      new RegExp(
        `^vde: ${name}/${SWITCH}x: no such switch directory or management socket \\(did you mean ${name}/${SWITCH}[,?]`,
      ),
    );
    const term = await vde(["term", `${name}/${SWITCH}x`, "-c", "port/print"]);
    assert.equal(term.code, 1);
    assert.match(term.stderr, new RegExp(`\\(did you mean ${name}/${SWITCH}[,?]`));
  });
});

Deno.test("a switch name that two running labs have asks which lab's", async () => {
  await withLabUp({ text: LAB }, async (first) => {
    await withLabUp({ text: LAB }, async (second) => {
      const r = await vde(["capture", SWITCH, "-w", "/dev/null"]);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `vde: ${SWITCH}: no such switch directory or management socket ` +
          `(a switch of labs ${[first, second].sort().join(", ")}: name one, as ${
            [first, second].sort()[0]
          }/${SWITCH})\n`,
      );
    });
  });
});

Deno.test("a switch name with no lab up is told apart from a path, for vde capture to say no lab is up", () => {
  for (const name of ["sw1", "demo/sw1"]) {
    assert.deepEqual(matchLabSwitch(name, []), { why: "", noLabUp: true }, name);
  }
  for (const name of ["/tmp/net", "./net", "tmp/net/x"]) {
    assert.deepEqual(matchLabSwitch(name, []), { why: "", noLabUp: false }, name);
  }
  const up = [{ lab: "wan", node: "site1", dir: "/run/vde/wan/site1" }];
  assert.equal(matchLabSwitch("site1", up).found, up[0]);
});
