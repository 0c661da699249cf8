/**
 * Text a peer chose reaches a terminal only as printable characters.
 */
import assert from "node:assert/strict";
import { printable } from "../../src/console/reply_format.ts";

Deno.test("printable replaces C0, DEL and C1 controls, so a peer's text cannot forge lines or escapes", () => {
  assert.equal(printable("a\nb\r\x1b[2Jc\x7f\x9b31m"), "a?b??[2Jc??31m");
});

Deno.test("printable keeps ordinary text and letters beyond ASCII", () => {
  assert.equal(printable("port 3: qemu vm «a» ü"), "port 3: qemu vm «a» ü");
});
