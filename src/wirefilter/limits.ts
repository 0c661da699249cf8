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
 *
 * Each setting also says which unit word and multipliers its values may
 * carry: `100ms` for a delay and `5%` for a loss mean what wirefilter reads
 * (100, 5), so they are taken; an `M` on a delay is 2^20 ms to wirefilter,
 * never the minutes or ms it looks like, so it is refused (value.ts).
 */
import type { ParamName } from "./filter.ts";
import {
  isValueError,
  parseWireValue,
  PLAIN_FORMS,
  type ValueForms,
  type WireSetting,
  type WireValueError,
} from "./value.ts";

/** An inclusive range, and the words that say what the value is. */
export interface WireLimit {
  readonly min: number;
  readonly max: number;
  /** "a percentage", "a delay in ms", ... */
  readonly what: string;
  /** The unit word and multipliers its values may carry. */
  readonly forms: ValueForms;
}

const PERCENT: WireLimit = {
  min: 0,
  max: 100,
  what: "a percentage",
  forms: { units: ["%"], multipliers: "KMG", hint: "give a percentage, e.g. 5, 5%, 5+2N" },
};
const BYTES_PER_SECOND: WireLimit = {
  min: 0,
  max: Infinity,
  what: "bytes/second (0: no limit)",
  forms: {
    units: [],
    multipliers: "KMG",
    hint: "give bytes/second, K, M, G for 2^10, 2^20, 2^30, e.g. 128K, 10M, 1G (10 Mbit/s is 1250000)",
  },
};

/** The range of each setting. */
export const WIRE_LIMITS: Readonly<Record<ParamName, WireLimit>> = {
  loss: PERCENT,
  lostburst: {
    min: 0,
    max: Infinity,
    what: "a mean burst length in frames (0: no bursts)",
    forms: PLAIN_FORMS,
  },
  delay: {
    min: 0,
    max: 86_400_000,
    what: "a delay in ms (at most a day)",
    forms: {
      units: ["ms"],
      multipliers: "KG",
      hint: "give the delay in ms, e.g. 100, 100ms, 100+20N, 1000 for 1 s (M is 2^20, not minutes)",
    },
  },
  dup: PERCENT,
  band: BYTES_PER_SECOND,
  speed: BYTES_PER_SECOND,
  noise: { min: 0, max: 8 << 20, what: "bits damaged per Mbyte", forms: PLAIN_FORMS },
  mtu: { min: 0, max: 65535, what: "an MTU in bytes (0: none)", forms: PLAIN_FORMS },
  capacity: { min: 0, max: Infinity, what: "a buffer size in bytes (0: no limit)", forms: PLAIN_FORMS },
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
  const v = parseWireValue(text, WIRE_LIMITS[param].forms);
  if (isValueError(v)) return v;
  const error = outOfRange(param, v);
  return error === null ? v : { error };
}
