import assert from "node:assert/strict";
import { LearnResult, MacTable, vdeHashIndex } from "../../src/switch/mac_table.ts";
import { formatMacNumbers, parseMacText } from "../../src/wire/ethernet.ts";
import { valueOf } from "../helpers/parsed.ts";
import { prng } from "../helpers/random.ts";

const HI = 0x0200;

Deno.test("table learns a new key and finds it by MAC and VLAN", () => {
  const table = new MacTable();
  assert.equal(table.learn(HI, 1, 0, 5, 10), LearnResult.New);
  assert.equal(table.previousPort, -1);
  assert.equal(table.lookup(HI, 1, 0), 5);
  assert.equal(table.lastSeen(HI, 1, 0), 10);
  assert.equal(table.lookup(HI, 1, 10), -1, "another VLAN is another key");
  assert.equal(table.lookup(HI, 2, 0), -1);
  assert.equal(table.lookup(HI + 1, 1, 0), -1);
  assert.equal(table.size, 1);
});

Deno.test("table refreshes the time of a key seen again on the same port", () => {
  const table = new MacTable();
  table.learn(HI, 1, 0, 5, 10);
  assert.equal(table.learn(HI, 1, 0, 5, 12), LearnResult.Refreshed);
  assert.equal(table.previousPort, 5);
  assert.equal(table.lastSeen(HI, 1, 0), 12);
  assert.equal(table.size, 1);
});

Deno.test("table moves a key to a new port only once it is older than min persistence", () => {
  const table = new MacTable({ minPersistenceSeconds: 3 });
  table.learn(HI, 1, 0, 5, 10);
  assert.equal(table.learn(HI, 1, 0, 6, 13), LearnResult.Kept, "exactly 3 s is not older than 3 s");
  assert.equal(table.previousPort, 5);
  assert.equal(table.lookup(HI, 1, 0), 5);
  assert.equal(table.lastSeen(HI, 1, 0), 10, "a refused move does not refresh the entry");
  assert.equal(table.learn(HI, 1, 0, 6, 13.5), LearnResult.Moved);
  assert.equal(table.previousPort, 5);
  assert.equal(table.lookup(HI, 1, 0), 6);
  assert.equal(table.lastSeen(HI, 1, 0), 13.5);
});

Deno.test("table expires entries whose last-seen plus lifetime is before now", () => {
  const table = new MacTable();
  table.learn(HI, 1, 0, 1, 0);
  table.learn(HI, 2, 0, 1, 50);
  assert.equal(table.expire(100, 100), 0, "an entry exactly 100 s old stays");
  assert.equal(table.expire(100.5, 100), 1);
  assert.equal(table.lookup(HI, 1, 0), -1);
  assert.equal(table.lookup(HI, 2, 0), 1);
});

Deno.test("table deletes every entry of a port and tells which", () => {
  const table = new MacTable();
  for (let i = 0; i < 200; i++) table.learn(HI, i, i % 3, i % 4, 0);
  const removed: number[] = [];
  assert.equal(table.deletePort(2, (_hi, lo, _vlan, port) => removed.push(lo * 10 + port)), 50);
  assert.equal(removed.length, 50);
  assert.ok(removed.every((x) => x % 10 === 2));
  assert.equal(table.size, 150);
  for (let i = 0; i < 200; i++) assert.equal(table.lookup(HI, i, i % 3), i % 4 === 2 ? -1 : i % 4);
});

Deno.test("table deletes every entry of a VLAN", () => {
  const table = new MacTable();
  for (let i = 0; i < 30; i++) table.learn(HI, i, i % 3, 1, 0);
  assert.equal(table.deleteVlan(1), 10);
  for (let i = 0; i < 30; i++) assert.equal(table.lookup(HI, i, i % 3), i % 3 === 1 ? -1 : 1);
});

Deno.test("table deletes the entries of a port in a VLAN, or every entry, and tells which", () => {
  const table = new MacTable();
  for (let i = 0; i < 120; i++) table.learn(HI, i, i % 3, i % 4, 0);
  const removed: number[] = [];
  assert.equal(table.deleteMatching(2, 1, (_hi, lo) => removed.push(lo)), 10);
  assert.ok(removed.every((lo) => lo % 4 === 2 && lo % 3 === 1));
  for (let i = 0; i < 120; i++) {
    assert.equal(table.lookup(HI, i, i % 3), i % 4 === 2 && i % 3 === 1 ? -1 : i % 4);
  }
  assert.equal(table.deleteMatching(-1, -1), 110);
  assert.equal(table.size, 0);
});

Deno.test("table grows as it fills and keeps every entry reachable", () => {
  const table = new MacTable();
  const initial = table.capacity;
  for (let i = 0; i < 5000; i++) {
    assert.equal(table.learn(i & 0xffff, i * 7919, i & 7, i % 32, i), LearnResult.New);
  }
  assert.ok(table.capacity > initial);
  assert.ok(table.capacity >= table.size * 2);
  for (let i = 0; i < 5000; i++) assert.equal(table.lookup(i & 0xffff, i * 7919, i & 7), i % 32);
});

Deno.test("table stops learning new keys when full but still refreshes and moves known ones", () => {
  const table = new MacTable({ maxEntries: 4 });
  for (let i = 0; i < 4; i++) assert.equal(table.learn(HI, i, 0, 1, 0), LearnResult.New);
  assert.equal(table.learn(HI, 99, 0, 1, 0), LearnResult.Full);
  assert.equal(table.previousPort, -1);
  assert.equal(table.lookup(HI, 99, 0), -1);
  assert.equal(table.size, 4);
  assert.equal(table.capacity, 8, "capacity stops at twice maxEntries");
  assert.equal(table.learn(HI, 0, 0, 1, 1), LearnResult.Refreshed);
  assert.equal(table.learn(HI, 1, 0, 2, 10), LearnResult.Moved);
  table.delete(HI, 2, 0);
  assert.equal(table.learn(HI, 99, 0, 1, 10), LearnResult.New, "room freed is usable again");
});

Deno.test("table stays consistent under random learn and delete against a Map model", () => {
  // Small key space and capacity so probe runs collide, wrap and shift often.
  const random = prng(12345);
  const table = new MacTable({ maxEntries: 64 });
  const model = new Map<string, number>();
  for (let step = 0; step < 20000; step++) {
    const lo = Math.floor(random() * 100);
    const vlan = Math.floor(random() * 2);
    const key = `${lo}/${vlan}`;
    const r = random();
    if (r < 0.5) {
      const result = table.learn(HI, lo, vlan, lo % 7, 1000);
      if (!model.has(key)) {
        if (model.size < 64) {
          assert.equal(result, LearnResult.New);
          model.set(key, lo % 7);
        } else {
          assert.equal(result, LearnResult.Full);
        }
      }
    } else if (r < 0.8) {
      assert.equal(table.delete(HI, lo, vlan), model.delete(key));
    } else if (r < 0.81) {
      const port = Math.floor(random() * 7);
      const expected = [...model.values()].filter((p) => p === port).length;
      assert.equal(table.deletePort(port), expected);
      for (const [k, p] of model) if (p === port) model.delete(k);
    }
    assert.equal(table.size, model.size);
  }
  for (let lo = 0; lo < 100; lo++) {
    for (let vlan = 0; vlan < 2; vlan++) {
      assert.equal(table.lookup(HI, lo, vlan), model.get(`${lo}/${vlan}`) ?? -1);
    }
  }
});

Deno.test("table finds each key where it is now, right after the same key was found elsewhere, against a Map model", () => {
  // The same keys over and over, as a burst's frames carry them, while removals shift entries back
  // and ports change: a key last found in one slot must be found wherever it is now, or not at all.
  // Low halves above 2^31 come signed or unsigned (the same bits), as the engine and the console give them.
  const random = prng(777);
  const table = new MacTable({ maxEntries: 32, minPersistenceSeconds: 0 });
  const model = new Map<string, number>();
  const loOf = (k: number) => (k % 2 === 0 ? k : 0x80000000 + k);
  for (let step = 0; step < 20000; step++) {
    const k = Math.floor(random() * 48);
    const key = `${k}`;
    const lo = random() < 0.5 ? loOf(k) : loOf(k) | 0;
    const r = random();
    if (r < 0.4) {
      const port = 1 + Math.floor(random() * 3);
      const had = model.get(key);
      const result = table.learn(HI, lo, 0, port, step);
      if (had === undefined) {
        assert.equal(result, model.size < 32 ? LearnResult.New : LearnResult.Full);
        if (result === LearnResult.New) model.set(key, port);
      } else {
        assert.equal(result, had === port ? LearnResult.Refreshed : LearnResult.Moved);
        model.set(key, port);
      }
    } else if (r < 0.85) {
      assert.equal(table.lookup(HI, lo, 0), model.get(key) ?? -1, `step ${step}: key ${k}`);
    } else if (r < 0.99) {
      assert.equal(table.delete(HI, lo, 0), model.delete(key));
    } else {
      const port = 1 + Math.floor(random() * 3);
      table.deletePort(port);
      for (const [mk, p] of model) if (p === port) model.delete(mk);
    }
    assert.equal(table.size, model.size);
  }
  const listed = new Map([...table.entries()].map((e) => [e.mac, e.port]));
  for (const [key, port] of model) {
    const lo = loOf(Number(key));
    assert.equal(listed.get(formatMacNumbers(HI, lo)), port, "listed with its unsigned low half");
  }
});

Deno.test("table entries yield printable MAC, VLAN, port and last-seen", () => {
  const table = new MacTable();
  table.learn(0x0200, 0x00000001, 10, 3, 7);
  table.learn(0x5254, 0x00123402, 0, 5, 8);
  const entries = [...table.entries()].sort((a, b) => a.port - b.port);
  assert.deepEqual(entries, [
    { mac: "02:00:00:00:00:01", vlan: 10, port: 3, lastSeen: 7 },
    { mac: "52:54:00:12:34:02", vlan: 0, port: 5, lastSeen: 8 },
  ]);
  table.clear();
  assert.equal(table.size, 0);
  assert.deepEqual([...table.entries()], []);
});

Deno.test("table refuses a maxEntries that is not a positive integer", () => {
  assert.throws(() => new MacTable({ maxEntries: 0 }), RangeError);
  assert.throws(() => new MacTable({ maxEntries: 1.5 }), RangeError);
});

Deno.test("vdeHashIndex reproduces the bucket indices vde_switch printed", () => {
  // Observed with 128 buckets (spec 5.4, 5.5, 6.1).
  const vectors: [string, number, number][] = [
    ["02:00:00:00:00:01", 0, 43],
    ["02:00:00:00:00:01", 10, 9],
    ["02:00:00:00:00:02", 10, 26],
    ["02:00:00:00:00:03", 10, 31],
    ["02:00:00:00:00:04", 0, 77],
    ["02:00:00:00:00:09", 0, 85],
    ["52:54:00:12:34:02", 0, 51],
    ["52:54:00:12:34:01", 0, 127],
  ];
  for (const [mac, vlan, index] of vectors) {
    assert.equal(vdeHashIndex(valueOf(parseMacText(mac)), vlan, 128), index, `${mac} VLAN ${vlan}`);
  }
});

Deno.test("vdeHashIndex refuses a short MAC and a bucket count that is not a power of two", () => {
  assert.throws(() => vdeHashIndex(new Uint8Array(5), 0, 128), RangeError);
  assert.throws(() => vdeHashIndex(new Uint8Array(6), 0, 100), RangeError);
  assert.throws(() => vdeHashIndex(new Uint8Array(6), 0, 0), RangeError);
  assert.equal(vdeHashIndex(new Uint8Array(6), 0, 1), 0);
});

Deno.test("a table in shared memory: the writer's entries are read by a reader whose changes do nothing", () => {
  const buffer = MacTable.sharedBuffer(64);
  const writer = new MacTable({ maxEntries: 64, shared: { buffer, writer: true } });
  const reader = new MacTable({ maxEntries: 64, shared: { buffer, writer: false } });
  assert.equal(writer.learn(HI, 1, 0, 5, 10), LearnResult.New);
  assert.equal(writer.learn(HI, 2, 3, 6, 11), LearnResult.New);
  assert.equal(reader.size, 2);
  assert.equal(reader.lookup(HI, 2, 3), 6);
  assert.equal(reader.learn(HI, 9, 0, 1, 12), LearnResult.Full, "a reader learns nothing");
  assert.equal(reader.deletePort(5), 0);
  reader.clear();
  assert.equal(writer.size, 2, "a reader's clear leaves the writer's table alone");
  writer.deletePort(5);
  assert.deepEqual([...reader.entries()].map((e) => e.port), [6]);
  assert.equal(reader.size, 1);
});

Deno.test("a table's shared storage reads empty to a reader before any writer has touched it", () => {
  const buffer = MacTable.sharedBuffer(64);
  const reader = new MacTable({ maxEntries: 64, shared: { buffer, writer: false } });
  assert.equal(reader.size, 0);
  assert.deepEqual([...reader.entries()], [], "zeroed slots would read as entries on port 0");
  assert.equal(reader.lookup(0, 0, 0), -1);
});

/** Every key of a table as "lo/vlan", sorted. */
function keysOf(table: MacTable): string[] {
  return [...table.entries()].map((e) => `${parseInt(e.mac.replaceAll(":", "").slice(4), 16)}/${e.vlan}`)
    .sort();
}

/** A table of `entries` keys in shared storage (fixed capacity, as the switch thread's), last seen at 0..99. */
function agedTable(maxEntries: number, entries: number, seed: number): MacTable {
  const random = prng(seed);
  const table = new MacTable({
    maxEntries,
    seed,
    shared: { buffer: MacTable.sharedBuffer(maxEntries), writer: true },
  });
  for (let i = 0; table.size < entries; i++) {
    table.learn(HI, i * 7919, i % 5, 1 + (i % 9), Math.floor(random() * 100));
  }
  return table;
}

Deno.test("table ages in pieces: a call looks at no more than its slot budget, a removal counting as slots", () => {
  const table = agedTable(4096, 4096, 7);
  const budget = 100;
  let calls = 0;
  let removedAll = 0;
  do {
    const before = table.sweepPosition;
    const removed = table.expireSome(150, 100, budget); // entries last seen before 50 s go
    const after = table.sweeping ? table.sweepPosition : table.slots;
    assert.ok(after >= before, "nothing moved but the pass: the cursor only goes forwards");
    assert.ok(
      after - before + removed <= budget,
      `call ${calls} looked at ${after - before} slots and removed ${removed}`,
    );
    removedAll += removed;
    calls++;
  } while (table.sweeping);
  assert.ok(calls > table.slots / budget, "the removals took budget of their own");
  assert.ok(removedAll > 1500 && removedAll < 2600, `removed ${removedAll} of 4096`);
  assert.equal(keysOf(table).length, 4096 - removedAll);
  for (const e of table.entries()) assert.ok(e.lastSeen >= 50);
  // Nothing due: each call moves the cursor by exactly its budget.
  const positions: number[] = [];
  do {
    table.expireSome(150, 100, 1000);
    positions.push(table.sweeping ? table.sweepPosition : table.slots);
  } while (table.sweeping);
  assert.equal(positions.length, Math.ceil(table.slots / 1000));
  assert.deepEqual(positions.slice(0, 3), [1000, 2000, 3000]);
});

Deno.test("table ages the same entries in one full pass and in many small ones when nothing else changes", () => {
  for (const seed of [1, 2, 3]) {
    const whole = agedTable(2048, 2000, seed);
    const pieces = agedTable(2048, 2000, seed);
    const removedWhole: string[] = [];
    const removedPieces: string[] = [];
    const note = (into: string[]) => (_hi: number, lo: number, vlan: number) =>
      into.push(`${lo / 7919}/${vlan}`);
    const n = whole.expire(160, 100, note(removedWhole));
    let calls = 0;
    do {
      pieces.expireSome(160, 100, 64, note(removedPieces));
      calls++;
    } while (pieces.sweeping);
    assert.ok(n > 0 && calls > 64, `seed ${seed}: ${n} removed in ${calls} calls`);
    assert.deepEqual(removedPieces.sort(), removedWhole.sort());
    assert.deepEqual(keysOf(pieces), keysOf(whole));
    assert.equal(pieces.size, whole.size);
  }
});

Deno.test("table ages in pieces through learns, deletes and moves between calls, losing and double-freeing nothing", () => {
  // A small table kept full, so probe runs collide, wrap and shift across the cursor often; and a
  // big one kept sparse, whose pass skips the blocks that hold no entry.
  for (
    const [shared, maxEntries, limit] of [[true, 32, 32], [false, 32, 32], [true, 1024, 40]] as const
  ) {
    const random = prng(shared ? 2024 + maxEntries : 4202);
    const table = new MacTable({
      maxEntries,
      seed: 99,
      minPersistenceSeconds: 3,
      shared: shared ? { buffer: MacTable.sharedBuffer(maxEntries), writer: true } : undefined,
    });
    const model = new Map<string, { lo: number; vlan: number; port: number; seen: number }>();
    const expire = 20;
    let now = 0;
    let passes = 0;
    let aged = 0;
    /** Keys due when the pass began and not refreshed or deleted since: all must be gone at its end. */
    let due = new Set<string>();
    const onRemoved = (_hi: number, lo: number, vlan: number, port: number) => {
      const key = `${lo}/${vlan}`;
      const entry = model.get(key);
      assert.ok(entry !== undefined, `${key} removed but not in the table (a double free)`);
      assert.equal(entry.port, port);
      assert.ok(
        entry.seen + expire < now,
        `${key} last seen ${entry.seen} removed at ${now}: before its time`,
      );
      model.delete(key);
      due.delete(key);
      aged++;
    };
    const present = () => [...model.values()][Math.floor(random() * model.size)];
    for (let step = 0; step < 40000; step++) {
      now += random() * 0.01;
      const r = random();
      if (r < 0.4 || (r < 0.7 && model.size === 0)) {
        // A new key (refused while the table is full).
        const lo = Math.floor(random() * 100000), vlan = Math.floor(random() * 2);
        const port = 1 + Math.floor(random() * 4);
        const key = `${lo}/${vlan}`;
        if (model.has(key) || model.size >= limit) continue;
        // Learnt as if seen a while ago, so each pass finds a good share of the table due.
        const seen = now - random() * 2 * expire;
        const result = table.learn(HI, lo, vlan, port, seen);
        if (result === LearnResult.New) model.set(key, { lo, vlan, port, seen });
        else assert.equal(result, LearnResult.Full);
      } else if (r < 0.5) {
        // A known key seen again, on its port or another (a move once it is old enough).
        const e = present()!;
        const port = random() < 0.5 ? e.port : 1 + Math.floor(random() * 4);
        const result = table.learn(HI, e.lo, e.vlan, port, now);
        if (result === LearnResult.Refreshed || result === LearnResult.Moved) {
          e.port = port;
          e.seen = now;
          due.delete(`${e.lo}/${e.vlan}`);
        } else assert.equal(result, LearnResult.Kept);
      } else if (r < 0.7) {
        const e = present()!;
        assert.equal(table.delete(HI, e.lo, e.vlan), true);
        model.delete(`${e.lo}/${e.vlan}`);
        due.delete(`${e.lo}/${e.vlan}`);
      } else if (r < 0.705) {
        const port = 1 + Math.floor(random() * 4);
        table.deletePort(port);
        for (const [k, e] of model) {
          if (e.port === port) {
            model.delete(k);
            due.delete(k);
          }
        }
      } else {
        if (!table.sweeping) {
          due = new Set([...model].filter(([, e]) => e.seen + expire < now).map(([k]) => k));
        }
        table.expireSome(now, expire, 1 + Math.floor(random() * (limit < maxEntries ? 64 : 4)), onRemoved);
        if (!table.sweeping) {
          passes++;
          assert.deepEqual([...due], [], "due when the pass began, still there at its end");
        }
      }
      assert.equal(table.size, model.size);
    }
    assert.ok(passes > 100 && aged > 1000, `${passes} passes, ${aged} aged out`);
    assert.deepEqual(keysOf(table), [...model.keys()].sort());
    for (const e of model.values()) {
      assert.equal(table.lookup(HI, e.lo, e.vlan), e.port);
      assert.equal(table.lastSeen(HI, e.lo, e.vlan), e.seen);
    }
  }
});

Deno.test("table ages a sparse table in one call: blocks of slots without entries are skipped whole", () => {
  const table = agedTable(65536, 100, 5);
  assert.equal(table.slots, 131072);
  const removed = table.expireSome(150, 100, 16384);
  assert.equal(table.sweeping, false, "100 entries in 131,072 slots: one call of 16,384 slots did the pass");
  assert.ok(removed > 20 && removed < 80, `${removed} removed`);
  for (const e of table.entries()) assert.ok(e.lastSeen >= 50);
  // Full, the same table takes a call per 16,384 slots.
  for (let i = 0; table.size < 65536; i++) table.learn(0x0300, i, 0, 1, 140);
  let calls = 0;
  do {
    table.expireSome(150, 100, 16384);
    calls++;
  } while (table.sweeping);
  assert.equal(calls, 8);
});
