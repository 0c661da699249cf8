import assert from "node:assert/strict";
import { inForeground } from "../../src/os/foreground.ts";

Deno.test("a process is in its terminal's foreground group when its pgrp is the terminal's tpgid; none without a terminal", () => {
  // pid (comm) state ppid pgrp session tty_nr tpgid ...; the name may hold spaces and ")".
  assert.equal(inForeground("42 (vde) S 1 42 7 34816 42 4194304 0"), true);
  assert.equal(inForeground("42 (a) b (c) S 1 42 7 34816 42 4194304 0"), true);
  assert.equal(inForeground("42 (vde) S 1 42 7 34816 99 4194304 0"), false, "a background job");
  assert.equal(inForeground("42 (vde) S 1 42 42 0 -1 4194304 0"), false, "no terminal");
  assert.equal(inForeground(""), false);
});
