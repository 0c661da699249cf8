/**
 * What `vde up` says while it builds a lab: a host's `exec` commands are
 * often there to be read (`exec: ["ip -br addr"]`), so each is logged with
 * what it printed.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { labsBaseDir } from "../../src/lab/names.ts";
import { withLabUp } from "./_helpers.ts";

const EXEC_LAB = `name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 4 }
    h1: { kind: host, address: 10.9.1.1/24, exec: ["echo first line; echo second line", "true"] }
  links:
    - endpoints: [h1, sw1]
`;

Deno.test("vde up logs each exec command of a host with the lines it printed", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: EXEC_LAB }, async (name) => {
    const log = await Deno.readTextFile(`${labsBaseDir()}/${name}.log`);
    const lines = log.split("\n").map((l) => l.replace(/^\S+ vde up: /, "")).filter((l) =>
      l.startsWith("h1")
    );
    assert.deepEqual(lines, [
      "h1$ echo first line; echo second line",
      "h1  first line",
      "h1  second line",
      "h1$ true",
    ]);
  });
});
