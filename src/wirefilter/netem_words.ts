/**
 * tc netem's words, said in vde's. A developer who has impaired links with
 * `tc qdisc add dev eth0 root netem delay 100ms 20ms loss 5% rate 1mbit`
 * types netem's words first: `--rate`, `duplicate`, `corrupt`, `reorder`,
 * `jitter`, `limit`, and netem's `delay TIME JITTER` with the jitter as a
 * second word. vde has two vocabularies for the same impairments:
 * wirefilter's (`vde wirefilter` options, its console, `wire://`), whose
 * names and units are vde2's (a bandwidth in bytes/s, a jitter as the
 * delay's `+spread`), and a lab link's (the file's keys and the lab shell's
 * `link`), which are netem's where it has them. Edit distance finds neither
 * (`rate` is far from `bandwidth`), so this table answers netem's word with
 * the one that does it here, its value converted where the units differ,
 * or says that a lab link has no such impairment and where one is.
 *
 * Pure text: no I/O, never throws; undefined for a word that is not
 * netem's, or that is already the same word here.
 */
import { NETEM_FRAME_BYTES as FRAME_BYTES, parseDuration, parsePercent, parseRate } from "./netem_values.ts";

/** How a hint names wirefilter's settings: as command-line options or as console commands. */
export type WirefilterStyle = "option" | "command";

/** `5%` as wirefilter's number (5), or the text as typed when it is no percentage. */
function percent(value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  const p = parsePercent(value);
  return p.ok ? String(p.value) : value;
}

/** A duration in ms, or undefined when `value` is none. */
function ms(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const d = parseDuration(value);
  return d.ok ? d.value : undefined;
}

/** A wirefilter setting's name as the style writes it: `--band` or `bandwidth`. */
function named(style: WirefilterStyle, option: string, command: string): string {
  return style === "option" ? `--${option}` : command;
}

/** A wirefilter setting with its value as the style writes it: `--band 125000` or `bandwidth 125000`. */
function say(style: WirefilterStyle, option: string, command: string, value: string): string {
  return `${named(style, option, command)} ${value}`;
}

/**
 * What netem's `word` (an option's name without dashes, or a console
 * command) with `value` is in wirefilter's terms; `delay` is the `--delay`
 * already given, or a console's current delay in ms, for netem's jitter. Undefined when `word` is no netem
 * word wirefilter names otherwise.
 *
 * @example
 * ```ts
 * import { netemForWirefilter } from "./netem_words.ts";
 * netemForWirefilter("rate", "1mbit", "option");
 * // "tc netem's rate is --band here, in bytes/s: --band 125000"
 * ```
 */
export function netemForWirefilter(
  word: string,
  value: string | undefined,
  style: WirefilterStyle,
  delay?: string,
): string | undefined {
  switch (word.toLowerCase()) {
    case "rate": {
      // A bare number is bits/s to tc (a lab file's bare rate is containerlab's kbit/s, hence the unit added).
      const r = value === undefined
        ? undefined
        : parseRate(/^\d+(\.\d+)?$/.test(value) ? `${value}bit` : value);
      const bytes = r?.ok ? String(Math.round(r.value)) : "BYTES";
      return `tc netem's rate is ${named(style, "band", "bandwidth")} here, in bytes/s: ` +
        say(style, "band", "bandwidth", bytes);
    }
    case "duplicate":
      return `tc netem's duplicate is ${named(style, "dup", "dup")} here: ${
        say(style, "dup", "dup", percent(value, "PERCENT"))
      }`;
    case "jitter": {
      const centre = ms(delay) ?? "DELAY";
      const spread = ms(value) ?? "JITTER";
      // On a console the delay may be set already: a placeholder there read as "type the word DELAY".
      const unknown = centre === "DELAY" && style === "command"
        ? "; DELAY is the delay it sets, in ms (`showinfo` shows the one now)"
        : "";
      return `tc netem's jitter is the spread of the delay here, in ms: ${
        say(style, "delay", "delay", `${centre}+${spread}`)
      }, or ${centre}+${spread}N for a normal distribution${unknown}`;
    }
    case "corrupt": {
      const p = value === undefined ? undefined : parsePercent(value);
      // netem flips one bit in that share of frames; wirefilter flips bits at a rate per megabyte.
      // At least one bit when any is asked for: 0.1% rounds to less, and --noise 0 would damage nothing.
      const perMb = p?.ok ? p.value / 100 * (1 << 20) / FRAME_BYTES : undefined;
      const bits = perMb === undefined ? "BITS" : String(perMb > 0 ? Math.max(1, Math.round(perMb)) : 0);
      return `tc netem's corrupt is ${named(style, "noise", "noise")} here, in damaged bits per megabyte: ` +
        `${say(style, "noise", "noise", bits)} damages about that share of ${FRAME_BYTES}-byte frames`;
    }
    case "reorder":
      return `tc netem's reorder is ${style === "option" ? "--nofifo" : "fifo 0"} here: ` +
        `frames then overtake each other when their delays differ, as with ${
          say(style, "delay", "delay", "100+20")
        }`;
    case "limit": {
      const n = value !== undefined && /^\d+$/.test(value) ? String(Number(value) * FRAME_BYTES) : "BYTES";
      return `tc netem's limit (frames) is ${named(style, "capacity", "chanbufsize")} here, in bytes: ` +
        `${say(style, "capacity", "chanbufsize", n)} holds that many ${FRAME_BYTES}-byte frames`;
    }
  }
  return undefined;
}

/**
 * netem's `delay TIME JITTER` (two words), in wirefilter's one value:
 * `delay 100ms 20ms` is `100+20`. Undefined unless both words are
 * durations.
 */
export function netemDelayForWirefilter(
  time: string,
  jitter: string,
  style: WirefilterStyle,
): string | undefined {
  const centre = ms(time);
  const spread = ms(jitter);
  if (centre === undefined || spread === undefined) return undefined;
  return `tc netem's delay ${time} ${jitter} (${spread} ms of jitter) is ` +
    `${say(style, "delay", "delay", `${centre}+${spread}`)} here`;
}

/**
 * What netem's `word` is for a lab link (its file's keys, the shell's
 * `link`): netem's name where the link's differs, or that a lab link has no
 * such impairment and that `vde wirefilter` has it; and wirefilter's
 * `capacity`, which a lab link takes as netem's `limit`. Undefined for words
 * a lab link shares with netem, and for words that are not netem's.
 */
export function netemForLabLink(word: string, value: string | undefined): string | undefined {
  const elsewhere = (what: string, option: string) =>
    `a lab link has no ${what} (tc netem's ${word}); \`vde wirefilter\` between two switches has it: ${option}`;
  switch (word.toLowerCase()) {
    case "duplicate":
      return `tc netem's duplicate is dup here: dup ${value ?? "PERCENT"}`;
    case "corrupt":
      return elsewhere("bit damage", "--noise");
    case "reorder":
      return elsewhere("reordering", "--nofifo with a --delay spread");
    case "capacity": {
      // wirefilter's word (bytes) where the lab link takes netem's (frames).
      const n = value !== undefined && /^\d+$/.test(value)
        ? String(Math.max(1, Math.round(Number(value) / FRAME_BYTES)))
        : "FRAMES";
      return `wirefilter's capacity (bytes) is limit here, as tc netem's, in ${FRAME_BYTES}-byte frames: limit ${n}`;
    }
  }
  return undefined;
}

/**
 * netem's `delay TIME JITTER` for a lab link, whose jitter is a key of its
 * own: `delay 100ms jitter 20ms`. Undefined unless both words are
 * durations.
 */
export function netemDelayForLabLink(time: string, jitter: string): string | undefined {
  if (ms(time) === undefined || ms(jitter) === undefined) return undefined;
  return `tc netem's delay ${time} ${jitter} is delay ${time} jitter ${jitter} here`;
}

/**
 * netem's `loss P CORRELATION`: wirefilter has no correlation, its bursts
 * are `--lostburst`'s mean length. Undefined unless the second word is a
 * percentage.
 */
function lossCorrelation(loss: string, correlation: string): string | undefined {
  if (!parsePercent(correlation).ok) return undefined;
  return `tc netem's loss ${loss} ${correlation} is --loss ${loss} here; its correlation (${correlation}) ` +
    `has no match: --lostburst N makes losses come in bursts of N frames on average`;
}

/**
 * netem's `loss P CORRELATION` for a lab link, which has no correlation.
 * Undefined unless both words are percentages.
 */
export function netemLossForLabLink(loss: string, correlation: string): string | undefined {
  if (!parsePercent(loss).ok || !parsePercent(correlation).ok) return undefined;
  return `tc netem's loss ${loss} ${correlation} is loss ${loss} here; a lab link has no loss correlation, ` +
    `\`vde wirefilter\` between two switches has loss bursts: --lostburst N`;
}

/** netem's impairment words that wirefilter takes as options of the same name. */
const SAME_NAME = new Set(["loss", "delay"]);

/** Whether `word` is one of netem's impairment keywords (`loss`, `rate`, ...), as typed to tc. */
export function isNetemWord(word: string): boolean {
  return SAME_NAME.has(word) || netemForWirefilter(word, undefined, "option") !== undefined;
}

/**
 * netem's words found in a `vde wirefilter` command line's `words`, said as
 * its options: tc's habit of keywords without dashes (`loss 5%`) and of
 * netem's jitter as the word after the delay (`--delay 100ms 20ms`), both
 * of which commander leaves as extra VNLs. Undefined when the line has
 * neither.
 */
export function netemCommandLineHint(words: readonly string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if ((w === "-d" || w === "--delay") && next !== undefined && words[i + 2] !== undefined) {
      const jitter = netemDelayForWirefilter(next, words[i + 2]!, "option");
      if (jitter !== undefined) return jitter;
    }
    if ((w === "-l" || w === "--loss" || w === "loss") && next !== undefined && words[i + 2] !== undefined) {
      const correlated = lossCorrelation(next, words[i + 2]!);
      if (correlated !== undefined) return correlated;
    }
    if (SAME_NAME.has(w) && next !== undefined) {
      const after = words[i + 2];
      const jitter = w === "delay" && after !== undefined
        ? netemDelayForWirefilter(next, after, "option")
        : undefined;
      // wirefilter reads a delay in ms only (`1s` would be 1): say netem's duration in ms.
      const value = w === "delay" ? String(ms(next) ?? next) : next;
      return jitter ?? `tc netem's "${w} ${next}" is an option here: --${w} ${value}`;
    }
    const hint = netemForWirefilter(w, next, "option");
    if (hint !== undefined) return hint;
  }
  return undefined;
}
