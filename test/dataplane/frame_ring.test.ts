/**
 * The frame ring's contract, on one thread: records come out whole and in
 * order across the wrap of the data area, the producer sees free space
 * shrink and come back, and the sleep handshake wakes the consumer once per
 * burst, never losing a wake-up.
 */
import assert from "node:assert/strict";
import { copyOutOfRing, FrameRing, recordSize } from "../../src/dataplane/frame_ring.ts";

function frameOf(tag: number, length: number): Uint8Array {
  const f = new Uint8Array(length);
  f.fill(tag & 0xff);
  return f;
}

function drainAll(ring: FrameRing, budget = 1 << 20): Uint8Array[] {
  const out: Uint8Array[] = [];
  ring.drain((f) => out.push(f.slice()), budget);
  return out;
}

Deno.test("frame ring delivers frames whole and in order across many wraps of its data area", () => {
  const ring = FrameRing.create(4096);
  const sent: [number, number][] = [];
  const got: [number, number][] = [];
  let tag = 0;
  for (let round = 0; round < 200; round++) {
    let w = ring.writePosition;
    // Varying sizes so records end at every alignment and wrap at different places.
    for (let i = 0; i < 3; i++) {
      const len = 60 + ((tag * 37) % 900);
      if (ring.free() - (w - ring.writePosition) < 2 * recordSize(len)) break;
      w = ring.put(frameOf(tag, len), w);
      sent.push([tag++ & 0xff, len]);
    }
    ring.publish(w);
    for (const f of drainAll(ring)) {
      assert.ok(f.every((b) => b === f[0]), "a frame is not mixed with another");
      got.push([f[0]!, f.length]);
    }
  }
  assert.ok(sent.length > 400);
  assert.deepEqual(got, sent);
  assert.equal(ring.free(), ring.capacity, "everything consumed frees the whole area");
});

Deno.test("frame ring: free space shrinks as records are published and comes back as they are drained", () => {
  const ring = FrameRing.create(1024);
  assert.equal(ring.free(), 1024);
  const w = ring.put(frameOf(1, 100), ring.writePosition);
  assert.equal(ring.free(), 1024, "unpublished records take no space yet");
  ring.publish(w);
  assert.equal(ring.free(), 1024 - recordSize(100));
  assert.equal(drainAll(ring, 0).length, 0, "a zero budget delivers nothing");
  assert.equal(drainAll(ring).length, 1);
  assert.equal(ring.free(), 1024);
});

Deno.test("frame ring: the consumer is woken once per burst, and never misses records published as it falls asleep", () => {
  const ring = FrameRing.create(4096);
  // A new ring's consumer sleeps: the first publish must wake it, the next ones not.
  let w = ring.put(frameOf(1, 60), ring.writePosition);
  assert.equal(ring.publish(w), true);
  w = ring.put(frameOf(2, 60), w);
  assert.equal(ring.publish(w), false, "no second wake-up while the consumer is awake");
  assert.equal(drainAll(ring).length, 2);
  assert.equal(ring.sleep(), true, "empty: the consumer may sleep");
  // Records published after the consumer looked but before it slept: sleep() must refuse.
  const ring2 = FrameRing.create(4096);
  ring2.publish(ring2.put(frameOf(3, 60), ring2.writePosition));
  assert.equal(ring2.sleep(), false, "records are waiting: do not sleep");
  assert.equal(drainAll(ring2).length, 1);
  assert.equal(ring2.sleep(), true);
  assert.equal(ring2.publish(ring2.put(frameOf(4, 60), ring2.writePosition)), true, "asleep again: woken");
});

Deno.test("frame ring: a drain budget stops early and the rest stays for the next drain", () => {
  const ring = FrameRing.create(8192);
  let w = ring.writePosition;
  for (let i = 0; i < 10; i++) w = ring.put(frameOf(i, 64), w);
  ring.publish(w);
  assert.deepEqual(drainAll(ring, 4).map((f) => f[0]), [0, 1, 2, 3]);
  assert.deepEqual(drainAll(ring).map((f) => f[0]), [4, 5, 6, 7, 8, 9]);
});

Deno.test("frame ring: counters and errors reach the other side, and a data area that is not a power of two is refused", () => {
  const ring = FrameRing.create(1024);
  const other = FrameRing.attach(ring.sab);
  other.countOversize();
  other.countOversize();
  assert.equal(ring.oversize, 2);
  assert.equal(ring.error, 0);
  assert.equal(other.stopping, false);
  ring.requestStop();
  assert.equal(other.stopping, true);
  other.fail(104);
  assert.equal(ring.error, 104);
  assert.throws(() => FrameRing.attach(new SharedArrayBuffer(64 + 1000)), /power of two/);
});

Deno.test("a frame copied out of the ring is whole at every length, and one longer than the copy's room is refused", () => {
  const ring = FrameRing.create(1 << 16);
  const room = new Uint8Array(9216);
  const lengths = [1, 60, 1023, 1024, 1500, 9216];
  for (const n of lengths) {
    const f = new Uint8Array(n);
    for (let i = 0; i < n; i++) f[i] = (i * 7 + n) & 0xff;
    ring.publish(ring.put(f, ring.writePosition));
    const copies: Uint8Array[] = [];
    ring.drain((frame) => {
      const c = copyOutOfRing(room, frame);
      assert.ok(c !== null);
      assert.ok(!(c.buffer instanceof SharedArrayBuffer), "the copy is private memory");
      copies.push(c.slice());
    }, 1 << 20);
    assert.deepEqual(copies, [f]);
  }
  assert.equal(copyOutOfRing(new Uint8Array(100), new Uint8Array(101)), null);
});
