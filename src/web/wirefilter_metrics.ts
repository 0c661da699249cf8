/**
 * A wirefilter's counters as Prometheus metrics, for `vde wirefilter
 * --http` and for the impaired links of a lab: frames and bytes into and
 * out of each direction, and drops by reason (`vde_wirefilter_drop_total
 * {...,reason}`), each reason one of the filter's own counters. Labels:
 * `link` (what the filter joins) and `direction` (`LR` from the first end
 * to the second, `RL` back). Read from the counters the filter keeps
 * anyway; a scrape adds nothing to the packet path.
 */
import type { DirectionCounters } from "../wirefilter/filter.ts";
import { LR, RL } from "../wirefilter/value.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";

/** Drop reasons as the metric names them, and the counter behind each. */
export const DROP_REASONS: [reason: string, key: keyof DirectionCounters][] = [
  ["loss", "lossDrops"],
  ["burst_loss", "burstDrops"],
  ["mtu", "mtuDrops"],
  ["buffer_full", "capacityDrops"],
  ["queue_overflow", "overflowDrops"],
  ["input_full", "inputDrops"],
  ["zero_rate", "rateDrops"],
  ["closed", "closeDrops"],
];

const COUNTERS: [name: string, help: string, key: keyof DirectionCounters][] = [
  ["receive_packets", "Frames that entered the filter.", "framesIn"],
  ["receive_bytes", "Bytes of the frames that entered the filter.", "bytesIn"],
  ["transmit_packets", "Frames that left the filter, duplicates included.", "framesOut"],
  ["transmit_bytes", "Bytes of the frames that left the filter.", "bytesOut"],
  ["duplicate_packets", "Extra copies the filter made (dup).", "dupCopies"],
];

/** One filter: its `link` label value and its counters by direction (LR, RL). */
export interface FilterCounters {
  link: string;
  counters: readonly [DirectionCounters, DirectionCounters];
}

/** The wirefilter families of `filters`, each family once (empty when there are none). */
export function wirefilterFamilies(filters: FilterCounters[]): string[] {
  if (filters.length === 0) return [];
  const series = filters.flatMap((f) =>
    ([[LR, "LR"], [RL, "RL"]] as const).map(([dir, name]) => ({
      labels: `link="${escapeLabel(f.link)}",direction="${name}"`,
      c: f.counters[dir],
    }))
  );
  return [
    ...COUNTERS.flatMap(([name, help, key]) =>
      metricFamily(`vde_wirefilter_${name}_total`, "counter", help, series.map((s) => [s.labels, s.c[key]]))
    ),
    ...metricFamily(
      "vde_wirefilter_drop_total",
      "counter",
      "Frames the filter dropped, by reason.",
      series.flatMap((s) =>
        DROP_REASONS.map(([reason, key]): [string, number] => [`${s.labels},reason="${reason}"`, s.c[key]])
      ),
    ),
  ];
}
