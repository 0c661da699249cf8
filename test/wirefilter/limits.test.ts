/**
 * The ranges of wirefilter's settings: every parameter has one, the ends
 * are taken, a step past either end is refused in words that give the range.
 */
import assert from "node:assert/strict";
import { PARAMS } from "../../src/wirefilter/filter.ts";
import { outOfRange, parseSetting, WIRE_LIMITS } from "../../src/wirefilter/limits.ts";
import { isValueError, type WireSetting } from "../../src/wirefilter/value.ts";

const at = (value: number, plus = 0): WireSetting => ({ value, plus, alg: "U", dirs: [0, 1], node: 0 });

Deno.test("every wirefilter parameter has a range whose ends are taken and whose outside is refused", () => {
  for (const param of PARAMS) {
    const { min, max } = WIRE_LIMITS[param];
    assert.equal(outOfRange(param, at(min)), null, `${param} ${min}`);
    assert.match(
      outOfRange(param, at(min - 1)) ?? "",
      new RegExp(`, ${min} (to|or more).*: got ${min - 1}$`),
      param,
    );
    if (max === Infinity) continue;
    assert.equal(outOfRange(param, at(max)), null, `${param} ${max}`);
    assert.match(
      outOfRange(param, at(max + 1)) ?? "",
      new RegExp(`, ${min} to ${max}: got ${max + 1}$`),
      param,
    );
  }
});

Deno.test("parseSetting reads the value, then its range; only the centre is checked, not the spread", () => {
  const over = parseSetting("loss", "LR150");
  assert.ok(isValueError(over));
  assert.equal(over.error, "a percentage, 0 to 100: got 150");
  const spread = parseSetting("loss", "90+20N");
  assert.ok(!isValueError(spread));
  assert.equal(spread.plus, 20);
  const syntax = parseSetting("delay", "abc");
  assert.ok(isValueError(syntax));
  assert.match(syntax.error, /expected a number/);
  const scaled = parseSetting("mtu", "64K");
  assert.ok(isValueError(scaled), "64K is 65536, one past the largest MTU");
});
