import assert from "node:assert/strict";
import { openFailure } from "../../src/cli/open_failure.ts";

Deno.test("a VNL that does not open is named once: a switch's reason that names its path is the whole line", () => {
  const denied = "permission denied on the switch at /run/vde/lab1/sw1: a switch of root's lab lab1 that " +
    "its lab file does not share with this user";
  assert.equal(openFailure("/run/vde/lab1/sw1", new Error(denied)), denied);
  assert.equal(openFailure("vde:///run/vde/lab1/sw1/[3]", new Error(denied)), denied);
  const notSwitch = "/tmp is not a switch's socket directory (it has no ctl socket)";
  assert.equal(openFailure("/tmp/", new Error(notSwitch)), notSwitch);
  // A reason that does not name it keeps the prefix, and /tmp inside /tmp/sw is not /tmp.
  assert.equal(
    openFailure("/tmp", new Error("no switch at /tmp/sw: x")),
    "cannot open /tmp: no switch at /tmp/sw: x",
  );
  assert.equal(
    openFailure("nope://x", new Error("unknown VNL scheme")),
    "cannot open nope://x: unknown VNL scheme",
  );
  assert.equal(openFailure("", new Error("no default switch"), "''"), "cannot open '': no default switch");
});

Deno.test("a VNL that does not open is said in one line, a newline typed in it (or in the reason) shown as ?", () => {
  assert.equal(
    openFailure("/tmp/a\nb", new Error("no switch at /tmp/a?b: the directory does not exist")),
    "no switch at /tmp/a?b: the directory does not exist",
  );
  assert.equal(openFailure("tap://a\nb", new Error("bad\nname")), "cannot open tap://a?b: bad?name");
});
