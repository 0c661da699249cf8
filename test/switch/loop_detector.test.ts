/** The loop detector: a MAC that keeps moving is a suspected loop; a host that moved once is not. */
import assert from "node:assert/strict";
import {
  FLAP_MOVES,
  FLAP_SECONDS,
  LoopDetector,
  MoveVerdict,
  STORM_MOVES,
  WARN_INTERVAL_SECONDS,
  WARN_PAIRS,
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

/** MAC number `i` of a user's own, as the table keeps it (hi, lo). */
const userMac = (i: number): [number, number] => [0x0200, 0x1000 + i];

Deno.test("a user's two ports moving 200 MACs slowly (each below the thresholds) cannot keep a loop's MAC unfollowed", () => {
  const d = new LoopDetector(0x5eed);
  // Each of the user's MACs moves between its ports 4 and 5 every 1.5 s, staggered: every slot sees one of
  // them move often enough to stay held, none moves often enough to be a loop.
  const user = (t: number) => {
    for (let i = 0; i < 200; i++) {
      const step = Math.floor((t - i * 0.0075) / 1.5);
      if (step < 0) continue;
      const [hi, lo] = userMac(i);
      const port = step % 2 === 0 ? 4 : 5;
      d.note(hi, lo, 0, port, port === 4 ? 5 : 4, 0, t, true);
    }
  };
  for (let t = 0; t < 3; t += 0.01) user(t);
  // Now a loop: one host's MAC circles between ports 2 and 3 a hundred times a second.
  let warned = -1;
  for (let t = 3; t < 13 && warned < 0; t += 0.01) {
    user(t);
    const port = Math.round(t * 100) % 2 === 0 ? 2 : 3;
    if (d.note(HI, LO, 0, port, port === 2 ? 3 : 2, 0, t, true) === MoveVerdict.Warn) warned = t;
  }
  assert.ok(warned >= 3 && warned < 3.5, `the loop warned at ${warned} s`);
  assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
});

Deno.test("a loop between two ports is said even when another pair's flapping was said within the minute", () => {
  const d = new LoopDetector();
  const storm = (hi: number, lo: number, a: number, b: number, t0: number) => {
    let warns = 0;
    for (let i = 0; i < 4 * FLAP_MOVES; i++) {
      const port = i % 2 === 0 ? a : b;
      if (d.note(hi, lo, 0, port, port === a ? b : a, 0, t0 + i * 0.01, true) === MoveVerdict.Warn) warns++;
    }
    return warns;
  };
  const [hi, lo] = userMac(1);
  assert.equal(storm(hi, lo, 4, 5, 0), 1);
  assert.equal(storm(HI, LO, 2, 3, 2), 1, "the loop on ports 2 and 3");
  // Each pair once a minute.
  assert.equal(storm(HI, LO, 2, 3, 10), 0);
  assert.equal(storm(HI, LO, 2, 3, 10 + WARN_INTERVAL_SECONDS), 1);
});

Deno.test("loop warnings of a fifth pair of ports within the minute wait until one of the four said is a minute old, then come", () => {
  const d = new LoopDetector();
  const storm = (lo: number, a: number, b: number, t0: number) => {
    let warns = 0;
    for (let i = 0; i < 4 * FLAP_MOVES; i++) {
      const port = i % 2 === 0 ? a : b;
      if (d.note(HI, lo, 0, port, port === a ? b : a, 0, t0 + i * 0.01, true) === MoveVerdict.Warn) warns++;
    }
    return warns;
  };
  // Four pairs said (the log's bound), a few seconds apart.
  for (let k = 0; k < 4; k++) assert.equal(storm(0x100 + k, 10 + 2 * k, 11 + 2 * k, 2 * k), 1, `pair ${k}`);
  // A fifth storms on: unsaid while those four are fresh, said once the first is a minute old.
  assert.equal(storm(0x200, 2, 3, 10), 0);
  assert.equal(storm(0x200, 2, 3, WARN_INTERVAL_SECONDS - 1), 0);
  assert.equal(storm(0x200, 2, 3, WARN_INTERVAL_SECONDS + 0.5), 1);
});

/**
 * A user's `ports` ports (10, 11, ...), each pair of them with `perPair` MACs moving between its two ports
 * every 1.5 s, staggered: each moves too slowly to be a loop, but often enough to keep a slot it holds. The
 * table moves each at once and its old port hears no more of it: one note per move, none back and forth.
 * Returns the function that plays them up to `t` on clock `at`.
 */
function slowMovers(d: LoopDetector, ports: number, perPair: number, at: (t: number) => number) {
  const macs: [number, number, number, number][] = [];
  for (let a = 0; a < ports; a++) {
    for (let b = a + 1; b < ports; b++) {
      for (let k = 0; k < perPair; k++) macs.push([0x0200, 0x10000 + macs.length, 10 + a, 10 + b]);
    }
  }
  const steps = new Int32Array(macs.length).fill(-1);
  return (t: number) => {
    macs.forEach(([hi, lo, a, b], i) => {
      const step = Math.floor((t - (i * 1.5) / macs.length) / 1.5);
      if (step === steps[i]) return;
      steps[i] = step;
      const port = step % 2 === 0 ? a : b;
      d.note(hi, lo, 0, port, port === a ? b : a, 0, at(t), true);
    });
  };
}

Deno.test("a user's 12 or 16 ports moving MACs slowly (a MAC or more per pair of ports) cannot keep a loop's MAC unfollowed: said within 3 s, on a fine clock or a data-plane thread's 1 s one", () => {
  // User ports, MACs per pair of them, the clock's tick (1: a data-plane thread's), seconds.
  const cases: [number, number, number][] = [[12, 1, 0.01], [12, 4, 0.01], [16, 1, 0.01], [16, 4, 0.01], [
    16,
    4,
    1,
  ]];
  for (const [ports, perPair, clock] of cases) {
    const d = new LoopDetector(0x5eed);
    const at = (t: number) => Math.floor(t / clock + 1e-9) * clock;
    const user = slowMovers(d, ports, perPair, at);
    for (let t = 0; t < 5; t += 0.01) user(t);
    // Now a loop: one host's MAC circles between ports 2 and 3 a hundred times a second.
    let warned = -1;
    for (let t = 5; t < 35 && warned < 0; t += 0.01) {
      user(t);
      const port = Math.round(t * 100) % 2 === 0 ? 2 : 3;
      if (d.note(HI, LO, 0, port, port === 2 ? 3 : 2, 0, at(t), true) === MoveVerdict.Warn) warned = t;
    }
    assert.ok(
      warned >= 5 && warned < 8,
      `${ports} ports, ${perPair} MACs a pair, clock ${clock} s: the loop warned at ${warned} s`,
    );
    assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
  }
});

Deno.test("a flood of MACs each moving once (20,000 a second, a few landing in every slot between a loop's moves) does not keep a loop's MAC from taking a slot from a user's slow movers: said within 1 s", () => {
  const d = new LoopDetector(0x5eed);
  const user = slowMovers(d, 16, 4, (t) => t);
  for (let t = 0; t < 5; t += 0.01) user(t);
  // Every 50 µs a new MAC moves once, between one of 8 pairs of ports; every 10 ms the loop's MAC moves.
  let flood = 0x500000;
  let warned = -1;
  for (let i = 0; i < 30 * 20_000 && warned < 0; i++) {
    const t = 5 + i / 20_000;
    if (i % 200 === 0) {
      user(t);
      const port = (i / 200) % 2 === 0 ? 2 : 3;
      if (d.note(HI, LO, 0, port, port === 2 ? 3 : 2, 0, t, true) === MoveVerdict.Warn) warned = t;
    }
    const p = 20 + (flood & 7);
    d.note(0x0300, flood++, 0, p, p + 8, 0, t, true);
  }
  assert.ok(warned >= 5 && warned < 6, `the loop warned at ${warned} s`);
  assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
});

Deno.test("a slow loop (100 moves a second) is said within 3 s while a flood of 20,000 new MACs a second, each moving twice, lands in every slot; a storm (1,000 a second) within 1 s", () => {
  // The flood's second move of a MAC comes at once, or 1 ms or 100 ms after its first (steps of 50 µs).
  const cases: [number, number][] = [[100, 3], [1000, 1]];
  for (const [rate, within] of cases) {
    for (const gap of [0, 20, 2000]) {
      const d = new LoopDetector(0x5eed);
      const user = slowMovers(d, 16, 4, (t) => t);
      // The flood: a new MAC every 50 µs shows on a port other than its learned one (the table keeps it
      // there), then on a third; 8 pairs of ports. The loop starts once the flood holds the slots.
      const move = (n: number, second: boolean, t: number) => {
        const p = 20 + (n & 7);
        d.note(0x0300, 0x500000 + n, 0, second ? p + 16 : p + 8, p, 0, t, false);
      };
      let warned = -1;
      const every = 20_000 / rate;
      for (let i = 0; i < 40 * 20_000 && warned < 0; i++) {
        const t = i / 20_000;
        if (i % 200 === 0) user(t);
        if (t >= 5 && i % every === 0) {
          const port = (i / every) % 2 === 0 ? 2 : 3;
          if (d.note(HI, LO, 0, port, 1, 0, t, false) === MoveVerdict.Warn) warned = t;
        }
        move(i, false, t);
        if (i >= gap) move(i - gap, true, t);
      }
      assert.ok(
        warned >= 5 && warned < 5 + within,
        `${rate} moves/s, gap ${gap}: the loop warned at ${warned} s`,
      );
      assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
    }
  }
});

/**
 * A user's five pairs of ports (10-11, 12-13, ...), one MAC on each going back and forth 20 times a second from
 * `t0` on: flapping past FLAP_MOVES, said for four pairs, which then hold the log budget for the minute.
 * Returns the function that plays them at `t` and counts their warnings.
 */
function fivePairsFlapping(d: LoopDetector) {
  const said = new Set<number>();
  return {
    said,
    play(t: number) {
      for (let k = 0; k < 5; k++) {
        const a = 10 + 2 * k;
        const port = Math.floor(t * 20 + k / 5) % 2 === 0 ? a : a + 1;
        if (d.note(0x0200, 0x100 + k, 0, port, port === a ? a + 1 : a, 0, t, true) === MoveVerdict.Warn) {
          said.add(k);
        }
      }
    },
  };
}

Deno.test("a loop's storm is warned within 3 s while five flapping pairs hold the log budget; the fifth pair's flapping is still held back", () => {
  // The storm: one MAC between ports 2 and 3, 2,000 moves a second; or 8 hosts' MACs, 40 a second each.
  const storms: [number, number][] = [[1, 2000], [8, 40]];
  for (const [macs, rate] of storms) {
    const d = new LoopDetector(0x5eed);
    const user = fivePairsFlapping(d);
    for (let t = 0; t < 5; t += 0.05) user.play(t);
    assert.equal(user.said.size, WARN_PAIRS, "four flapping pairs said");
    let warned = -1;
    for (let i = 0; 5 + i / 4000 < 15 && warned < 0; i++) {
      const t = 5 + i / 4000;
      if (i % 200 === 0) user.play(t);
      const step = Math.floor(t * rate * macs);
      if (step === Math.floor((t - 1 / 4000) * rate * macs)) continue;
      const port = Math.floor(step / macs) % 2 === 0 ? 2 : 3;
      if (d.note(HI, LO + (step % macs), 0, port, 1, 0, t, false) === MoveVerdict.Warn) warned = t;
    }
    assert.ok(warned >= 5 && warned < 8, `${macs} MACs at ${rate} moves/s: the storm warned at ${warned} s`);
    assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
    // One MAC learned on port 1 showing on 2 and 3: on three ports, a storm from its first flapping moves.
    if (macs === 1) assert.ok(d.suspect.moves > FLAP_MOVES && d.suspect.moves < STORM_MOVES);
    for (let t = 8; t < WARN_INTERVAL_SECONDS - 1; t += 0.05) user.play(t);
    assert.equal(user.said.size, WARN_PAIRS, "the fifth flapping pair waits for the minute");
  }
});

Deno.test("back-and-forth on a pair of ports (one MAC, under STORM_MOVES) does not take the storms' log budget", () => {
  const d = new LoopDetector(0x5eed);
  const user = fivePairsFlapping(d);
  for (let t = 0; t < 5; t += 0.05) user.play(t);
  // Two MACs going back and forth on a sixth pair, 500 moves a second each: fast flapping, no storm.
  let warned = 0;
  for (let t = 5; t < 20; t += 0.001) {
    if (Math.round(t * 1000) % 50 === 0) user.play(t);
    const port = Math.round(t * 1000) % 2 === 0 ? 2 : 3;
    if (
      d.note(HI, LO + (Math.round(t * 1000) % 4 < 2 ? 0 : 1), 0, port, port === 2 ? 3 : 2, 0, t, true) ===
        MoveVerdict.Warn
    ) warned++;
  }
  assert.equal(warned, 0);
});

Deno.test("on a data-plane thread's 1 s clock, a user's slow movers landing first in every tick do not keep a loop's MAC out of its slot's challenger place for the tick: said within 1 s", () => {
  for (let seed = 1; seed <= 8; seed++) {
    const d = new LoopDetector(Math.imul(seed, 0x9e3779b1));
    // Every frame of a tick comes at one instant; the user's MACs move at its start, before the loop's.
    const at = (t: number) => Math.floor(t + 1e-9);
    const user = slowMovers(d, 16, 4, at);
    let warned = -1;
    for (let i = 0; i < 3000 && warned < 0; i++) {
      const t = i / 100;
      user(at(t));
      if (t < 5) continue;
      const port = i % 2 === 0 ? 2 : 3;
      if (d.note(HI, LO, 0, port, port === 2 ? 3 : 2, 0, at(t), false) === MoveVerdict.Warn) warned = t;
    }
    assert.ok(warned >= 5 && warned < 6, `seed ${seed}: the loop warned at ${warned} s`);
  }
});

Deno.test("on the switch thread's clock, a slow loop (100 moves/s) under a flood of 20,000 new MACs a second each moving twice is said within 3 s", () => {
  // The thread ticks the engine once a second but stamps each turn's moves with the time it read at that
  // turn's wait (SwitchEngine.stamp): a turn every 50 µs here. On the tick's time alone, one seed in 20
  // went unsaid for 35 s and another for 17 s: within a tick a flood's MAC that moved twice held its slot's
  // challenger place for the whole tick. The loop's moves fall between the flood's (not at a tick's start).
  const turn = (t: number) => Math.floor(t * 20_000 + 1e-6) / 20_000;
  for (const gap of [0, 20, 2000]) {
    for (let seed = 1; seed <= 20; seed++) {
      const d = new LoopDetector(Math.imul(seed, 0x9e3779b1));
      const user = slowMovers(d, 16, 4, turn);
      const move = (n: number, second: boolean, t: number) => {
        const p = 20 + (n & 7);
        d.note(0x0300, 0x500000 + n, 0, second ? p + 16 : p + 8, p, 0, turn(t), false);
      };
      let warned = -1;
      for (let i = 0; i < 10 * 20_000 && warned < 0; i++) {
        const t = i / 20_000;
        if (i % 200 === 0) user(t);
        if (t >= 5 && i % 200 === 77) {
          const port = Math.floor(i / 200) % 2 === 0 ? 2 : 3;
          if (d.note(HI, LO, 0, port, 1, 0, turn(t), false) === MoveVerdict.Warn) warned = t;
        }
        move(i, false, t);
        if (i >= gap) move(i - gap, true, t);
      }
      assert.ok(warned >= 5 && warned < 8, `gap ${gap}, seed ${seed}: the loop warned at ${warned} s`);
      assert.deepEqual([d.suspect.from, d.suspect.to].sort(), [2, 3]);
    }
  }
});

Deno.test("a loop circling one MAC far below STORM_MOVES is said within a second while five flapping pairs hold the log budget: it shows on three ports (its host's and the loop's two), back-and-forth on two", () => {
  for (const rate of [20, 100, 500]) {
    for (const tableFollows of [false, true]) {
      const d = new LoopDetector(0x5eed);
      const user = fivePairsFlapping(d);
      for (let t = 0; t < 5; t += 0.05) user.play(t);
      assert.equal(user.said.size, WARN_PAIRS, "four flapping pairs said");
      // The host on port 1 sends every 0.1 s; each of its frames comes back round the loop on ports 2 and 3
      // in turn, `rate` showings a second. The table keeps it on port 1 (moves within 3 s of its last frame
      // there are refused), or follows it round, then back to port 1 when the host sends.
      let learned = 1;
      let seen = 0;
      let warned = -1;
      for (let i = 0; warned < 0 && i < 10 * rate; i++) {
        const t = 5 + i / rate;
        if (i % 5 === 0) user.play(t);
        if (Math.floor(t * 10) !== Math.floor((t - 1 / rate) * 10)) {
          // The host's frame: on its own port, a move back when the table had followed the loop.
          if (learned !== 1 && d.note(HI, LO, 0, 1, learned, seen, t, true) === MoveVerdict.Warn) warned = t;
          learned = 1;
          seen = t;
        }
        const port = i % 2 === 0 ? 2 : 3;
        if (d.note(HI, LO, 0, port, learned, seen, t, tableFollows) === MoveVerdict.Warn) warned = t;
        if (tableFollows) {
          learned = port;
          seen = t;
        }
      }
      assert.ok(
        warned >= 5 && warned < 6,
        `${rate} moves/s, table follows ${tableFollows}: said at ${warned} s`,
      );
      // Said of the loop's two ports, or (the table following it round) of the host's and one of them.
      const named = [d.suspect.from, d.suspect.to].sort();
      assert.ok(named[0] !== named[1] && named.every((p) => p >= 1 && p <= 3), `named ${named}`);
    }
    // The same rate on two ports (a host's or bond's back-and-forth, the table's port one of them): no storm.
    const d = new LoopDetector(0x5eed);
    const user = fivePairsFlapping(d);
    for (let t = 0; t < 5; t += 0.05) user.play(t);
    let said = 0;
    for (let i = 0; i < 10 * rate; i++) {
      const t = 5 + i / rate;
      if (i % 5 === 0) user.play(t);
      const port = i % 2 === 0 ? 2 : 3;
      if (d.note(HI, LO, 0, port, port === 2 ? 3 : 2, t, t, true) === MoveVerdict.Warn) said++;
    }
    assert.equal(said, 0, `${rate} moves/s back and forth on two ports`);
  }
});

Deno.test("a loop at line rate is said within a second while five flapping pairs and two users' bonds of three ports (balance-rr) hold the log budget: a MAC on three ports takes at most two storm entries", () => {
  const d = new LoopDetector(0x5eed);
  const user = fivePairsFlapping(d);
  // Each bond sends 20 frames a second, in turn from its three ports; the table follows.
  const bonds = [{ lo: 0x900, base: 30, learned: 30 }, { lo: 0x901, base: 40, learned: 40 }];
  let frame = 0;
  const bondsSend = (t: number) => {
    for (const b of bonds) {
      const port = b.base + (frame % 3);
      if (port !== b.learned) d.note(HI, b.lo, 0, port, b.learned, t - 0.05, t, true);
      b.learned = port;
    }
    frame++;
  };
  for (let t = 0; t < 5; t += 0.05) {
    user.play(t);
    bondsSend(t);
  }
  let warned = -1;
  let learned = 2;
  for (let i = 0; 5 + i / 4000 < 70 && warned < 0; i++) {
    const t = 5 + i / 4000;
    if (i % 200 === 0) {
      user.play(t);
      bondsSend(t);
    }
    // 2,000 moves a second between ports 2 and 3.
    if (i % 2 !== 0) continue;
    const port = (i / 2) % 2 === 0 ? 3 : 2;
    if (d.note(HI, LO, 0, port, learned, t, t, true) === MoveVerdict.Warn) warned = t;
    learned = port;
  }
  assert.ok(warned >= 5 && warned < 6, `said at ${warned} s`);
  assert.ok(d.suspect.moves > STORM_MOVES);
});
