/**
 * What the lab's web server shows beyond its switches: each link's traffic
 * (frames and bytes sent into it at each end, so the page can draw rates on
 * the edges), its drops (cut, full queue, impairments by reason) and its
 * cables' sessions. Read from counters the wires and sessions keep anyway,
 * once per scrape or page poll.
 */
import type { LabLink } from "../lab/spec.ts";
import type { LabWire } from "../lab/wire.ts";
import { type Link, newLinkStats } from "../link/link.ts";
import { CableSession } from "../cable/session.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";
import { cableSessionFamilies, type CableSessionStatus, cableSessionStatus } from "./cable_metrics.ts";
import { wirefilterFamilies } from "./wirefilter_metrics.ts";

/** A running link as the lab runner keeps it. */
export interface LabLinkView {
  readonly name: string;
  readonly spec: LabLink;
  readonly wire: LabWire;
}

/** A cable node's current link (a client, or a listener's latest session). */
export interface LabCableView {
  readonly link: Link | null;
}

/** Frames and bytes one end sent into a link. */
export interface Flow {
  frames: number;
  bytes: number;
}

/** One link for the page. */
export interface LinkStatus {
  name: string;
  /** The nodes at each end, as in the lab file. */
  a: string;
  b: string;
  up: boolean;
  /** Sent into the link at end a (towards b), and at end b. */
  ab: Flow;
  ba: Flow;
  /** Frames the link dropped: cut, full queue, or its impairments. */
  drops: number;
}

/** The links of a running lab, in the order they were made. */
export function linkStatuses(links: readonly LabLinkView[]): LinkStatus[] {
  return links.map(({ name, spec, wire }) => ({
    name,
    a: spec.ends[0].node,
    b: spec.ends[1].node,
    up: wire.up,
    ab: { frames: wire.a.stats.framesOut, bytes: wire.a.stats.bytesOut },
    ba: { frames: wire.b.stats.framesOut, bytes: wire.b.stats.bytesOut },
    drops: wire.dropped + wire.filterDrops,
  }));
}

/** The lab's cable nodes, each with its session's figures, or not connected and zeros while it has none. */
export function cableStatuses(cables: ReadonlyMap<string, LabCableView>): CableSessionStatus[] {
  const out: CableSessionStatus[] = [];
  for (const [node, { link }] of cables) {
    // A node with no session yet (a listener whose peer has not come) is shown waiting, not left out.
    out.push(
      link instanceof CableSession ? cableSessionStatus(node, link) : {
        name: node,
        session: "",
        connected: false,
        reconnects: 0,
        rttSeconds: null,
        ...newLinkStats(),
      },
    );
  }
  return out;
}

/** The lab-only families: links' traffic and drops, impaired links' filters, cable sessions. */
export function labFamilies(
  links: readonly LabLinkView[],
  cables: ReadonlyMap<string, LabCableView>,
): string[] {
  const rows = links.map((l) => ({ view: l, label: `link="${escapeLabel(l.name)}"` }));
  const dir = (label: string, d: "LR" | "RL") => `${label},direction="${d}"`;
  const flows = (pick: (e: { framesOut: number; bytesOut: number }) => number) =>
    rows.flatMap(({ view, label }): [string, number][] => [
      [dir(label, "LR"), pick(view.wire.a.stats)],
      [dir(label, "RL"), pick(view.wire.b.stats)],
    ]);
  const impaired = links.flatMap((l) => {
    const counters = l.wire.filterCounters;
    return counters === null ? [] : [{ link: l.name, counters }];
  });
  const sessions = [...cables].flatMap(([node, { link }]) =>
    link instanceof CableSession ? [{ labels: `cable="${escapeLabel(node)}"`, session: link }] : []
  );
  return [
    ...(rows.length === 0 ? [] : [
      ...metricFamily(
        "vde_lab_link_transmit_packets_total",
        "counter",
        "Frames sent into the link; direction LR from its first end, RL from its second.",
        flows((s) => s.framesOut),
      ),
      ...metricFamily(
        "vde_lab_link_transmit_bytes_total",
        "counter",
        "Bytes of the frames sent into the link, by direction.",
        flows((s) => s.bytesOut),
      ),
      ...metricFamily(
        "vde_lab_link_drop_total",
        "counter",
        "Frames the link dropped while cut or with its queue full (impairments: vde_wirefilter_drop_total).",
        rows.map(({ view, label }) => [label, view.wire.dropped]),
      ),
      ...metricFamily(
        "vde_lab_link_up",
        "gauge",
        "Whether the link carries frames (1) or is cut (0).",
        rows.map(({ view, label }) => [label, view.wire.up ? 1 : 0]),
      ),
    ]),
    ...wirefilterFamilies(impaired),
    // Every cable node from the first scrape, so an alert sees a peer that never came, not an absent series.
    ...(cables.size === 0 ? [] : metricFamily(
      "vde_lab_cable_connected",
      "gauge",
      "Whether the cable node has a connection now (1) or not (0: no peer yet, or waiting for it to come back).",
      [...cables].map(([node, { link }]) => [
        `cable="${escapeLabel(node)}"`,
        link instanceof CableSession && link.connection !== null ? 1 : 0,
      ]),
    )),
    ...cableSessionFamilies(sessions),
  ];
}
