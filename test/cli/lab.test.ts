import assert from "node:assert/strict";
import { vde } from "../lab/_helpers.ts";

Deno.test("plain vde without a terminal prints help; an unknown subcommand is named", async () => {
  const plain = await vde([]);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^Usage: vde /);
  const bad = await vde(["bogus"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown command 'bogus'/);
});
