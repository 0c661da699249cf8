/** `vde capture`'s options as tcpdump users write them. */
import assert from "node:assert/strict";
import { snapLength } from "../../src/cli/capture.ts";

Deno.test("vde capture -s 0 keeps whole frames, as tcpdump's -s 0 does", () => {
  assert.equal(snapLength(undefined), 262144);
  assert.equal(snapLength("0"), 262144);
  assert.equal(snapLength("128"), 128);
  assert.throws(() => snapLength("262145"), /-s must be a whole number from 0 to 262144, got "262145"/);
  assert.throws(() => snapLength("-1"), /-s must be a whole number/);
});
