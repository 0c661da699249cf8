/**
 * wirefilter's values: `[LR|RL]VALUE[+DELTA][K|M|G][U|N][[NODE]]` (spec 7.3).
 *
 * A value is a number with an optional spread: `50+10` is anything from 40
 * to 60, uniform by default (`U`), or normal (`N`) with a standard deviation
 * of a third of the spread, so almost every draw falls inside it. `LR` or
 * `RL` in front limits the setting to one direction; `K`, `M`, `G` (either
 * case) multiply by 2^10, 2^20, 2^30 and must be the last letter before
 * `U`/`N`; `[n]` sets it in Markov node n (default node 0). The number is
 * read like C's strtod (signs, decimals, exponents, `0x` hex).
 *
 * Debian's wirefilter looks only at the last two letters and reads the
 * number with sscanf, ignoring whatever follows it: `delay 1s` is 1 ms,
 * `bandwidth 10Mbit` is 10 bytes/s, `5K+1` is 5, `10 +5` is 10. Those forms
 * mean something else than they say, so they are refused here, naming what
 * wirefilter would make of them and the forms that are taken. A unit word
 * that wirefilter happens to read as written (`10ms` for a delay, `5%` for
 * a loss) is taken where the caller allows it (limits.ts says which).
 */

/** Direction index: 0 is left to right (L->R), 1 is right to left (R->L). */
export type Dir = 0 | 1;

/** Left to right: frames from the first VNL (or stdin) towards the second. */
export const LR: Dir = 0;
/** Right to left. */
export const RL: Dir = 1;

/** How the spread is drawn: uniform or normal. */
export type Distribution = "U" | "N";

/** A parameter's setting: centre, spread and distribution. */
export interface WireValue {
  value: number;
  plus: number;
  alg: Distribution;
}

/** A parsed value with the directions and Markov node it applies to. */
export interface WireSetting extends WireValue {
  /** The directions it applies to: [LR], [RL] or both. */
  dirs: readonly Dir[];
  /** Markov node (0 unless `[n]` was given). */
  node: number;
}

/** Why a value was refused. */
export interface WireValueError {
  error: string;
}

const BOTH: readonly Dir[] = [LR, RL];
const ONLY_LR: readonly Dir[] = [LR];
const ONLY_RL: readonly Dir[] = [RL];

const NUMBER = "[+-]?(?:0[xX][0-9a-fA-F]+|(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)";
const STRTOD = new RegExp(`^${NUMBER}`);
/**
 * A value as written: the number, `+` and a spread right after it (as
 * sscanf's `%lf+%lf` needs), then either a multiplier with the distribution
 * right after it (wirefilter takes the multiplier only as the letter before
 * the last), or a unit word and a distribution.
 */
const WRITTEN = new RegExp(
  `^${NUMBER}(?:\\+[ \\t]*(?:${NUMBER})?)?[ \\t]*(?:([KMGkmg])?([UNun])?|([a-zA-Z%/]+?)[ \\t]*([UNun])?)$`,
);

/** Reads a number at the start of `text` like strtod; null when there is none. */
export function readNumber(text: string): { value: number; length: number } | null {
  const m = STRTOD.exec(text.replace(/^[ \t]+/, ""));
  if (m === null) return null;
  const skipped = text.length - text.replace(/^[ \t]+/, "").length;
  const s = m[0];
  const neg = s.startsWith("-");
  const body = s.replace(/^[+-]/, "");
  const value = /^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : Number(body);
  return { value: neg ? -value : value, length: skipped + s.length };
}

const MULTIPLIERS: Record<string, number> = { K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** What a parameter's values may carry besides the number, and how to say so. */
export interface ValueForms {
  /** Unit words (lower case) that wirefilter reads as written, e.g. `ms` for a delay. */
  readonly units: readonly string[];
  /** The multiplier letters taken, e.g. `KMG`. */
  readonly multipliers: string;
  /** The accepted forms in words, for the message that refuses another. */
  readonly hint: string;
}

/** Any parameter's forms: no unit word, every multiplier. */
export const PLAIN_FORMS: ValueForms = {
  units: [],
  multipliers: "KMG",
  hint: "write NUMBER[+SPREAD][K|M|G][U|N] (K, M, G: 2^10, 2^20, 2^30)",
};

/**
 * Parses one wirefilter value.
 *
 * @param text e.g. `LR20+5N`, `128+64KN`, `10[1]`
 * @param forms the unit words and multipliers taken (limits.ts has each parameter's)
 * @returns the setting, or an error saying what was wrong
 *
 * @example
 * ```ts
 * import { parseWireValue } from "./value.ts";
 * const v = parseWireValue("LR1+2KN");
 * // { dirs: [0], node: 0, value: 1024, plus: 2048, alg: "N" }
 * ```
 */
export function parseWireValue(text: string, forms: ValueForms = PLAIN_FORMS): WireSetting | WireValueError {
  let s = text.trim();
  let dirs = BOTH;
  if (s.startsWith("LR")) {
    dirs = ONLY_LR;
    s = s.slice(2);
  } else if (s.startsWith("RL")) {
    dirs = ONLY_RL;
    s = s.slice(2);
  }
  let node = 0;
  const open = s.indexOf("[");
  if (open >= 0) {
    const close = s.indexOf("]", open);
    const inner = s.slice(open + 1, close < 0 ? undefined : close).trim();
    if (!/^\d{1,6}$/.test(inner)) {
      return { error: `expected a Markov node number in [...], found "${inner}"` };
    }
    if (close < 0 || s.slice(close + 1).trim() !== "") {
      return { error: `expected [NODE] at the end of the value, found "${text.trim()}"` };
    }
    node = Number(inner);
    s = s.slice(0, open);
  }
  s = s.trim();
  const read = readAsWirefilter(s);
  if (read === null) return { error: `expected a number, found "${text.trim()}"` };
  const { value, plus, alg } = read;
  if (!Number.isFinite(value) || !Number.isFinite(plus)) {
    return { error: `expected a finite number, found "${text.trim()}"` };
  }
  const w = WRITTEN.exec(s);
  const multiplier = w?.[1]?.toUpperCase();
  const unit = w?.[3]?.toLowerCase();
  if (
    w === null || (unit !== undefined && !forms.units.includes(unit)) ||
    (multiplier !== undefined && !forms.multipliers.includes(multiplier))
  ) {
    const shown = plus === 0 ? `${value}` : `${value}+${plus}`;
    return { error: `wirefilter reads "${text.trim()}" as ${shown}, not as written: ${forms.hint}` };
  }
  return { dirs, node, value, plus, alg };
}

/**
 * Reads `s` (no direction, no node) as Debian's wirefilter does: the last
 * letter may be the distribution, the one before it the multiplier, and
 * sscanf takes a number and `+` with a spread right after it.
 */
function readAsWirefilter(s: string): WireValue | null {
  let alg: Distribution = "U";
  const last = s.at(-1)?.toUpperCase();
  if (last === "U" || last === "N") {
    alg = last;
    s = s.slice(0, -1);
  }
  const mult = MULTIPLIERS[s.at(-1)?.toUpperCase() ?? ""] ?? 1;
  const first = readNumber(s);
  if (first === null) return null;
  let plus = 0;
  const rest = s.slice(first.length);
  if (rest.startsWith("+")) plus = readNumber(rest.slice(1))?.value ?? 0;
  return { value: first.value * mult, plus: plus * mult, alg };
}

/** True when `x` is a WireValueError. */
export function isValueError(x: WireSetting | WireValueError): x is WireValueError {
  return "error" in x;
}

/**
 * Formats a number as C's `%g` does (6 significant digits, exponent form
 * below 1e-4 or from 1e6): `102400`, `0.5`, `1.50324e+10`.
 */
export function formatG(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const exp = Number(v.toExponential(5).split("e")[1]);
  if (exp < -4 || exp >= 6) {
    const [mant, e] = v.toExponential(5).split("e") as [string, string];
    const sign = e.startsWith("-") ? "-" : "+";
    const digits = e.replace(/^[+-]/, "").padStart(2, "0");
    return `${stripZeros(mant)}e${sign}${digits}`;
  }
  return stripZeros(v.toFixed(Math.max(0, 5 - exp)));
}

function stripZeros(s: string): string {
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

/** Formats a value as wirefilter's `showinfo` does: `20+10U`. */
export function formatWireValue(v: WireValue): string {
  return `${formatG(v.value)}+${formatG(v.plus)}${v.alg}`;
}
