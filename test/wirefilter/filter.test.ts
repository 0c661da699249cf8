/**
 * The wirefilter model under a fake clock: every impairment, its counters,
 * reproducibility with a seed, the queues' bounds and Markov mode. No
 * sockets, no real time: each test runs in milliseconds and always gives
 * the same result.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../src/wirefilter/clock.ts";
import { type ParamName, WireFilter, type WireFilterOptions } from "../../src/wirefilter/filter.ts";
import { type Dir, isValueError, LR, parseWireValue, RL } from "../../src/wirefilter/value.ts";

interface Seen {
  t: number;
  tag: number;
  frame: Uint8Array;
}

function frame(tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(0xff, 0, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  new DataView(f.buffer).setUint32(14, tag);
  for (let i = 18; i < length; i++) f[i] = (i * 7 + tag) & 0xff;
  return f;
}

function tagOf(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(14);
}

function rig(options: WireFilterOptions = {}) {
  const clock = new FakeClock(1000);
  const f = new WireFilter({ clock, seed: 1, slackMs: 0, ...options });
  const out: [Seen[], Seen[]] = [[], []];
  for (const d of [LR, RL] as const) {
    f.outputs[d] = (fr) => out[d].push({ t: clock.now() - 1000, tag: tagOf(fr), frame: fr.slice() });
  }
  const set = (param: ParamName, text: string) => {
    const v = parseWireValue(text);
    if (isValueError(v)) throw new Error(v.error);
    assert.equal(f.set(param, v), "ok");
  };
  /** Sends `n` frames into `dir`, `gapMs` apart (starting now), advancing the clock. */
  const feed = (dir: Dir, n: number, gapMs: number, length = 60, first = 0) => {
    for (let i = 0; i < n; i++) {
      f.input(dir, frame(first + i, length));
      if (gapMs > 0) clock.advance(gapMs);
    }
  };
  return { clock, f, out, set, feed };
}

Deno.test("WireFilter without impairments passes the very same view synchronously, no timer", () => {
  const { f, clock } = rig();
  const seen: Uint8Array[] = [];
  f.outputs[LR] = (fr) => seen.push(fr);
  const input = frame(7);
  f.input(LR, input);
  assert.equal(seen.length, 1);
  assert.equal(seen[0], input, "no copy on the fast path");
  assert.equal(clock.pending, 0);
  assert.equal(f.counters[LR].framesOut, 1);
});

Deno.test("WireFilter MTU counts the 2-byte prefix, per direction", () => {
  const { f, out, set } = rig();
  set("mtu", "LR1000");
  for (const len of [997, 998, 999, 1000]) {
    f.input(LR, frame(len, len));
    f.input(RL, frame(len, len));
  }
  assert.deepEqual(out[LR].map((s) => s.frame.length), [997, 998]);
  assert.deepEqual(out[RL].map((s) => s.frame.length), [997, 998, 999, 1000]);
  assert.equal(f.counters[LR].mtuDrops, 2);
  assert.equal(f.mtu(LR), 1000);
});

Deno.test("WireFilter loss of 20% over 5000 frames lands within 4 sigma, reproducibly per seed", () => {
  const survivors = (seed: number) => {
    const { out, set, feed, f } = rig({ seed });
    set("loss", "20");
    feed(LR, 5000, 0);
    assert.equal(f.counters[LR].lossDrops + out[LR].length, 5000);
    return out[LR].map((s) => s.tag);
  };
  const a = survivors(42);
  // Binomial(5000, 0.8): mean 4000, sigma 28.3.
  assert.ok(a.length >= 3887 && a.length <= 4113, `passed ${a.length} of 5000`);
  assert.deepEqual(survivors(42), a, "the same seed drops the same frames");
  assert.notDeepEqual(survivors(43), a, "another seed drops others");
});

Deno.test("WireFilter loss of 100 drops everything, 0 nothing", () => {
  const { f, out, set, feed } = rig();
  set("loss", "100");
  feed(LR, 100, 0);
  assert.equal(out[LR].length, 0);
  set("loss", "0");
  feed(LR, 100, 0);
  assert.equal(out[LR].length, 100);
  assert.equal(f.counters[LR].lossDrops, 100);
});

Deno.test("WireFilter Gilbert bursts keep the loss rate and have the mean burst length", () => {
  const { f, out, set, feed } = rig({ seed: 7 });
  set("loss", "10");
  set("lostburst", "5");
  const n = 50_000;
  feed(LR, n, 0);
  const lost = n - out[LR].length;
  assert.equal(f.counters[LR].burstDrops, lost);
  assert.ok(Math.abs(lost / n - 0.1) < 0.02, `loss rate ${lost / n}`);
  // Bursts: runs of consecutive missing tags.
  const passed = new Set(out[LR].map((s) => s.tag));
  let bursts = 0;
  for (let i = 0; i < n; i++) if (!passed.has(i) && (i === 0 || passed.has(i - 1))) bursts++;
  const mean = lost / bursts;
  assert.ok(mean > 4 && mean < 6, `mean burst ${mean}`);
});

Deno.test("WireFilter duplication makes each further copy with the same probability", () => {
  const { f, out, set, feed } = rig({ seed: 3 });
  set("dup", "50");
  feed(LR, 4000, 0);
  // Copies per frame are geometric: mean 2, variance 2 -> sigma of the total 89.
  assert.ok(Math.abs(out[LR].length - 8000) < 4 * 89, `copies ${out[LR].length}`);
  assert.equal(f.counters[LR].dupCopies, out[LR].length - 4000);
});

Deno.test("WireFilter delay is exact; uniform jitter stays in its range, normal has sigma delta/3", () => {
  const { out, set, feed } = rig({ seed: 9 });
  set("delay", "50");
  feed(LR, 1, 0);
  assert.equal(out[LR].length, 0);
  feed(LR, 1, 100, 60, 1);
  assert.equal(out[LR][0]!.t, 50);

  const u = rig({ seed: 9 });
  u.set("delay", "50+10");
  u.feed(LR, 2000, 100);
  u.clock.advance(100);
  const du = u.out[LR].map((s) => s.t - s.tag * 100);
  assert.equal(du.length, 2000);
  assert.ok(du.every((d) => d >= 40 && d <= 60), "uniform within 40..60");
  const meanU = du.reduce((a, b) => a + b) / du.length;
  assert.ok(Math.abs(meanU - 50) < 0.5, `uniform mean ${meanU}`);

  const n = rig({ seed: 9 });
  n.set("delay", "50+10N");
  n.feed(LR, 2000, 100);
  n.clock.advance(200);
  const dn = n.out[LR].map((s) => s.t - s.tag * 100);
  const meanN = dn.reduce((a, b) => a + b) / dn.length;
  const sd = Math.sqrt(dn.reduce((a, b) => a + (b - meanN) ** 2, 0) / dn.length);
  assert.ok(Math.abs(meanN - 50) < 0.5, `normal mean ${meanN}`);
  assert.ok(Math.abs(sd - 10 / 3) < 0.3, `normal sigma ${sd}`);
  const inside = dn.filter((d) => d >= 40 && d <= 60).length / dn.length;
  assert.ok(inside > 0.98, `normal within range ${inside}`);
});

Deno.test("WireFilter keeps order in FIFO mode and reorders only with nofifo", () => {
  for (const fifo of [true, false]) {
    const { f, out, set, feed, clock } = rig({ seed: 5 });
    set("delay", "50+40");
    f.fifo = fifo;
    feed(LR, 300, 1);
    clock.advance(200);
    const tags = out[LR].map((s) => s.tag);
    assert.equal(tags.length, 300);
    const inOrder = tags.every((t, i) => t === i);
    if (fifo) {
      assert.ok(inOrder, "FIFO keeps order");
      assert.equal(f.counters[LR].reordered, 0);
    } else {
      assert.ok(!inOrder, "nofifo reorders");
      assert.ok(f.counters[LR].reordered > 0);
    }
  }
});

Deno.test("WireFilter bandwidth spaces frames at the bottleneck rate, before the delay", () => {
  const { out, set, feed, clock } = rig();
  set("band", "100000");
  feed(LR, 20, 0, 998);
  clock.advance(1000);
  // 998 + 2 bytes at 100000 bytes/s: 10 ms each.
  assert.deepEqual(out[LR].map((s) => s.t), Array.from({ length: 20 }, (_, i) => (i + 1) * 10));
  const d = rig();
  d.set("band", "100000");
  d.set("delay", "200");
  d.feed(LR, 20, 0, 998);
  d.clock.advance(1000);
  assert.deepEqual(d.out[LR].map((s) => s.t), Array.from({ length: 20 }, (_, i) => 200 + (i + 1) * 10));
});

Deno.test("WireFilter interface speed blocks the input; a full input buffer drops", () => {
  const { f, out, set, feed, clock } = rig({ maxInputBytes: 10_000 });
  set("speed", "100000");
  feed(LR, 20, 0, 998);
  // The first is on the wire, ten wait (10 000 bytes), the rest are dropped.
  assert.equal(f.blockedFrames(LR), 10);
  assert.equal(f.counters[LR].inputDrops, 9);
  clock.advance(1000);
  assert.deepEqual(out[LR].map((s) => s.t), Array.from({ length: 11 }, (_, i) => (i + 1) * 10));
  assert.equal(f.blockedFrames(LR), 0);
});

Deno.test("WireFilter capacity drops what does not fit in the channel buffer", () => {
  const { f, out, set, feed, clock } = rig();
  set("band", "100000");
  set("capacity", "5000");
  feed(LR, 20, 0, 998);
  assert.equal(f.queuedBytes(LR), 5000);
  clock.advance(1000);
  assert.equal(out[LR].length, 5);
  assert.equal(f.counters[LR].capacityDrops, 15);
});

Deno.test("WireFilter bounds the delay queue even without a capacity", () => {
  const { f, out, set, feed, clock } = rig({ maxQueueBytes: 10_000 });
  set("delay", "100");
  feed(LR, 20, 0, 998);
  assert.equal(f.queuedFrames(LR), 10);
  assert.equal(f.counters[LR].overflowDrops, 10);
  clock.advance(100);
  assert.equal(out[LR].length, 10);
});

Deno.test("WireFilter noise flips about noise*size/2^20 bits per frame, on a copy", () => {
  const { f, out, set } = rig({ seed: 11 });
  set("noise", "100");
  const inputs: Uint8Array[] = [];
  for (let i = 0; i < 4000; i++) {
    const fr = frame(i, 1000);
    inputs.push(fr);
    f.input(LR, fr);
  }
  let bits = 0;
  let damaged = 0;
  assert.equal(out[LR].length, 4000);
  // No delay: frames leave in order, so position says which input each is (a flip may hit the tag).
  for (const [i, s] of out[LR].entries()) {
    const ref = frame(i, 1000);
    assert.deepEqual(inputs[i], ref, "the sender's buffer is untouched");
    let d = 0;
    for (let i = 0; i < 1000; i++) {
      let x = s.frame[i]! ^ ref[i]!;
      while (x) {
        d += x & 1;
        x >>= 1;
      }
    }
    bits += d;
    if (d > 0) damaged++;
  }
  // p = 100 * 1002 / 2^20 = 0.0956 per frame: about 382 damaged frames (sigma 19).
  assert.ok(Math.abs(damaged - 382) < 80, `damaged ${damaged}`);
  assert.equal(f.counters[LR].noiseFrames, damaged);
  // A bit flipped twice cancels out, so the counter may exceed what is visible.
  assert.ok(f.counters[LR].noiseBits >= bits && f.counters[LR].noiseBits - bits < 10);
});

Deno.test("WireFilter directions draw from separate generators: L->R does not depend on R->L traffic", () => {
  const run = (withReverse: boolean) => {
    const { out, set, f } = rig({ seed: 99 });
    set("loss", "30");
    for (let i = 0; i < 1000; i++) {
      f.input(LR, frame(i));
      if (withReverse && i % 3 === 0) f.input(RL, frame(i));
    }
    return out[LR].map((s) => s.tag);
  };
  assert.deepEqual(run(true), run(false));
});

Deno.test("WireFilter changes take effect at once, queued frames keep their time", () => {
  const { f, out, set, feed, clock } = rig();
  set("delay", "100");
  feed(LR, 1, 0);
  set("delay", "0");
  // FIFO: the new frame waits behind the queued one.
  feed(LR, 1, 0, 60, 1);
  assert.equal(out[LR].length, 0);
  clock.advance(100);
  assert.deepEqual(out[LR].map((s) => [s.tag, s.t]), [[0, 100], [1, 100]]);
  set("loss", "100");
  feed(LR, 1, 0, 60, 2);
  assert.equal(out[LR].length, 2);
  set("loss", "0");
  f.fifo = false;
  set("delay", "100");
  feed(LR, 1, 0, 60, 3);
  set("delay", "0");
  feed(LR, 1, 0, 60, 4);
  assert.deepEqual(out[LR].map((s) => s.tag), [0, 1, 4], "nofifo: the undelayed frame overtakes");
});

Deno.test("WireFilter Markov mode switches parameter sets on its period", () => {
  const transitions: [number, number][] = [];
  const { f, out, set, feed } = rig({ onMarkov: (a, b) => transitions.push([a, b]) });
  assert.ok(f.setNodes(2));
  set("loss", "100[1]");
  assert.equal(f.set("loss", parseWireValue("5[2]") as never), "bad-node");
  assert.ok(f.setEdge(0, 1, 100));
  assert.ok(f.setEdge(1, 0, 100));
  assert.ok(f.setMarkovTime(100));
  assert.equal(f.edgeWeight(0, 0), 0);
  // 0..99 ms node 0 (pass), 100..199 node 1 (lost), 200..299 node 0 again.
  feed(LR, 300, 1);
  const tags = out[LR].map((s) => s.tag);
  assert.ok(tags.includes(50) && !tags.includes(150) && tags.includes(250));
  assert.deepEqual(transitions.slice(0, 2), [[0, 1], [1, 0]]);
  assert.ok(f.setNodes(1));
  assert.equal(f.currentNode, 0);
});

Deno.test("WireFilter close drops what is queued, counts it and leaves no timer", () => {
  const { f, set, feed, clock } = rig();
  set("delay", "100");
  feed(LR, 5, 0);
  feed(RL, 3, 0);
  f.close();
  assert.equal(f.counters[LR].closeDrops, 5);
  assert.equal(f.counters[RL].closeDrops, 3);
  assert.equal(clock.pending, 0);
  f.input(LR, frame(1));
  assert.equal(f.counters[LR].framesIn, 5);
});

Deno.test("WireFilter reuses its queue entries: a steady stream allocates no new ones", () => {
  const { f, out, set, feed } = rig();
  set("delay", "10");
  feed(LR, 100, 1);
  const idle = f.pooledEntries;
  feed(LR, 10_000, 1, 60, 100);
  // At most 11 frames are in flight at a time, so the pool never grows past that.
  assert.ok(f.pooledEntries <= 11 && f.pooledEntries >= idle - 11, `pool ${f.pooledEntries}`);
  assert.equal(out[LR].length + f.queuedFrames(LR), 10_100);
});
