/**
 * A cable listener's counters as Prometheus metrics (`vde cable listen
 * --http`): per session (labels `session` = its id, `port` = its switch
 * port, `remote` = the peer's latest address) the frames and bytes it
 * carried and dropped, and for the listener its connections, refusals and
 * resumed sessions (a cable that reconnected). Read from the counters the
 * sessions keep anyway.
 */
import type { CableListener, ListenerSession } from "../cable/listener.ts";
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

/** The exposition text of listener `listen` (its address as written). */
export function renderCableMetrics(listen: string, listener: CableListener): string {
  const l = `listen="${escapeLabel(listen)}"`;
  const sessions = listener.sessions;
  const label = (s: ListenerSession) =>
    `${l},session="${s.idHex}",port="${s.port}",remote="${escapeLabel(s.remote)}"`;
  const c = listener.counters;
  return [
    ...SESSION_COUNTERS.flatMap(([name, help, key]) =>
      metricFamily(`vde_cable_${name}_total`, "counter", help, sessions.map((s) => [label(s), s.stats[key]]))
    ),
    ...metricFamily(
      "vde_cable_session_connected",
      "gauge",
      "Whether the session has a connection now (1) or waits for its peer to reconnect (0).",
      sessions.map((s) => [label(s), s.connection === null ? 0 : 1]),
    ),
    ...metricFamily("vde_cable_sessions", "gauge", "Cable sessions the listener holds.", [[
      l,
      sessions.length,
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
      [
        [l, c.resumed],
      ],
    ),
  ].join("\n") + "\n";
}
