/**
 * Aligned tables for people: `ports` and `macs` (and `watch`, which redraws
 * the ports table). Numbers are right-aligned, text left-aligned, columns
 * separated by two spaces; the last column is not padded, so long
 * endpoint descriptions do not drag trailing blanks along.
 */
import type { EndpointView, MacView, PortView } from "./views.ts";

/** A column: its title and how cells line up. */
export interface Column {
  title: string;
  align: "left" | "right";
}

/** Lays out rows under their column titles. */
export function renderTable(columns: readonly Column[], rows: readonly string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    columns.map((c, i) => {
      const cell = cells[i] ?? "";
      if (i === columns.length - 1 && c.align === "left") return cell;
      return c.align === "right" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
    }).join("  ").trimEnd();
  return [line(columns.map((c) => c.title)), ...rows.map(line)];
}

/** "42s", "3m05s", "2h01m": a MAC entry's age at a glance. */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, "0")}m`;
}

/** A port's traffic per second between two samples (`watch`). */
export interface PortRate {
  framesIn: number;
  bitsIn: number;
  framesOut: number;
  bitsOut: number;
}

/** "0", "950", "12.3k", "4.56M", "1.20G": a rate at a glance. */
export function formatRate(perSecond: number): string {
  const units: [number, string][] = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [size, unit] of units) {
    if (perSecond >= size) {
      const v = perSecond / size;
      return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${unit}`;
    }
  }
  return perSecond.toFixed(0);
}

/**
 * The rates of each port from two samples of the counters taken
 * `seconds` apart; a port absent from `before` (or whose counters went
 * back, a new endpoint) has none yet.
 */
export function portRates(
  before: readonly PortView[],
  after: readonly PortView[],
  seconds: number,
): Map<number, PortRate> {
  const previous = new Map(before.map((v) => [v.port, v]));
  const rates = new Map<number, PortRate>();
  if (!(seconds > 0)) return rates;
  for (const v of after) {
    const p = previous.get(v.port);
    if (p === undefined || v.framesIn < p.framesIn || v.framesOut < p.framesOut) continue;
    rates.set(v.port, {
      framesIn: (v.framesIn - p.framesIn) / seconds,
      bitsIn: ((v.bytesIn - p.bytesIn) * 8) / seconds,
      framesOut: (v.framesOut - p.framesOut) / seconds,
      bitsOut: ((v.bytesOut - p.bytesOut) * 8) / seconds,
    });
  }
  return rates;
}

/**
 * A `watch` renderer: the ports table of `sample()` with each port's rates
 * since the previous call (none on the first).
 */
export function portsTableWithRates(
  sample: () => Promise<PortView[]>,
  withDrops?: boolean,
): () => Promise<string[]> {
  let previous: { at: number; views: PortView[] } | undefined;
  return async () => {
    const views = await sample();
    const at = performance.now();
    const rates = previous === undefined
      ? undefined
      : portRates(previous.views, views, (at - previous.at) / 1000);
    previous = { at, views };
    return portsTable(views, rates ?? new Map(), withDrops ?? views.some((v) => v.drops !== undefined));
  };
}

/**
 * The `ports` table: one row per port with its counters and endpoints;
 * with `rates` (`watch`), frames/s and bits/s each way too. The DROPS
 * column is there when the views carry drops (a remote vde_switch's
 * listing has none); `withDrops` says so for a switch with no port in use.
 */
export function portsTable(
  views: readonly PortView[],
  rates?: ReadonlyMap<number, PortRate>,
  withDrops = views.some((v) => v.drops !== undefined),
): string[] {
  const columns: Column[] = [
    { title: "PORT", align: "right" },
    { title: "STATE", align: "left" },
    { title: "VLAN", align: "right" },
    { title: "USER", align: "left" },
    { title: "IN PKTS", align: "right" },
    { title: "IN BYTES", align: "right" },
    { title: "OUT PKTS", align: "right" },
    { title: "OUT BYTES", align: "right" },
    ...(withDrops ? [{ title: "DROPS", align: "right" } as Column] : []),
    ...(rates === undefined
      ? []
      : ["IN FR/S", "IN BIT/S", "OUT FR/S", "OUT BIT/S"].map((title) =>
        ({ title, align: "right" }) as Column
      )),
    { title: "ENDPOINTS", align: "left" },
  ];
  const rateCells = (port: number): string[] => {
    if (rates === undefined) return [];
    const r = rates.get(port);
    if (r === undefined) return ["-", "-", "-", "-"];
    return [r.framesIn, r.bitsIn, r.framesOut, r.bitsOut].map(formatRate);
  };
  const rows = views.map((v) => [
    String(v.port),
    v.active ? "active" : v.allocatable ? "inactive" : "reserved",
    String(v.vlan),
    v.user === "NONE" ? "-" : v.user,
    String(v.framesIn),
    String(v.bytesIn),
    String(v.framesOut),
    String(v.bytesOut),
    ...(withDrops ? [String(v.drops ?? 0)] : []),
    ...rateCells(v.port),
    v.endpoints.length === 0 ? "-" : v.endpoints.map((e) => `#${e.id} ${endpointLabel(e)}`).join("; "),
  ]);
  return renderTable(columns, rows);
}

/** An endpoint in the tables: a tap (listed by its name alone, as vde_switch lists it) says it is one. */
function endpointLabel(e: EndpointView): string {
  return e.module === "tuntap" ? `tap ${e.description}` : e.description;
}

/**
 * The `macs` table: address, VLAN, port, age, and what is plugged into that
 * port when `ports` is given.
 */
export function macsTable(macs: readonly MacView[], ports?: readonly PortView[]): string[] {
  const byPort = new Map((ports ?? []).map((p) => [p.port, p]));
  const sorted = [...macs].sort((a, b) => a.port - b.port || a.vlan - b.vlan || a.mac.localeCompare(b.mac));
  const columns: Column[] = [
    { title: "MAC", align: "left" },
    { title: "VLAN", align: "right" },
    { title: "PORT", align: "right" },
    { title: "AGE", align: "right" },
    ...(ports === undefined ? [] : [{ title: "ON", align: "left" } as Column]),
  ];
  const rows = sorted.map((m) => [
    m.mac,
    String(m.vlan),
    String(m.port),
    formatAge(m.age),
    ...(ports === undefined ? [] : [byPort.get(m.port)?.endpoints.map(endpointLabel).join("; ") || "-"]),
  ]);
  return renderTable(columns, rows);
}
