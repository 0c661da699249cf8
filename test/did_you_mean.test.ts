import assert from "node:assert/strict";
import { didYouMean, editDistance } from "../src/did_you_mean.ts";

Deno.test("did you mean: a swap of two neighbours is one edit, and far words suggest nothing", () => {
  assert.equal(editDistance("kye", "key"), 1);
  assert.equal(editDistance("dealy", "delay"), 1);
  assert.equal(editDistance("prots", "ports"), 1);
  assert.equal(didYouMean("kye", ["key", "insecure", "listen"]), "key");
  assert.equal(didYouMean("xyz", ["key", "insecure", "listen"]), undefined);
});
