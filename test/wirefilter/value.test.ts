/**
 * wirefilter's value syntax, table-driven from what Debian's wirefilter
 * 2.3.2 shows in `showinfo` for each input (observed on its console).
 */
import assert from "node:assert/strict";
import {
  formatG,
  formatWireValue,
  isValueError,
  LR,
  parseWireValue,
  readNumber,
  RL,
} from "../../src/wirefilter/value.ts";

// input -> what wirefilter's showinfo printed for it (value+plus+alg).
const SHOWN: [string, string][] = [
  ["10", "10+0U"],
  ["20.5", "20.5+0U"],
  ["1000+500N", "1000+500N"],
  ["128+64KN", "131072+65536N"],
  ["1e2", "100+0U"],
  ["+5", "5+0U"],
  ["-3", "-3+0U"],
  ["5+", "5+0U"],
  ["5+1K", "5120+1024U"],
  ["5+1KN", "5120+1024N"],
  ["  8", "8+0U"],
  ["12N", "12+0N"],
  ["12n", "12+0N"],
  ["13U", "13+0U"],
  ["5k", "5120+0U"],
  ["5 K", "5120+0U"],
  ["7+2 N", "7+2N"],
  ["1.5e1K", "15360+0U"],
  ["14G", "1.50324e+10+0U"],
  ["2M", "2.09715e+06+0U"],
  ["0x10", "16+0U"],
  ["15+-3", "15+-3U"],
  ["0.0001", "0.0001+0U"],
  ["1e-7", "1e-07+0U"],
  ["123456789", "1.23457e+08+0U"],
  ["100K", "102400+0U"],
  ["1.5K", "1536+0U"],
];

Deno.test("parseWireValue reads every form as wirefilter shows it", () => {
  for (const [input, shown] of SHOWN) {
    const v = parseWireValue(input);
    assert.ok(!isValueError(v), `${input}: ${JSON.stringify(v)}`);
    assert.equal(formatWireValue(v), shown, `value ${JSON.stringify(input)}`);
  }
});

// Forms wirefilter reads as something else than they say: refused, naming what wirefilter makes of them.
const MISREAD: [string, string][] = [
  ["10+5Q", "10+5"],
  ["10x", "10"],
  ["9 9", "9"],
  ["5K+1", "5"],
  ["10 +5", "10"],
  ["5K N", "5"],
  ["1s", "1"],
  ["10ms", "10"],
  ["10Mbit", "10"],
  ["10MB", "10"],
  ["LR2KB", "2"],
];

Deno.test("parseWireValue refuses a form wirefilter reads otherwise than written, and says how it reads it", () => {
  for (const [input, read] of MISREAD) {
    const v = parseWireValue(input);
    assert.ok(isValueError(v), `accepted ${JSON.stringify(input)}`);
    assert.equal(
      v.error,
      `wirefilter reads "${input}" as ${read}, not as written: write NUMBER[+SPREAD][K|M|G][U|N] (K, M, G: 2^10, 2^20, 2^30)`,
    );
  }
});

Deno.test("parseWireValue takes the unit words and multipliers its caller allows, and no others", () => {
  const forms = { units: ["ms"], multipliers: "KG", hint: "in ms" };
  const taken: [string, string][] = [["10ms", "10+0U"], ["10 MS", "10+0U"], ["100+20msN", "100+20N"], [
    "2k",
    "2048+0U",
  ]];
  for (const [input, shown] of taken) {
    const v = parseWireValue(input, forms);
    if (isValueError(v)) throw new Error(`${input}: ${v.error}`);
    assert.equal(formatWireValue(v), shown, input);
  }
  for (const input of ["10m", "10M", "1s", "10%", "10ms+5", "10Kms"]) {
    const v = parseWireValue(input, forms);
    assert.ok(isValueError(v), `accepted ${JSON.stringify(input)}`);
    assert.match(v.error, /, not as written: in ms$/);
  }
});

Deno.test("parseWireValue takes LR/RL prefixes and a Markov node suffix", () => {
  const cases: [string, number[], number, string][] = [
    ["LR20+5N", [LR], 0, "20+5N"],
    ["RL7", [RL], 0, "7+0U"],
    ["LR+5", [LR], 0, "5+0U"],
    ["10", [LR, RL], 0, "10+0U"],
    ["3[1]", [LR, RL], 1, "3+0U"],
    ["LR11 [2]", [LR], 2, "11+0U"],
    ["RL1+2KN[3]", [RL], 3, "1024+2048N"],
  ];
  for (const [input, dirs, node, shown] of cases) {
    const v = parseWireValue(input);
    if (isValueError(v)) throw new Error(`${input}: ${v.error}`);
    assert.deepEqual([...v.dirs], dirs, input);
    assert.equal(v.node, node, input);
    assert.equal(formatWireValue(v), shown, input);
  }
});

Deno.test("parseWireValue refuses text with no number, and lowercase directions", () => {
  for (
    const input of ["", "LR", "RL", ".", "-", "abc", "lr5", "K", "N", "5[x]", "5[1", "5[1]x", "inf", "nan"]
  ) {
    assert.ok(isValueError(parseWireValue(input)), `accepted ${JSON.stringify(input)}`);
  }
});

Deno.test("formatG prints like C's %g", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1, "1"],
    [102400, "102400"],
    [999999, "999999"],
    [1000000, "1e+06"],
    [0.5, "0.5"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [87.5, "87.5"],
    [1740.8, "1740.8"],
    [1.23456789, "1.23457"],
    [-50, "-50"],
    [0.243391, "0.243391"],
  ];
  for (const [v, s] of cases) assert.equal(formatG(v), s, String(v));
});

Deno.test("readNumber reads a leading number like strtod", () => {
  assert.deepEqual(readNumber("12abc"), { value: 12, length: 2 });
  assert.deepEqual(readNumber("  -1.5e2x"), { value: -150, length: 8 });
  assert.deepEqual(readNumber("0x1F"), { value: 31, length: 4 });
  assert.equal(readNumber("x12"), null);
});
