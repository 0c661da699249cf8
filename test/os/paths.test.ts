/** What a path is: onPath finds a program as a shell would, by its bare name in $PATH. */
import assert from "node:assert/strict";
import { onPath } from "../../src/os/paths.ts";

Deno.test("onPath finds a program by its bare name in $PATH, and never a path or an empty name", () => {
  assert.equal(onPath("sh"), true);
  assert.equal(onPath("no-such-program-u19"), false);
  assert.equal(onPath("/bin/sh"), false);
  assert.equal(onPath(""), false);
});
