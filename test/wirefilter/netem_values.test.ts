/** Impairment values as tc netem and containerlab write them, read alike by lab links and wirefilter's netem words. */
import assert from "node:assert/strict";
import { parseDuration, parsePercent, parseRate } from "../../src/wirefilter/netem_values.ts";
import { WIRE_LIMITS } from "../../src/wirefilter/limits.ts";

Deno.test("a delay is at most a wirefilter delay's limit, a day; up to it, any unit", () => {
  assert.deepEqual(parseDuration("86400s"), { ok: true, value: WIRE_LIMITS.delay.max });
  assert.deepEqual(parseDuration("250us"), { ok: true, value: 0.25 });
  assert.deepEqual(parseDuration("86401s"), {
    ok: false,
    error: 'at most 86400s (a day), got "86401s"',
  });
});

Deno.test("a percentage is 0-100 with or without %; a rate in tc's units is bytes per second, a bare number kbit/s", () => {
  assert.deepEqual(parsePercent("2.5%"), { ok: true, value: 2.5 });
  assert.deepEqual(parsePercent("5"), { ok: true, value: 5 });
  assert.equal(parsePercent("101%").ok, false);
  assert.deepEqual(parseRate("1mbit"), { ok: true, value: 125_000 });
  assert.deepEqual(parseRate("8kbps"), { ok: true, value: 8_000 });
  assert.deepEqual(parseRate("512"), { ok: true, value: 64_000 });
  assert.equal(parseRate("1bit").ok, false);
});

Deno.test("a unit every object inherits (5constructor) is no unit: refused, not read as NaN", () => {
  assert.equal(parseDuration("5constructor").ok, false);
  assert.equal(parseRate("5constructor").ok, false);
});
