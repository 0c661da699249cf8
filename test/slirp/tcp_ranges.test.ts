/** The sorted range lists behind the out-of-order queue and the SACK scoreboard. */
import assert from "node:assert/strict";
import { addRange, covered, removeRange, trimRanges } from "../../src/slirp/tcp/ranges.ts";

function pairs(s: number[], e: number[]): number[][] {
  return s.map((x, i) => [x, e[i]!]);
}

Deno.test("addRange merges what touches or overlaps, counts only new bytes, and respects the cap", () => {
  const s: number[] = [];
  const e: number[] = [];
  assert.equal(addRange(s, e, 100, 200, 3), 100);
  assert.equal(addRange(s, e, 300, 400, 3), 100);
  assert.equal(addRange(s, e, 150, 250, 3), 50, "overlap counts once");
  assert.equal(addRange(s, e, 250, 300, 3), 50, "touching both neighbours joins them");
  assert.deepEqual(pairs(s, e), [[100, 400]]);
  assert.equal(addRange(s, e, 500, 600, 2), 100);
  assert.equal(addRange(s, e, 700, 800, 2), -1, "a new range past the cap is refused");
  assert.equal(addRange(s, e, 550, 580, 2), 0, "nothing new inside an existing range");
  assert.deepEqual(pairs(s, e), [[100, 400], [500, 600]]);
});

Deno.test("ranges work across the 2^32 wrap; trimRanges and covered", () => {
  const s: number[] = [];
  const e: number[] = [];
  addRange(s, e, 0xffffff00, 0x100, 8);
  addRange(s, e, 0x200, 0x300, 8);
  assert.equal(covered(s, e, 0xffffff80, 0x280), 0x80 + 0x100 + 0x80);
  assert.equal(trimRanges(s, e, 0x80), 0x180);
  assert.deepEqual(pairs(s, e), [[0x80, 0x100], [0x200, 0x300]]);
  assert.equal(trimRanges(s, e, 0x1000), 0x80 + 0x100);
  assert.equal(s.length, 0);
});

Deno.test("removeRange cuts a range in two, trims edges, drops what it covers, and counts only held bytes", () => {
  const s = [100, 300, 500];
  const e = [200, 400, 600];
  assert.equal(removeRange(s, e, 120, 150), 30, "inside a range: cut in two");
  assert.deepEqual(pairs(s, e), [[100, 120], [150, 200], [300, 400], [500, 600]]);
  assert.equal(removeRange(s, e, 180, 350), 70, "the end of one, the start of the next");
  assert.deepEqual(pairs(s, e), [[100, 120], [150, 180], [350, 400], [500, 600]]);
  assert.equal(removeRange(s, e, 90, 700), 200, "everything");
  assert.deepEqual(pairs(s, e), []);
  const w = [0xffffff00];
  const we = [0x100];
  assert.equal(removeRange(w, we, 0xfffffff0, 0x10), 0x20, "across the wrap");
  assert.deepEqual(pairs(w, we), [[0xffffff00, 0xfffffff0], [0x10, 0x100]]);
});
