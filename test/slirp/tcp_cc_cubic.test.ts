/**
 * CUBIC (RFC 9438) on a fake clock: the decrease, the cubic's shape around
 * the window where the last loss happened, the Reno-friendly region on a
 * short RTT, fast convergence, the 1.5x cap and undo. A "round" acknowledges
 * one window, a segment per ACK, then moves the clock by one RTT. Then the
 * whole sender on the seeded simulator, against NewReno's halving.
 */
import assert from "node:assert/strict";
import { Cubic, CUBIC_BETA, CUBIC_C } from "../../src/slirp/tcp/cc_cubic.ts";
import { simulateTransfer } from "./tcp_rig.ts";

const MSS = 1000;

/** One RTT of ACKs, a segment each; returns the window after it. */
function round(cc: Cubic, cwnd: number, now: number, rttMs: number): number {
  const segments = Math.floor(cwnd / MSS);
  for (let i = 0; i < segments; i++) cwnd = cc.avoid(cwnd, MSS, now, rttMs);
  return cwnd;
}

Deno.test("CUBIC cuts the window to 0.7 of the flight at a loss, never below two segments", () => {
  const cc = new Cubic(MSS);
  assert.equal(cc.reduce(100 * MSS), 70 * MSS);
  assert.equal(cc.wMax, 100 * MSS);
  assert.equal(cc.reduce(MSS), 2 * MSS);
});

Deno.test("CUBIC regrows fast far below the last loss, flattens around it at K, then probes beyond", () => {
  const rtt = 100; // a long path, where the cubic (not the Reno estimate) sets the pace
  const cc = new Cubic(MSS);
  let cwnd = cc.reduce(1000 * MSS);
  const k = Math.cbrt((1000 * (1 - CUBIC_BETA)) / CUBIC_C); // seconds, 9.09
  const windows: number[] = [];
  let now = 0;
  for (let r = 0; r < 160; r++) {
    cwnd = round(cc, cwnd, now, rtt);
    windows.push(cwnd / MSS);
    now += rtt;
  }
  const at = (s: number) => windows[Math.round((s * 1000) / rtt) - 1]!;
  const growth = (s: number) => at(s + 1) - at(s);
  // Concave below wMax: each second adds less than the one before.
  assert.ok(growth(1) > growth(4) && growth(4) > growth(7), `${growth(1)} ${growth(4)} ${growth(7)}`);
  // About wMax at K (the ACKs aim one RTT ahead), and flat there.
  assert.ok(Math.abs(at(k) - 1000) < 10, `at K: ${at(k)}`);
  assert.ok(growth(k - 0.5) < 5, `around K: ${growth(k - 0.5)}`);
  // Convex beyond: probing speeds up.
  assert.ok(growth(14) > growth(12) && growth(12) > growth(10), `${growth(10)} ${growth(12)} ${growth(14)}`);
  assert.ok(at(15) > 1050);
});

Deno.test("CUBIC on a short RTT grows as Reno would with its decrease: 0.53 segment a round below wMax, 1 above", () => {
  const rtt = 0.5; // slirp and a local guest
  const cc = new Cubic(MSS);
  let cwnd = cc.reduce(100 * MSS);
  let now = 0;
  const start = cwnd;
  for (let r = 0; r < 20; r++, now += rtt) cwnd = round(cc, cwnd, now, rtt);
  const perRound = (cwnd - start) / MSS / 20;
  assert.ok(perRound > 0.45 && perRound < 0.6, `${perRound} segments per round`);
  while (cwnd < 100 * MSS) cwnd = round(cc, cwnd, now += rtt, rtt);
  const past = cwnd;
  for (let r = 0; r < 20; r++, now += rtt) cwnd = round(cc, cwnd, now, rtt);
  const after = (cwnd - past) / MSS / 20;
  assert.ok(after > 0.9 && after < 1.2, `${after} segments per round past wMax`);
});

Deno.test("CUBIC's fast convergence: a second loss below the first lowers wMax further", () => {
  const cc = new Cubic(MSS);
  cc.reduce(100 * MSS);
  cc.reduce(80 * MSS);
  assert.equal(cc.wMax, (80 * MSS * (1 + CUBIC_BETA)) / 2);
  cc.reduce(200 * MSS);
  assert.equal(cc.wMax, 200 * MSS);
});

Deno.test("CUBIC grows at most 1.5x a round, and a large ACK never overshoots its target", () => {
  const cc = new Cubic(MSS);
  let cwnd = cc.reduce(10_000 * MSS);
  // Long after the loss the cubic's target is huge: the cap holds.
  cwnd = cc.avoid(cwnd, MSS, 0, 10);
  const before = cwnd;
  const after = round(cc, cwnd, 600_000, 10);
  assert.ok(after <= 1.5 * before + MSS, `${before} -> ${after}`);
  const one = cc.avoid(after, 1000 * MSS, 600_010, 10);
  assert.ok(one <= 1.5 * after, `${after} -> ${one}`);
});

Deno.test("CUBIC's undo restores the state before a spurious reduction", () => {
  const cc = new Cubic(MSS);
  let cwnd = cc.reduce(100 * MSS);
  for (let r = 0, now = 0; r < 10; r++, now += 10) cwnd = round(cc, cwnd, now, 10);
  const reference = new Cubic(MSS);
  let ref = reference.reduce(100 * MSS);
  for (let r = 0, now = 0; r < 10; r++, now += 10) ref = round(reference, ref, now, 10);
  cc.reduce(cwnd);
  cc.undo();
  assert.equal(cc.wMax, 100 * MSS);
  // Growth goes on exactly as if the reduction had never happened.
  assert.equal(cc.avoid(cwnd, MSS, 100, 10), reference.avoid(ref, MSS, 100, 10));
});

Deno.test("CUBIC does not count a pause in the ACKs as time spent probing", () => {
  const rtt = 10;
  const run = (pauseMs: number) => {
    const cc = new Cubic(MSS);
    let cwnd = cc.reduce(100 * MSS);
    let now = 0;
    for (let r = 0; r < 20; r++, now += rtt) cwnd = round(cc, cwnd, now, rtt);
    now += pauseMs;
    return round(cc, cwnd, now, rtt);
  };
  const steady = run(0);
  const afterPause = run(60_000);
  assert.ok(Math.abs(afterPause - steady) <= MSS, `${steady} then ${afterPause} after a minute's pause`);
});

Deno.test("on a lossy simulated link (0.5-2% random loss) the sender with CUBIC finishes sooner than with NewReno", () => {
  for (const [loss, delayMs] of [[0.02, 3], [0.005, 3], [0.01, 10]] as const) {
    const time = { cubic: 0, newreno: 0 };
    for (const cc of ["cubic", "newreno"] as const) {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const r = simulateTransfer({
          seed,
          loss,
          delayMs,
          bytesAB: 2_000_000,
          bytesBA: 0,
          cfgA: { congestionControl: cc },
        });
        assert.ok(r.done, `${cc}, loss ${loss}, seed ${seed}: incomplete`);
        assert.equal(r.b.mismatchAt, -1);
        time[cc] += r.simMs;
      }
    }
    assert.ok(time.cubic < time.newreno, `loss ${loss}: CUBIC ${time.cubic} ms, NewReno ${time.newreno} ms`);
  }
});
