import assert from "node:assert/strict";
import { didYouMean, didYouMeanClause, didYouMeanText, editDistance } from "../src/did_you_mean.ts";

Deno.test("did you mean: a swap of two neighbours is one edit, and far words suggest nothing", () => {
  assert.equal(editDistance("kye", "key"), 1);
  assert.equal(editDistance("dealy", "delay"), 1);
  assert.equal(editDistance("prots", "ports"), 1);
  assert.equal(didYouMean("kye", ["key", "insecure", "listen"]), "key");
  assert.equal(didYouMean("xyz", ["key", "insecure", "listen"]), undefined);
});

Deno.test("did you mean: the distance stops early above its bound, and the clause lists what is near or nothing", () => {
  assert.equal(editDistance("abcdef", "uvwxyz", 2), 3);
  assert.equal(editDistance("ab", "abcdefgh", 2), 3);
  assert.equal(editDistance("abcdef", "uvwxyz"), 6);
  assert.equal(didYouMeanClause(["a", "b"]), " (did you mean a, b?)");
  assert.equal(didYouMeanClause('"ports"'), ' (did you mean "ports"?)');
  assert.equal(didYouMeanClause([]), "");
  assert.equal(didYouMeanClause(undefined), "");
  assert.equal(didYouMeanText("x"), "did you mean x?");
});
