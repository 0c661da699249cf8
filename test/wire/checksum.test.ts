/**
 * The Internet checksum's fast path (16-bit words into int32 accumulators)
 * against a plain word-by-word reference, over every alignment, odd and even
 * lengths and the patterns where carries pile up.
 */
import assert from "node:assert/strict";
import { referenceChecksum } from "./checksum_reference.ts";
import { finishChecksum, internetChecksum, sumWords } from "../../src/wire/checksum.ts";

function seeded(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

Deno.test("checksum: the wide sum equals the word-by-word sum at every alignment and length", () => {
  const buf = seeded(70_000, 7);
  for (let off = 0; off < 8; off++) {
    for (const len of [0, 1, 2, 3, 63, 64, 65, 66, 127, 1500, 1501, 9176, 9177, 65_535, 65_536]) {
      assert.equal(
        internetChecksum(buf, off, len),
        referenceChecksum(buf, off, len),
        `offset ${off} length ${len}`,
      );
    }
  }
});

Deno.test("checksum: all-ones and all-zero runs fold the way RFC 1071 folds them", () => {
  for (const fill of [0x00, 0xff, 0x80, 0x01]) {
    const b = new Uint8Array(65_540).fill(fill);
    for (const [off, len] of [[0, 65_536], [2, 9176], [4, 64], [1, 1500]] as const) {
      assert.equal(
        internetChecksum(b, off, len),
        referenceChecksum(b, off, len),
        `fill ${fill} at ${off}+${len}`,
      );
    }
  }
});

Deno.test("checksum: a run of more than a million words (folded in chunks) stays exact", () => {
  const b = seeded((1 << 22) + 12, 99);
  assert.equal(finishChecksum(sumWords(b, 4, 1 << 22)), referenceChecksum(b, 4, 1 << 22));
  b.fill(0xff);
  assert.equal(finishChecksum(sumWords(b, 0, (1 << 22) + 8)), referenceChecksum(b, 0, (1 << 22) + 8));
});
