/**
 * Cutting the sealed record stream into records whatever the chunking, the
 * length bounds that end a stream, and splitting a record's frames.
 */
import { concatBytes } from "../../src/wire/bytes.ts";
import assert from "node:assert/strict";
import {
  forEachFrame,
  framesFrom,
  MAX_RECORD_CIPHERTEXT,
  RECORD_HEADER_SIZE,
  RecordDecoder,
  TAG_SIZE,
  writeRecordHeader,
} from "../../src/wire/cable_record.ts";
import { StreamEncoder } from "../../src/wire/stream_framing.ts";

function record(type: number, ctLen: number, fill: number): Uint8Array {
  const r = new Uint8Array(RECORD_HEADER_SIZE + ctLen);
  writeRecordHeader(r, 0, type, ctLen);
  r.fill(fill, RECORD_HEADER_SIZE);
  return r;
}

function decodeAll(
  stream: Uint8Array,
  chunk: number,
): { records: [number, number, number][]; dec: RecordDecoder } {
  const records: [number, number, number][] = [];
  const dec = new RecordDecoder((h, type, ct) => {
    assert.equal(h[0], type);
    records.push([type, ct.length, ct[0]!]);
  });
  for (let i = 0; i < stream.length; i += chunk) dec.push(stream.subarray(i, i + chunk));
  return { records, dec };
}

Deno.test("RecordDecoder yields the same records for every chunk size", () => {
  const parts = [record(1, 16, 7), record(3, 40, 8), record(1, 70000, 9), record(2, 24, 10)];
  const stream = concatBytes(parts);
  const want = [[1, 16, 7], [3, 40, 8], [1, 70000, 9], [2, 24, 10]];
  for (const chunk of [1, 2, 3, 5, 17, 4096, 65536, stream.length]) {
    const { records, dec } = decodeAll(stream, chunk);
    assert.deepEqual(records, want, `chunk ${chunk}`);
    assert.equal(dec.buffered, 0);
    assert.equal(dec.error, null);
  }
});

Deno.test("RecordDecoder refuses a length below a tag or above the limit, once and for good", () => {
  for (const len of [0, TAG_SIZE - 1, MAX_RECORD_CIPHERTEXT + 1, 0xffffff]) {
    const h = new Uint8Array([1, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
    let n = 0;
    const dec = new RecordDecoder(() => n++);
    assert.equal(dec.push(h), false);
    assert.match(dec.error ?? "", /record length/);
    // Nothing after a refused header is ever decoded.
    assert.equal(dec.push(record(1, 16, 0)), false);
    assert.equal(n, 0);
  }
});

Deno.test("writeRecordHeader refuses impossible lengths", () => {
  assert.throws(() => writeRecordHeader(new Uint8Array(4), 0, 1, 15));
  assert.throws(() => writeRecordHeader(new Uint8Array(4), 0, 1, 0x1000000));
});

Deno.test("framesFrom stops after the frame its holds says no more to and goes on from the offset it returned", () => {
  const enc = new StreamEncoder();
  for (const n of [60, 1514, 100, 9234]) enc.append(new Uint8Array(n).fill(n & 0xff));
  const seen: number[] = [];
  let hold = true;
  const at = framesFrom(enc.bytes, 0, 9236, (f) => seen.push(f.length), () => hold);
  assert.equal(at, 62, "stopped after the first frame");
  hold = false;
  assert.equal(framesFrom(enc.bytes, at as number, 9236, (f) => seen.push(f.length)), enc.length);
  assert.deepEqual(seen, [60, 1514, 100, 9234]);
  assert.match(String(framesFrom(new Uint8Array([0, 5, 1, 2]), 0, 9236, () => {})), /cut short/);
});

Deno.test("forEachFrame splits stream-framed frames and refuses malformed bodies", () => {
  const enc = new StreamEncoder();
  for (const n of [60, 1514, 9234]) enc.append(new Uint8Array(n).fill(n & 0xff));
  const seen: number[] = [];
  assert.equal(forEachFrame(enc.bytes, 9236, (f) => seen.push(f.length)), null);
  assert.deepEqual(seen, [60, 1514, 9234]);
  assert.equal(forEachFrame(new Uint8Array(0), 9236, () => {}), null);
  assert.match(forEachFrame(new Uint8Array([0, 0]), 9236, () => {}) ?? "", /frame length 0/);
  assert.match(forEachFrame(new Uint8Array([0x30, 0]), 9236, () => {}) ?? "", /frame length 12288/);
  assert.match(forEachFrame(new Uint8Array([0, 5, 1, 2]), 9236, () => {}) ?? "", /cut short/);
  assert.match(forEachFrame(new Uint8Array([0]), 9236, () => {}) ?? "", /header is cut short/);
});
