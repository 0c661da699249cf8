import assert from "node:assert/strict";
import { MAX_FRAME_IN, MAX_FRAME_OUT, StreamDecoder, StreamEncoder } from "../../src/wire/stream_framing.ts";
// A seeded PRNG, so failures replay.
import { prng } from "../helpers/random.ts";

function frameOf(length: number, seed: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (i * 31 + seed * 7) & 0xff;
  return f;
}

function encode(frames: Uint8Array[]): Uint8Array {
  const enc = new StreamEncoder({ maxBytes: 64 * 1024 * 1024 });
  for (const f of frames) assert.equal(enc.append(f), "ok");
  return enc.bytes.slice();
}

/** A decoder that copies every frame it gets into `frames`. */
function collector(options: ConstructorParameters<typeof StreamDecoder>[1] = {}) {
  const frames: Uint8Array[] = [];
  const decoder = new StreamDecoder((f) => frames.push(f.slice()), options);
  return { frames, decoder };
}

Deno.test("stream encoder writes a big-endian length before each frame", () => {
  const enc = new StreamEncoder();
  assert.equal(enc.append(new Uint8Array([0xaa, 0xbb, 0xcc])), "ok");
  assert.equal(enc.append(frameOf(0x1234, 1)), "ok");
  const bytes = enc.bytes;
  assert.deepEqual([...bytes.subarray(0, 5)], [0x00, 0x03, 0xaa, 0xbb, 0xcc]);
  assert.deepEqual([...bytes.subarray(5, 7)], [0x12, 0x34]);
  assert.equal(enc.length, 2 + 3 + 2 + 0x1234);
  assert.equal(enc.frames, 2);
  assert.equal(enc.frameBytes, 3 + 0x1234);
});

Deno.test("stream decoder round-trips frames of many sizes", () => {
  const frames = [1, 14, 60, 1514, 1518, 4000, MAX_FRAME_OUT].map((n, i) => frameOf(n, i));
  const { frames: out, decoder } = collector();
  decoder.push(encode(frames));
  assert.deepEqual(out, frames);
  assert.equal(decoder.frames, frames.length);
  assert.equal(decoder.buffered, 0);
});

Deno.test("stream decoder hands out many frames from one chunk without copying", () => {
  const frames = Array.from({ length: 200 }, (_, i) => frameOf(60 + i, i));
  const chunk = encode(frames);
  const views: Uint8Array[] = [];
  const decoder = new StreamDecoder((f) => views.push(f));
  decoder.push(chunk);
  assert.equal(views.length, 200);
  assert.ok(views.every((v) => v.buffer === chunk.buffer), "frames inside the chunk are views of it");
  assert.deepEqual(views.map((v) => v.slice()), frames);
});

Deno.test("stream decoder stops after the frame its holds says no more to, and the rest of the chunk resumes it", () => {
  // Frames 0-4 in one chunk, frame 2 split off into the next: holding after frame 1 and after frame 3
  // (the one reassembled across chunks) loses nothing and keeps the order.
  const frames = Array.from({ length: 5 }, (_, i) => frameOf(100, i));
  const stream = encode(frames);
  const cut = 2 * 102 + 50;
  let hold = false;
  const out: Uint8Array[] = [];
  const decoder = new StreamDecoder((f) => {
    out.push(f.slice());
    hold = out.length === 2 || out.length === 3;
  }, { holds: () => hold });
  const first = stream.subarray(0, cut);
  assert.equal(decoder.push(first), 2 * 102, "stopped right after the second frame");
  assert.equal(out.length, 2);
  hold = false;
  assert.equal(decoder.push(first.subarray(2 * 102)), cut - 2 * 102, "the rest: half of frame 2");
  const second = stream.subarray(cut);
  hold = false;
  assert.equal(decoder.push(second), 102 - 50, "stopped after frame 2, reassembled");
  assert.equal(out.length, 3);
  hold = false;
  assert.equal(decoder.push(second.subarray(102 - 50)), second.length - (102 - 50));
  assert.deepEqual(out, frames);
});

Deno.test("stream decoder reassembles a stream split at every byte position, headers included", () => {
  const frames = [frameOf(1, 1), frameOf(60, 2), frameOf(300, 3)];
  const stream = encode(frames);
  for (let cut = 0; cut <= stream.length; cut++) {
    const { frames: out, decoder } = collector();
    decoder.push(stream.subarray(0, cut));
    decoder.push(stream.subarray(cut));
    assert.deepEqual(out, frames, `split at ${cut}`);
    assert.equal(decoder.buffered, 0);
  }
});

Deno.test("stream decoder reassembles a stream fed one byte at a time", () => {
  const frames = [frameOf(14, 1), frameOf(1514, 2), frameOf(2, 3)];
  const stream = encode(frames);
  const { frames: out, decoder } = collector();
  for (let i = 0; i < stream.length; i++) decoder.push(stream.subarray(i, i + 1));
  assert.deepEqual(out, frames);
});

Deno.test("stream decoder skips zero-length frames", () => {
  const frame = frameOf(20, 9);
  const { frames: out, decoder } = collector();
  decoder.push(new Uint8Array([0, 0, 0, 0, ...encode([frame])]));
  assert.deepEqual(out, [frame]);
  assert.equal(decoder.empty, 2);
});

Deno.test("stream decoder drops the rest of the chunk after an oversize length, then resyncs", () => {
  const lengths: number[] = [];
  const { frames: out, decoder } = collector({ onOversize: (n) => lengths.push(n) });
  const good = frameOf(60, 1);
  const after = frameOf(70, 2);
  // Oversize header, junk, and a well-formed frame in the same chunk: all discarded, as libvdestream does.
  decoder.push(new Uint8Array([0x24, 0x15, 1, 2, 3, ...encode([good])]));
  assert.deepEqual(out, []);
  assert.equal(decoder.oversize, 1);
  assert.deepEqual(lengths, [MAX_FRAME_IN + 1]);
  assert.equal(decoder.buffered, 0);
  decoder.push(encode([after]));
  assert.deepEqual(out, [after]);
});

Deno.test("stream decoder resyncs after an oversize length reassembled across chunks", () => {
  const { frames: out, decoder } = collector({ maxFrame: 1521 });
  decoder.push(new Uint8Array([0x05]));
  decoder.push(new Uint8Array([0xf2, 9, 9, 9])); // 1522
  assert.equal(decoder.oversize, 1);
  const frame = frameOf(1521, 5);
  decoder.push(encode([frame]));
  assert.deepEqual(out, [frame]);
});

Deno.test("stream decoder accepts lengths up to its limit: 9234 and 9236 pass, 9237 does not", () => {
  const { frames: out, decoder } = collector();
  decoder.push(encode([frameOf(MAX_FRAME_OUT, 1)]));
  const f9236 = frameOf(MAX_FRAME_IN, 2);
  decoder.push(new Uint8Array([MAX_FRAME_IN >> 8, MAX_FRAME_IN & 0xff, ...f9236]));
  decoder.push(new Uint8Array([0x24, 0x15, ...frameOf(MAX_FRAME_IN + 1, 3)]));
  assert.equal(out.length, 2);
  assert.equal(out[0]!.length, MAX_FRAME_OUT);
  assert.deepEqual(out[1], f9236);
  assert.equal(decoder.oversize, 1);
});

Deno.test("stream encoder refuses frames over 9234 bytes and empty frames", () => {
  const enc = new StreamEncoder();
  assert.equal(enc.append(frameOf(MAX_FRAME_OUT + 1, 1)), "invalid");
  assert.equal(enc.append(new Uint8Array(0)), "invalid");
  assert.equal(enc.length, 0);
  assert.equal(enc.invalid, 2);
  assert.equal(enc.append(frameOf(MAX_FRAME_OUT, 1)), "ok");
  assert.equal(enc.length, MAX_FRAME_OUT + 2);
});

Deno.test("stream encoder refuses frames past its byte bound and keeps what it holds", () => {
  const enc = new StreamEncoder({ maxBytes: 1000, initialCapacity: 16 });
  let ok = 0;
  while (enc.append(frameOf(100, ok)) === "ok") ok++;
  assert.equal(ok, 9); // 9 * 102 = 918; a tenth would need 1020
  assert.equal(enc.append(frameOf(100, 0)), "full");
  assert.equal(enc.append(frameOf(80, 0)), "ok"); // 918 + 82 = 1000 still fits
  const { frames: out, decoder } = collector();
  decoder.push(enc.bytes);
  assert.equal(out.length, 10);
  enc.reset();
  assert.equal(enc.length, 0);
  assert.equal(enc.append(frameOf(100, 0)), "ok");
});

Deno.test("stream decoder counts a throwing callback and keeps decoding", () => {
  let calls = 0;
  const decoder = new StreamDecoder(() => {
    calls++;
    throw new Error("boom");
  });
  decoder.push(encode([frameOf(10, 1), frameOf(10, 2)]));
  assert.equal(calls, 2);
  assert.equal(decoder.callbackErrors, 2);
});

Deno.test("stream decoder never throws on random bytes and holds at most one frame", () => {
  const rand = prng(7);
  const decoder = new StreamDecoder(() => {}, { maxFrame: 1521 });
  for (let round = 0; round < 200; round++) {
    const chunk = new Uint8Array(1 + Math.floor(rand() * 3000));
    for (let i = 0; i < chunk.length; i++) chunk[i] = Math.floor(rand() * 256);
    decoder.push(chunk);
    assert.ok(decoder.buffered <= 1521);
  }
});

Deno.test("stream decoder reassembles any random chunking of a random stream (seeded)", () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const rand = prng(seed);
    const frames = Array.from({ length: 300 }, (_, i) => {
      const big = rand() < 0.1;
      const n = 1 + Math.floor(rand() * (big ? MAX_FRAME_OUT : 1600));
      return frameOf(n, i + seed);
    });
    const stream = encode(frames);
    const { frames: out, decoder } = collector();
    let at = 0;
    while (at < stream.length) {
      const size = rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 20000);
      decoder.push(stream.subarray(at, at + size));
      at += size;
    }
    assert.equal(out.length, frames.length, `seed ${seed}`);
    assert.deepEqual(out, frames, `seed ${seed}`);
    assert.equal(decoder.buffered, 0);
  }
});
