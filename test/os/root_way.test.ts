/**
 * What root's clients say of a socket they could not hold (notHeld in
 * src/os/root_way.ts): nothing there, a refusal, or the errno's own words,
 * each in the class Deno.connect gives a user for the same.
 */
import assert from "node:assert/strict";
import { C } from "../../ffi/libc.ts";
import { notHeld } from "../../src/os/root_way.ts";

const PATH = "/tmp/lab/sw.mgmt";

Deno.test("a socket root could not hold is 'no socket' only when nothing is at its name", () => {
  const none = notHeld(PATH, C.ENOENT);
  assert.ok(none instanceof Deno.errors.NotFound);
  assert.equal(none.message, `no socket at ${PATH}`);
  const denied = notHeld(PATH, C.EACCES);
  assert.ok(denied instanceof Deno.errors.PermissionDenied);
  assert.equal(denied.message, `permission denied: ${PATH}`);
});

Deno.test("a socket root could not hold for another reason is told in the errno's own words", () => {
  const file = notHeld(PATH, C.ENOTDIR);
  assert.ok(file instanceof Deno.errors.NotADirectory);
  assert.equal(file.message, `not a directory: ${PATH}`);
  const loop = notHeld(PATH, C.ELOOP);
  assert.ok(loop instanceof Deno.errors.FilesystemLoop);
  assert.equal(loop.message, `too many levels of symbolic links: ${PATH}`);
  // EMFILE and ENAMETOOLONG (Linux's 24 and 36): not "nothing there" either.
  for (const [code, words] of [[24, "too many open files"], [36, "file name too long"]] as const) {
    const err = notHeld(PATH, code);
    assert.ok(!(err instanceof Deno.errors.NotFound), words);
    assert.equal(err.message, `${words}: ${PATH}`);
  }
});
