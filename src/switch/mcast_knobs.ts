/**
 * The snooping settings a Linux bridge user tunes, under the names
 * `ip link set br0 type bridge` gives them and in its units, so a line of
 * theirs carries over: `mcast_query_interval 12500` is 125 s here too.
 *
 * Theory of operation. Each knob names its field of `SnoopingOptions`
 * (milliseconds or a count), its unit on the console (the kernel's
 * centiseconds, 1/100 s, for intervals; a plain number for counts) and the
 * range a value must be in. Ranges are the bridge's where it has them (the
 * query and start-up query intervals: 1 s to a day, which the kernel clamps
 * to and we refuse outside of); the response and last-member intervals end
 * at 25.5 s because our IGMPv2 queries carry them in a one-byte field of
 * tenths of a second (the kernel truncates that byte silently); the other
 * intervals take the query interval's range, and counts are 1 to 255 (the
 * kernel takes a last_member_count of 0, a leave ending the member with no
 * query, which is what fast leave is for; each one is a query sent). Pure:
 * parsing and formatting only, the machine (mcast_snooping.ts) applies them.
 */
import { SNOOPING_DEFAULTS, type SnoopingKnob, type SnoopingOptions } from "./mcast_snooping.ts";

/** One knob: its bridge name, its field, its unit's milliseconds (null: a count), its range in that unit. */
export interface McastKnob {
  /** The name `ip link ... type bridge` gives it (`mcast_query_interval`). */
  readonly name: string;
  readonly field: SnoopingKnob;
  /** Milliseconds per unit: 10 for centiseconds, null for a count. */
  readonly msPerUnit: 10 | null;
  readonly min: number;
  readonly max: number;
  /** What it is, for the console's help. */
  readonly help: string;
}

/** A day in centiseconds: the kernel's ceiling for its query intervals (BR_MULTICAST_QUERY_INTVL_MAX). */
const DAY_CS = 8_640_000;

/** The knobs, in the order `ip -d link show` prints them. */
export const MCAST_KNOBS: readonly McastKnob[] = [
  {
    name: "mcast_hash_max",
    field: "maxGroups",
    msPerUnit: null,
    min: 1,
    max: 65_536,
    help: "most (port, group) memberships held; more reports are counted as table-full",
  },
  {
    name: "mcast_last_member_count",
    field: "lastMemberCount",
    msPerUnit: null,
    min: 1,
    max: 255,
    help: "group-specific queries our querier sends after a leave",
  },
  {
    name: "mcast_startup_query_count",
    field: "startupQueryCount",
    msPerUnit: null,
    min: 1,
    max: 255,
    help: "general queries our querier sends at start-up",
  },
  {
    name: "mcast_last_member_interval",
    field: "lastMemberMs",
    msPerUnit: 10,
    min: 10,
    max: 2550,
    help: "time between the group-specific queries after a leave",
  },
  {
    name: "mcast_membership_interval",
    field: "membershipMs",
    msPerUnit: 10,
    min: 100,
    max: DAY_CS,
    help: "a membership ends this long after its last report",
  },
  {
    name: "mcast_querier_interval",
    field: "otherQuerierMs",
    msPerUnit: 10,
    min: 100,
    max: DAY_CS,
    help: "another querier is current this long after its last general query",
  },
  {
    name: "mcast_query_interval",
    field: "queryIntervalMs",
    msPerUnit: 10,
    min: 100,
    max: DAY_CS,
    help: "time between our general queries after start-up",
  },
  {
    name: "mcast_query_response_interval",
    field: "queryResponseMs",
    msPerUnit: 10,
    min: 10,
    max: 2550,
    help: "the response time our general queries ask for",
  },
  {
    name: "mcast_startup_query_interval",
    field: "startupQueryMs",
    msPerUnit: 10,
    min: 100,
    max: DAY_CS,
    help: "time between our start-up general queries",
  },
];

/** The console command that sets `k`: the bridge's name less `mcast_`, in the `mcast/` menu. */
export function knobCommand(k: McastKnob): string {
  return `mcast/${k.name.slice("mcast_".length)}`;
}

/** Its usage word: `CENTISECONDS` or `N`. */
export function knobUnit(k: McastKnob): string {
  return k.msPerUnit === null ? "N" : "CENTISECONDS";
}

/** The range a knob takes, in words: `100-8640000 centiseconds (1/100 s, as ip link's mcast_query_interval)`. */
export function knobRange(k: McastKnob): string {
  return k.msPerUnit === null
    ? `${k.min}-${k.max} (as ip link's ${k.name})`
    : `${k.min}-${k.max} centiseconds (1/100 s, as ip link's ${k.name})`;
}

/** `v` in `k`'s console unit as its `SnoopingOptions` value (milliseconds or a count); the caller checked its range. */
export function knobOption(k: McastKnob, v: number): number {
  return k.msPerUnit === null ? v : v * k.msPerUnit;
}

/** `k`'s default in its console unit (the Linux bridge's). */
export function knobDefault(k: McastKnob): number {
  return knobValue(k, SNOOPING_DEFAULTS);
}

/** `text` as `k`'s value for `SnoopingOptions` (milliseconds or a count), or undefined outside its range. */
export function parseKnob(k: McastKnob, text: string): number | undefined {
  if (!/^\d{1,9}$/.test(text)) return undefined;
  const v = Number(text);
  if (v < k.min || v > k.max) return undefined;
  return knobOption(k, v);
}

/** `k`'s value in `options`, in its console unit. */
export function knobValue(
  k: McastKnob,
  options: Readonly<Required<Pick<SnoopingOptions, SnoopingKnob>>>,
): number {
  const v = options[k.field];
  return k.msPerUnit === null ? v : Math.round(v / k.msPerUnit);
}
