/** The loop detector: a MAC that keeps moving is a suspected loop; a host that moved once is not. */
import assert from "node:assert/strict";
import {
  FLAP_MOVES,
  FLAP_SECONDS,
  LoopDetector,
  MoveVerdict,
  WARN_INTERVAL_SECONDS,
} from "../../src/switch/loop_detector.ts";

const HI = 0x0200;
const LO = 0x0a;

Deno.test("a MAC seen on two ports in turn more than FLAP_MOVES times in a second warns once a minute, naming both ports", () => {
  const d = new LoopDetector();
  const verdicts: number[] = [];
  for (let i = 0; i <= FLAP_MOVES; i++) {
    verdicts.push(d.note(HI, LO, 0, i % 2 === 0 ? 2 : 3, 1, 0, i * 0.05, false));
  }
  assert.deepEqual(verdicts, [...Array(FLAP_MOVES).fill(MoveVerdict.Moved), MoveVerdict.Warn]);
  assert.deepEqual(d.suspect, { hi: HI, lo: LO, vlan: 0, from: 3, to: 2, moves: FLAP_MOVES + 1 });
  let warned = 0;
  for (let t = 1; t < WARN_INTERVAL_SECONDS; t += 0.05) {
    if (d.note(HI, LO, 0, Math.round(t * 20) % 2 === 0 ? 2 : 3, 1, 0, t, false) === MoveVerdict.Warn) {
      warned++;
    }
  }
  assert.equal(warned, 0);
  const later = Array.from(
    { length: FLAP_MOVES + 2 },
    (_, i) => d.note(HI, LO, 0, i % 2 === 0 ? 3 : 2, 1, 0, WARN_INTERVAL_SECONDS + 0.5 + i * 0.01, false),
  );
  assert.ok(later.includes(MoveVerdict.Warn), later.join());
});

Deno.test("a host that moved to a new port counts one move however many frames it sends from there", () => {
  const d = new LoopDetector();
  // Its last frame on port 1 at 0 s; a coarse clock (1 s ticks) sees its new port in the same tick, and on.
  const verdicts: number[] = [];
  for (let t = 0; t < 10; t++) {
    for (let i = 0; i < 100; i++) verdicts.push(d.note(HI, LO, 0, 2, 1, 0, t, false));
  }
  assert.equal(verdicts.filter((v) => v === MoveVerdict.Moved).length, 1);
  assert.equal(verdicts.filter((v) => v === MoveVerdict.Warn).length, 0);
});

Deno.test("on a coarse clock, a MAC its learned port keeps seeing while it shows elsewhere warns within FLAP_SECONDS", () => {
  const d = new LoopDetector();
  // The table followed the storm to port 2 (refreshed there every tick); port 3 sees it too, every tick.
  let warnedAt = -1;
  for (let t = 0; t < 10 && warnedAt < 0; t++) {
    for (let i = 0; i < 1000; i++) {
      if (d.note(HI, LO, 0, 3, 2, t, t, false) === MoveVerdict.Warn) warnedAt = t;
    }
  }
  assert.ok(warnedAt >= 0 && warnedAt <= FLAP_SECONDS, String(warnedAt));
  assert.deepEqual([d.suspect.from, d.suspect.to], [2, 3]);
});

Deno.test("moves spread thinner than FLAP_MOVES a second, learned port silent, never warn", () => {
  const d = new LoopDetector();
  for (let i = 0; i < 1000; i++) {
    assert.notEqual(
      d.note(HI, LO, 0, i % 2 === 0 ? 2 : 3, 1, 0, i * (1 / FLAP_MOVES), false),
      MoveVerdict.Warn,
    );
  }
});

Deno.test("the same MAC in two VLANs is counted apart, and a switch warns once a minute whichever storms", () => {
  const d = new LoopDetector();
  let warnings = 0;
  for (let i = 0; i < 4 * FLAP_MOVES; i++) {
    const port = (i >> 1) % 2 === 0 ? 2 : 3;
    if (d.note(HI, LO, i % 2, port, 1, 0, i * 0.01, false) === MoveVerdict.Warn) warnings++;
  }
  assert.equal(warnings, 1);
});
