/**
 * Failures in words at a terminal (`vde term`, the switch's console): a
 * bare failure code is explained from the commands the console knows, but
 * a failure that says why is shown as it is, without a usage guessed from
 * the code (`vde term LAB` learns a lab's commands from a help of another
 * shape, so its guesses about a lab command are wrong).
 */
import assert from "node:assert/strict";
import { formatExplained, type KnownCommands } from "../../src/console/explain.ts";
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
