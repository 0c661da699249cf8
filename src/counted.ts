/**
 * A count and its noun for lines a user reads: "1 frame", "2 frames",
 * "0 frames". One place, so no line says "1 frames".
 */

/**
 * `n` followed by the noun, singular when `n` is 1.
 *
 * @param n the count
 * @param singular the noun for one
 * @param plural the noun for any other count (default: `singular` + "s")
 * @returns e.g. "1 frame", "3 frames"
 *
 * @example
 * ```ts
 * import { counted } from "./counted.ts";
 * counted(1, "frame"); // "1 frame"
 * counted(2, "entry", "entries"); // "2 entries"
 * ```
 */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/**
 * " after N frames" for a failure that came after a capture's `n` frames, or "" when it came before any:
 * "cannot write x.pcap after 0 frames" reads as a count that failed, not a file that took nothing.
 */
export function framesBefore(n: number): string {
  return n === 0 ? "" : ` after ${counted(n, "frame")}`;
}
