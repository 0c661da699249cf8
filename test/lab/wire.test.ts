import assert from "node:assert/strict";
import { LabWire } from "../../src/lab/wire.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

function collect(wire: LabWire): { atA: number[]; atB: number[] } {
  const seen = { atA: [] as number[], atB: [] as number[] };
  wire.a.onFrame = (f) => seen.atA.push(f[0]!);
  wire.b.onFrame = (f) => seen.atB.push(f[0]!);
  return seen;
}

Deno.test("a lab wire carries frames both ways, after the sender returns, in order", async () => {
  const wire = new LabWire("a-b");
  const seen = collect(wire);
  const frame = new Uint8Array(60);
  for (let i = 1; i <= 3; i++) {
    frame[0] = i;
    wire.a.send(frame); // the buffer is reused at once: the wire must have copied it
  }
  wire.b.send(new Uint8Array(60).fill(9));
  assert.deepEqual(seen.atB, [], "nothing crosses synchronously");
  await tick();
  assert.deepEqual(seen.atB, [1, 2, 3]);
  assert.deepEqual(seen.atA, [9]);
  assert.equal(wire.a.stats.framesOut, 3);
  assert.equal(wire.b.stats.framesIn, 3);
  wire.close();
});

Deno.test("a cut lab wire drops and counts until it is up again", async () => {
  const wire = new LabWire("a-b");
  const seen = collect(wire);
  wire.up = false;
  wire.a.send(new Uint8Array(60).fill(1));
  await tick();
  assert.deepEqual(seen.atB, []);
  assert.equal(wire.dropped, 1);
  wire.up = true;
  wire.a.send(new Uint8Array(60).fill(2));
  await tick();
  assert.deepEqual(seen.atB, [2]);
  wire.close();
});

Deno.test("impairments set live go through wirefilter and clearing them takes it out", async () => {
  const wire = new LabWire("a-b", { loss: 100 });
  const seen = collect(wire);
  for (let i = 0; i < 20; i++) wire.a.send(new Uint8Array(60).fill(1));
  await tick();
  assert.deepEqual(seen.atB, []);
  assert.equal(wire.filterDrops, 20);
  wire.impair = {};
  assert.equal(wire.filterDrops, 0);
  wire.a.send(new Uint8Array(60).fill(3));
  await tick();
  assert.deepEqual(seen.atB, [3]);
  wire.impair = { delay: 30 };
  wire.a.send(new Uint8Array(60).fill(4));
  await tick();
  assert.deepEqual(seen.atB, [3], "a delayed frame is not there yet");
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(seen.atB, [3, 4]);
  wire.close();
});

Deno.test("a lab wire whose queue is full drops instead of growing", async () => {
  const wire = new LabWire("a-b");
  const seen = collect(wire);
  for (let i = 0; i < 600; i++) wire.a.send(new Uint8Array(60));
  await tick();
  assert.equal(seen.atB.length, 512);
  assert.equal(wire.dropped, 88);
  wire.close();
  wire.a.send(new Uint8Array(60));
  assert.equal(wire.a.stats.dropsOut, 1, "a closed end counts what it is sent");
});

/** Sends `n` frames of 1498 bytes (1500 with wirefilter's length prefix) into end a at once; the queue drops. */
function flood(wire: LabWire, n: number): number {
  for (let i = 0; i < n; i++) wire.a.send(new Uint8Array(1498));
  return wire.filterCounters![0].capacityDrops;
}

Deno.test("a rate-limited lab link holds at most its limit of frames waiting, tc netem's default 1000 without one", () => {
  // 1 Mbit/s: without a bound of its own the link held wirefilter's 8 MiB, over a minute of queue.
  const unbounded = new LabWire("a-b", { rate: 125_000 });
  const dropped = flood(unbounded, 1500);
  unbounded.close();
  assert.ok(dropped >= 499 && dropped <= 500, `dropped ${dropped} of 1500 with room for 1000`);
  const limited = new LabWire("a-b", { rate: 125_000, limit: 10 });
  const few = flood(limited, 100);
  assert.ok(few >= 89 && few <= 90, `dropped ${few} of 100 with room for 10`);
  assert.equal(limited.filterDrops, few);
  limited.close();
});
