/**
 * wirefilter's values: `[LR|RL]VALUE[+DELTA][K|M|G][U|N][[NODE]]` (spec 7.3).
 *
 * A value is a number with an optional spread: `50+10` is anything from 40
 * to 60, uniform by default (`U`), or normal (`N`) with a standard deviation
 * of a third of the spread, so almost every draw falls inside it. `LR` or
 * `RL` in front limits the setting to one direction; `K`, `M`, `G` multiply
 * by 2^10, 2^20, 2^30 and must be the last letter before `U`/`N`; `[n]`
 * sets it in Markov node n (default node 0).
 *
 * The number is read like C's strtod (signs, decimals, exponents, `0x` hex)
 * and whatever follows it is ignored, as wirefilter does: `10x` is 10 and
 * `5K+1` is 5 (the K is not last, so it is not a multiplier and the `+`
 * does not follow the number). Text with no number at all is refused.
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

const STRTOD = /^[+-]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/;

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

/**
 * Parses one wirefilter value.
 *
 * @param text e.g. `LR20+5N`, `128+64KN`, `10[1]`
 * @returns the setting, or an error saying what was wrong
 *
 * @example
 * ```ts
 * import { parseWireValue } from "./value.ts";
 * const v = parseWireValue("LR1+2KN");
 * // { dirs: [0], node: 0, value: 1024, plus: 2048, alg: "N" }
 * ```
 */
export function parseWireValue(text: string): WireSetting | WireValueError {
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
    node = Number(inner);
    s = s.slice(0, open);
  }
  s = s.trimEnd();
  let alg: Distribution = "U";
  const last = s.at(-1)?.toUpperCase();
  if (last === "U" || last === "N") {
    alg = last;
    s = s.slice(0, -1).trimEnd();
  }
  let mult = 1;
  const m = MULTIPLIERS[s.at(-1)?.toUpperCase() ?? ""];
  if (m !== undefined) {
    mult = m;
    s = s.slice(0, -1);
  }
  const first = readNumber(s);
  if (first === null) return { error: `expected a number, found "${text.trim()}"` };
  let plus = 0;
  const rest = s.slice(first.length);
  if (rest.startsWith("+")) plus = readNumber(rest.slice(1))?.value ?? 0;
  if (!Number.isFinite(first.value) || !Number.isFinite(plus)) {
    return { error: `expected a finite number, found "${text.trim()}"` };
  }
  return { dirs, node, value: first.value * mult, plus: plus * mult, alg };
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
