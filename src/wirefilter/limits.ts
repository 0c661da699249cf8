/**
 * What each wirefilter setting may be, in one place: the command line
 * (`vde wirefilter --loss`), the console (`loss 150`) and `wire://` options
 * refuse with these ranges, and say them in the message.
 *
 * wirefilter reads its values with atof and takes any number; a loss of
 * 150% or a negative delay is nonsense that would only look like it worked.
 * Only the centre value is checked: a spread (`50+60`) is drawn and clamped
 * per frame, as wirefilter does. The upper bounds that are not in the
 * nature of the value are where it stops making sense here: a delay past a
 * day outlives any timer worth having (and past 2^31 ms a timer fires at
 * once), an MTU past 65535 is beyond any frame the 16-bit stream length
 * can carry, and noise past 8 Mbit per Mbyte flips every bit.
 */
import type { ParamName } from "./filter.ts";
import { isValueError, parseWireValue, type WireSetting, type WireValueError } from "./value.ts";

/** An inclusive range, and the words that say what the value is. */
export interface WireLimit {
  readonly min: number;
  readonly max: number;
  /** "a percentage", "a delay in ms", ... */
  readonly what: string;
}

const PERCENT: WireLimit = { min: 0, max: 100, what: "a percentage" };
const BYTES_PER_SECOND: WireLimit = { min: 0, max: Infinity, what: "bytes/second (0: no limit)" };

/** The range of each setting. */
export const WIRE_LIMITS: Readonly<Record<ParamName, WireLimit>> = {
  loss: PERCENT,
  lostburst: { min: 0, max: Infinity, what: "a mean burst length in frames (0: no bursts)" },
  delay: { min: 0, max: 86_400_000, what: "a delay in ms (at most a day)" },
  dup: PERCENT,
  band: BYTES_PER_SECOND,
  speed: BYTES_PER_SECOND,
  noise: { min: 0, max: 8 << 20, what: "bits damaged per Mbyte" },
  mtu: { min: 0, max: 65535, what: "an MTU in bytes (0: none)" },
  capacity: { min: 0, max: Infinity, what: "a buffer size in bytes (0: no limit)" },
};

/** `0 to 100`, `0 or more`. */
function rangeText({ min, max }: WireLimit): string {
  return max === Infinity ? `${min} or more` : `${min} to ${max}`;
}

/**
 * Why `setting` is out of range for `param`, or null when it is within it.
 *
 * @example
 * ```ts
 * import { outOfRange } from "./limits.ts";
 * outOfRange("loss", { value: 150, plus: 0, alg: "U", dirs: [0, 1], node: 0 });
 * // "a percentage, 0 to 100: got 150"
 * ```
 */
export function outOfRange(param: ParamName, setting: WireSetting): string | null {
  const limit = WIRE_LIMITS[param];
  const v = setting.value;
  if (v >= limit.min && v <= limit.max) return null;
  return `${limit.what}, ${rangeText(limit)}: got ${v}`;
}

/** Parses a value for `param` and checks its range: the one way every front end reads a setting. */
export function parseSetting(param: ParamName, text: string): WireSetting | WireValueError {
  const v = parseWireValue(text);
  if (isValueError(v)) return v;
  const error = outOfRange(param, v);
  return error === null ? v : { error };
}
