/**
 * Cable sessions as Prometheus metrics: per session the frames and bytes it
 * carried and dropped, whether it has a connection, the connections it
 * resumed and its measured round-trip time; for a listener (`vde cable
 * listen --http`, labels `listen`, and per session `session` = its id and
 * `port` = its switch port) also its connections, refusals and resumed
 * sessions. The peer's latest address is `vde_cable_session_info`'s
 * `remote` alone: it changes at each reconnect (a new source port), which
 * on the counters would start new series and look like resets. A lab labels its cables'
 * sessions `cable` = the node. Read from the counters the sessions keep
 * anyway.
 */
import type { CableListener, ListenerSession } from "../cable/listener.ts";
import type { CableSession } from "../cable/session.ts";
import type { LinkStats } from "../link/link.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";

const SESSION_COUNTERS: [name: string, help: string, key: keyof LinkStats][] = [
  ["receive_bytes", "Bytes of the frames that came over the cable.", "bytesIn"],
  ["receive_packets", "Frames that came over the cable.", "framesIn"],
  ["receive_drop", "Frames from the cable dropped.", "dropsIn"],
  ["transmit_bytes", "Bytes of the frames sent over the cable.", "bytesOut"],
  ["transmit_packets", "Frames sent over the cable.", "framesOut"],
  ["transmit_drop", "Frames for the cable that could not be sent (no connection, queue full).", "dropsOut"],
];

/** One session and the labels of its series (without braces). */
export interface SessionSeries {
  labels: string;
  session: CableSession;
}

/** A session as a page shows it. */
export interface CableSessionStatus extends LinkStats {
  name: string;
  session: string;
  connected: boolean;
  /** Connections after the first (the cable came back). */
  reconnects: number;
  /** The latest measured round-trip time, null while unknown. */
  rttSeconds: number | null;
}

/** The figures of `session`, named `name`. */
export function cableSessionStatus(name: string, session: CableSession): CableSessionStatus {
  return {
    name,
    session: session.idHex,
    connected: session.connection !== null,
    reconnects: Math.max(0, session.connections - 1),
    rttSeconds: session.rttSeconds ?? null,
    ...session.stats,
  };
}

/** The per-session families (empty when there are no sessions). */
export function cableSessionFamilies(sessions: SessionSeries[]): string[] {
  if (sessions.length === 0) return [];
  const measured = sessions.flatMap(({ labels, session }): [string, number][] => {
    const rtt = session.rttSeconds;
    return rtt === undefined ? [] : [[labels, rtt]];
  });
  return [
    ...SESSION_COUNTERS.flatMap(([name, help, key]) =>
      metricFamily(
        `vde_cable_${name}_total`,
        "counter",
        help,
        sessions.map(({ labels, session }) => [labels, session.stats[key]]),
      )
    ),
    ...metricFamily(
      "vde_cable_session_connected",
      "gauge",
      "Whether the session has a connection now (1) or waits for its peer to reconnect (0).",
      sessions.map(({ labels, session }) => [labels, session.connection === null ? 0 : 1]),
    ),
    ...metricFamily(
      "vde_cable_session_reconnects_total",
      "counter",
      "Connections of the session after its first (the cable came back).",
      sessions.map(({ labels, session }) => [labels, Math.max(0, session.connections - 1)]),
    ),
    ...metricFamily(
      "vde_cable_rtt_seconds",
      "gauge",
      "Round-trip time last measured by the cable's echo records (absent while unknown or the peer does not answer).",
      measured,
    ),
  ];
}

/** The exposition text of listener `listen` (its address as written). */
export function renderCableMetrics(listen: string, listener: CableListener): string {
  const l = `listen="${escapeLabel(listen)}"`;
  const label = (s: ListenerSession) => `${l},session="${s.idHex}",port="${s.port}"`;
  const c = listener.counters;
  return [
    ...cableSessionFamilies(listener.sessions.map((s) => ({ labels: label(s), session: s }))),
    ...metricFamily(
      "vde_cable_session_info",
      "gauge",
      "Always 1; the remote label is the peer's latest address (it changes when the peer reconnects).",
      listener.sessions.map((s) => [`${label(s)},remote="${escapeLabel(s.remote)}"`, 1]),
    ),
    ...metricFamily("vde_cable_sessions", "gauge", "Cable sessions the listener holds.", [[
      l,
      listener.sessions.length,
    ]]),
    ...metricFamily("vde_cable_connections_total", "counter", "TCP connections the listener accepted.", [
      [l, c.connections],
    ]),
    ...metricFamily("vde_cable_refused_total", "counter", "Handshakes that failed or were refused.", [
      [l, c.refused],
    ]),
    ...metricFamily(
      "vde_cable_reconnects_total",
      "counter",
      "Connections that resumed an existing session.",
      [[l, c.resumed]],
    ),
  ].join("\n") + "\n";
}
