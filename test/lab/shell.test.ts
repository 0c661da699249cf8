/** What the lab shell prints for a failed line: the reason once, in words; what Tab offers. */
import assert from "node:assert/strict";
import { CommandRegistry, ok } from "../../src/console/registry.ts";
import { Errno } from "../../src/console/reply_format.ts";
import type { LabRunner } from "../../src/lab/runner.ts";
import { completeLabLine, formatShellReply } from "../../src/lab/shell.ts";

function registries() {
  const sw1 = new CommandRegistry()
    .add({ path: "hub", syntax: "[on|off]", help: "", listing: false, run: () => ok() })
    .add({ path: "port/print", syntax: "[N]", help: "", listing: true, run: () => ok() });
  const lab = new CommandRegistry()
    .add({ path: "nodes", syntax: "", help: "", listing: false, run: () => ok() })
    .add({ path: "sw1", syntax: "COMMAND...", help: "", listing: false, run: () => ok() });
  return { switches: new Map([["sw1", { commands: sw1 }]]), lab };
}

Deno.test("lab shell: a failure that says why prints only that, without the protocol's result line", () => {
  const { switches, lab } = registries();
  const reply = { code: Errno.EINVAL, raw: "no host h9 (hosts: h1, h2)\n" };
  assert.equal(formatShellReply("exec h9 ls", reply, switches, lab), "no host h9 (hosts: h1, h2)\n");
});

Deno.test("lab shell: a switch's bare failure is explained with that switch's commands", () => {
  const { switches, lab } = registries();
  assert.equal(
    formatShellReply("sw1 prot/print", { code: Errno.ENOSYS }, switches, lab),
    "prot/print: no such command; did you mean port/print?\n",
  );
  assert.equal(
    formatShellReply("sw1 zzzzzz", { code: Errno.ENOSYS }, switches, lab),
    "zzzzzz: no such command; `sw1 help` lists the commands\n",
  );
  assert.equal(
    formatShellReply("sw1 hub maybe", { code: Errno.EINVAL }, switches, lab),
    "hub: Invalid argument (1022)\nusage: hub [on|off]\n",
  );
});

Deno.test("lab shell: a mistyped lab command gets the nearest lab command", () => {
  const { switches, lab } = registries();
  assert.equal(
    formatShellReply("nodez", { code: Errno.ENOSYS }, switches, lab),
    "nodez: no such command; did you mean nodes?\n",
  );
});

Deno.test("lab shell: Tab after del offers the nodes and the links, by either name; a removed node is offered no more", () => {
  const { lab } = registries();
  const r = {
    lab: { nodes: [{ name: "sw1" }, { name: "h1" }] },
    switches: new Map(),
    hosts: new Map(),
    links: [{ name: "h1:eth0-sw1:1", spec: { ends: [{ node: "h1" }, { node: "sw1" }] } }],
  } as unknown as LabRunner;
  assert.deepEqual(completeLabLine("del ", r, lab), [["h1", "h1-sw1", "h1:eth0-sw1:1", "sw1"], ""]);
  assert.deepEqual(completeLabLine("del h1-", r, lab), [["h1-sw1 "], "h1-"]);
  // sw1's command is registered but sw1 is no switch of the lab (removed): only the lab's own `nodes`.
  assert.deepEqual(completeLabLine("", r, lab), [["nodes", "watch"], ""]);
});

Deno.test("lab shell: Tab after capture offers the switches, hosts and links it records", () => {
  const { lab } = registries();
  const r = {
    lab: { nodes: [{ name: "sw1" }, { name: "h1" }] },
    switches: new Map([["sw1", {}]]),
    hosts: new Map([["h1", {}]]),
    links: [{ name: "h1:eth0-sw1:1", spec: { ends: [{ node: "h1" }, { node: "sw1" }] } }],
  } as unknown as LabRunner;
  assert.deepEqual(completeLabLine("capture ", r, lab), [["h1", "h1-sw1", "h1:eth0-sw1:1", "sw1"], ""]);
  assert.deepEqual(completeLabLine("capture s", r, lab), [["sw1 "], "s"]);
  assert.deepEqual(completeLabLine("capture sw1 -w ", r, lab), [[], ""]);
});
