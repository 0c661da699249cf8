/**
 * Failures in words at a terminal (`vde term`, the switch's console): a
 * bare failure code is explained from the commands the console knows, but
 * a failure that says why is shown as it is, without a usage guessed from
 * the code (`vde term LAB` learns a lab's commands from a help of another
 * shape, so its guesses about a lab command are wrong).
 */
import assert from "node:assert/strict";
import { formatExplained, type KnownCommands, suggestCommands } from "../../src/console/explain.ts";
import { Errno } from "../../src/console/reply_format.ts";

/** What `vde term` learns of a lab: `link` with no syntax, as the lab's help does not say it in columns. */
const known: KnownCommands = {
  syntax: (p) => (p === "link" || p === "hub" ? "" : undefined),
  paths: () => ["link", "links", "hub"],
};

Deno.test("a failure that says why is shown as it is, with no usage guessed from its code", () => {
  const reply = { code: Errno.EINVAL, raw: "no link sw1-sw9 (links: sw1:1-sw2:1)\n" };
  assert.equal(formatExplained("link sw1-sw9 down", reply, known), "no link sw1-sw9 (links: sw1:1-sw2:1)\n");
});

Deno.test("a bare failure is explained from the commands the console knows", () => {
  assert.equal(
    formatExplained("hub maybe", { code: Errno.EINVAL }, known),
    "hub: Invalid argument (1022)\nusage: hub (takes no arguments)\n",
  );
  assert.equal(
    formatExplained("lnks", { code: Errno.ENOSYS }, known),
    "lnks: no such command; did you mean links, link?\n",
  );
});

Deno.test("1006 says which of a command's port, VLAN or spanning tree is missing, and how to make it", () => {
  const sw: KnownCommands = {
    syntax: (p) =>
      ({ "vlan/addport": "N PORT", "port/remove": "N", "vlan/print": "[N]", "stp/setedge": "PORT 0/1" })[p],
    paths: () => ["vlan/addport", "port/remove", "vlan/print", "stp/setedge"],
  };
  assert.equal(
    formatExplained("vlan/addport 10 1", { code: Errno.ENXIO }, sw),
    "vlan/addport: No such device or address (1006)\n" +
      "no such port or VLAN: a port is there once something plugs in, or after port/create N; vlan/create N makes a VLAN\n",
  );
  assert.equal(
    formatExplained("port/remove 5", { code: Errno.ENXIO }, sw),
    "port/remove: No such device or address (1006)\n" +
      "no such port: a port is there once something plugs in, or after port/create N; `ports all` lists them\n",
  );
  assert.match(formatExplained("vlan/print 99", { code: Errno.ENXIO }, sw), /\nno such VLAN: vlan\/create N/);
  assert.match(formatExplained("stp/setedge 1 1", { code: Errno.ENXIO }, sw), /\nspanning tree is off/);
});

Deno.test("suggestions never name the command typed: it is no typo of itself (vde term's emulated ports)", () => {
  assert.deepEqual(suggestCommands("ports", ["ports", "port", "nodes"]), ["port"]);
  assert.deepEqual(suggestCommands("link", ["link", "links"]), ["links"]);
});

Deno.test("a failure that printed listing rows but no words still says that it failed, after the rows", () => {
  assert.equal(
    formatExplained("hub maybe", { code: Errno.EINVAL, lines: ["a row"] }, known),
    "a row\nhub: Invalid argument (1022)\nusage: hub (takes no arguments)\n",
  );
});

Deno.test("a failure whose words come before a listing shows both, words first, and no guess", () => {
  const reply = { code: Errno.ENOENT, raw: "no host h9 (hosts: none)\n", lines: ["a row"] };
  assert.equal(formatExplained("exec h9 ls", reply, known), "no host h9 (hosts: none)\na row\n");
});
