/**
 * The WebAssembly SIMD sum against the JS word-by-word reference, on random
 * runs at odd and even offsets and lengths, read from ordinary memory, from
 * a SharedArrayBuffer (as frames in the receive thread's ring are) and from
 * the module's own arena.
 */
import assert from "node:assert/strict";
import { referenceChecksum } from "./checksum_reference.ts";
import { finishChecksum, sumWords } from "../../src/wire/checksum.ts";
import { checksumBuffer, sumWasm } from "../../src/wire/checksum_wasm.ts";

function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

function fill(b: Uint8Array, next: () => number): void {
  for (let i = 0; i < b.length; i++) b[i] = next() >>> 24;
}

Deno.test("checksum_wasm: WebAssembly SIMD is available here, so the fast path is the one tested", () => {
  assert.notEqual(sumWasm, null);
});

Deno.test("checksum_wasm: the SIMD sum equals the JS reference on random runs in plain, shared and arena memory", () => {
  const next = random(13);
  const plain = new Uint8Array(70_000);
  const shared = new Uint8Array(new SharedArrayBuffer(70_000));
  const arena = checksumBuffer(70_000);
  for (const b of [plain, shared, arena]) fill(b, next);
  for (let round = 0; round < 300; round++) {
    const len = round < 40 ? 256 + round : next() % 66_000;
    const off = next() % (70_000 - len);
    for (const b of [plain, shared, arena]) {
      const want = referenceChecksum(b, off, len);
      assert.equal(finishChecksum(sumWords(b, off, len)), want, `offset ${off} length ${len}`);
      // The module's part alone, with the tail added word by word.
      const head = len & ~15;
      const r = sumWasm!(b, off, len);
      let tail = 0;
      for (let i = off + head; i < off + len; i += 2) {
        tail += (b[i]! << 8) | (i + 1 < off + len ? b[i + 1]! : 0);
      }
      assert.equal(finishChecksum(r + tail), want, `module sum at offset ${off} length ${len}`);
    }
  }
});

Deno.test("checksum_wasm: runs of all-ones carry through every lane and fold as RFC 1071 folds", () => {
  const b = checksumBuffer(120_000).fill(0xff);
  for (const len of [256, 4096, 9176, 65_536, 119_999]) {
    assert.equal(finishChecksum(sumWords(b, 0, len)), referenceChecksum(b, 0, len), `length ${len}`);
  }
  const plain = new Uint8Array(120_001).fill(0xff);
  assert.equal(finishChecksum(sumWords(plain, 1, 120_000)), referenceChecksum(plain, 1, 120_000));
});

Deno.test("checksum_wasm: a run longer than the scratch area is summed by the JS loop, exactly", () => {
  const b = new Uint8Array(300_000);
  fill(b, random(5));
  assert.equal(sumWasm!(b, 3, 200_000), -1);
  assert.equal(finishChecksum(sumWords(b, 3, 200_000)), referenceChecksum(b, 3, 200_000));
});
