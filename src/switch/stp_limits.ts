/**
 * What the spanning tree's settable values may be (IEEE 802.1D-2004 17.13
 * and 17.14; a forward delay from 2 s, as the Linux bridge allows), in one
 * place: the protocol machine checks them, the console and the command line
 * refuse with them, and the console's hints say them in words.
 */

/** An inclusive range. */
export type Limits = readonly [min: number, max: number];

/**
 * Bridge priority, in steps of BRIDGE_PRIORITY_STEP; the lowest becomes
 * root. RSTP keeps only its top four bits (the rest of the bridge id's
 * first 16 bits is the system id extension, 802.1D-2004 9.2.5, 17.13.7),
 * as Open vSwitch does; the Linux bridge's legacy STP takes any 16 bits.
 */
export const BRIDGE_PRIORITY: Limits = [0, 61440];
export const BRIDGE_PRIORITY_STEP = 4096;
/** A port's path cost. */
export const PATH_COST: Limits = [1, 200_000_000];
/** A port's priority, in steps of PORT_PRIORITY_STEP (only its top four bits go into the port id). */
export const PORT_PRIORITY: Limits = [0, 240];
export const PORT_PRIORITY_STEP = 16;
/** Port numbers the tree can carry: a port id has 12 bits for the number, and 0 is none. */
export const STP_PORTS: Limits = [1, 0xfff];
/** A port's adminPointToPointMAC: forced either way, or decided by what it hears (rstp.ts says how). */
export type PointToPoint = "yes" | "no" | "auto";
export const POINT_TO_POINT: readonly PointToPoint[] = ["yes", "no", "auto"];
/** Bridge timers, whole seconds. */
export const HELLO_TIME: Limits = [1, 10];
export const MAX_AGE: Limits = [6, 40];
export const FORWARD_DELAY: Limits = [2, 30];

/** Whether `value` is a whole number within `limits`. */
export function within(value: number, [min, max]: Limits): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** Whether `value` is a whole number within `limits` and a multiple of `step`. */
export function inSteps(value: number, limits: Limits, step: number): boolean {
  return within(value, limits) && value % step === 0;
}

/**
 * What a value off its steps is told, in words: the range, the step and
 * the allowed values nearest `value` (`0-61440 in steps of 4096, not 4097:
 * 4096 or 8192`). A value off its steps is refused, never rounded: a
 * priority decides which bridge is root, so the one typed is the one used.
 */
export function stepsText(value: number, [min, max]: Limits, step: number): string {
  const words = `${min}-${max} in steps of ${step}, not ${value}`;
  if (!Number.isFinite(value)) return words;
  const below = Math.min(max, Math.max(min, Math.floor(value / step) * step));
  const above = Math.min(max, below + step);
  const near = value <= below || above === below ? [below] : [below, above];
  return `${words}: ${near.join(" or ")}`;
}
