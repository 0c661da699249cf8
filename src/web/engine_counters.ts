/**
 * How the web view shows each switch-wide counter of the engine: a frame
 * the switch moved (by kind) or dropped (by reason), with its name on the
 * page and its label value in /metrics. Keyed by counter, so a counter the
 * engine adds does not type-check until it is named here, and then shows
 * in both; the order is the engine's (ENGINE_COUNTER_NAMES).
 */
import { ENGINE_COUNTER_NAMES, type EngineCounters } from "../switch/engine.ts";

/** One engine counter as the web view shows it. */
export interface CounterView {
  key: keyof EngineCounters;
  /** A drop (by reason) rather than frames moved (by kind). */
  drop: boolean;
  /** Its name on the page. */
  label: string;
  /** Its `kind` (frames) or `reason` (drops) label value in /metrics. */
  metric: string;
}

const VIEWS: Record<keyof EngineCounters, Omit<CounterView, "key">> = {
  short: { drop: true, label: "short", metric: "short" },
  oversize: { drop: true, label: "oversize", metric: "oversize" },
  badPort: { drop: true, label: "bad port", metric: "bad_port" },
  flooded: { drop: false, label: "flooded", metric: "flooded" },
  unicast: { drop: false, label: "unicast", metric: "unicast" },
  filtered: { drop: false, label: "filtered", metric: "filtered" },
  vlanDropped: { drop: true, label: "VLAN", metric: "vlan" },
  mirrorDropped: { drop: true, label: "mirror", metric: "mirror" },
  snoopDropped: { drop: true, label: "snooping", metric: "snooping" },
  stpDropped: { drop: true, label: "STP", metric: "stp" },
};

/** Every engine counter, in the engine's order. */
export const ENGINE_COUNTER_VIEWS: readonly CounterView[] = ENGINE_COUNTER_NAMES.map((key) => ({
  key,
  ...VIEWS[key],
}));

/**
 * The page's line of switch-wide counters: frames moved, then drops. The
 * page runs this very function (it embeds its source), so it must use
 * nothing but its arguments.
 */
export function countersLine(c: Readonly<EngineCounters>, views: readonly CounterView[]): string {
  const part = (v: CounterView) => v.label + " " + c[v.key];
  return views.filter((v) => !v.drop).map(part).join(" · ") + " · dropped: " +
    views.filter((v) => v.drop).map(part).join(", ");
}
