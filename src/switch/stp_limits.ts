/**
 * What the spanning tree's settable values may be (IEEE 802.1D-2004 17.13
 * and 17.14; a forward delay from 2 s, as the Linux bridge allows), in one
 * place: the protocol machine checks them, the console and the command line
 * refuse with them, and the console's hints say them in words.
 */

/** An inclusive range. */
export type Limits = readonly [min: number, max: number];

/** Bridge priority; the lowest becomes root. */
export const BRIDGE_PRIORITY: Limits = [0, 65535];
/** A port's path cost. */
export const PATH_COST: Limits = [1, 200_000_000];
/** A port's priority, in steps of PORT_PRIORITY_STEP (only its top four bits go into the port id). */
export const PORT_PRIORITY: Limits = [0, 240];
export const PORT_PRIORITY_STEP = 16;
/** Port numbers the tree can carry: a port id has 12 bits for the number, and 0 is none. */
export const STP_PORTS: Limits = [1, 0xfff];
/** Bridge timers, whole seconds. */
export const HELLO_TIME: Limits = [1, 10];
export const MAX_AGE: Limits = [6, 40];
export const FORWARD_DELAY: Limits = [2, 30];

/** Whether `value` is a whole number within `limits`. */
export function within(value: number, [min, max]: Limits): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
