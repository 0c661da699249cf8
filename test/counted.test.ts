import assert from "node:assert/strict";
import { counted } from "../src/counted.ts";

Deno.test("counted says 1 frame, not 1 frames, and the plural for any other count", () => {
  assert.equal(counted(1, "frame"), "1 frame");
  assert.equal(counted(0, "frame"), "0 frames");
  assert.equal(counted(2, "frame"), "2 frames");
  assert.equal(counted(1, "entry", "entries"), "1 entry");
  assert.equal(counted(3, "entry", "entries"), "3 entries");
});
