/**
 * A slirp's counters as Prometheus metrics (`vde slirp --http`): frames to
 * and from the switch, TCP connections open and opened, UDP NAT flows open
 * and opened, bytes carried by TCP, DNS and DHCP answers, claims of the
 * gateway's address by another slirp, and each drop it counts, by reason.
 * All are read from the counters the stack keeps for `slirp/print`; a scrape
 * adds nothing to the packet path. A lab's slirp nodes share one server (`vde up --http`):
 * each family once, a series per slirp, labelled slirp = the node's name.
 * The families are rendered from SlirpCounters, a plain snapshot, so a
 * slirp run by another process (a rootless lab's, outside_slirp_counters.ts)
 * is rendered as one of this process's own.
 */
import type { SlirpStack } from "../slirp/stack.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";

/** The exposition text of the slirp on switch `name`. */
export function renderSlirpMetrics(name: string, stack: SlirpStack): string {
  return slirpFamilies([{ name, counters: slirpCounters(stack) }]).join("\n") + "\n";
}

/** What the families read of one slirp, each a count (or a gauge's value) of its own. */
export interface SlirpCounters {
  framesIn: number;
  framesOut: number;
  drops: number;
  tcpConnections: number;
  tcpConnectsOut: number;
  tcpAcceptsIn: number;
  tcpBytesIn: number;
  tcpBytesOut: number;
  udpFlows: number;
  udpFlowsOpened: number;
  dhcpReplies: number;
  gatewayConflicts: number;
  /** Packets dropped past the frame's checks, each by why (vde_slirp_drops_total's reasons, DROP_REASONS). */
  icmpDrops: number;
  udpDrops: number;
  udpMalformed: number;
  tcpSynDrops: number;
  tcpMalformed: number;
  neighbourDrops: number;
  dnsDrops: number;
}

/**
 * The reasons of vde_slirp_drops_total, each a counter `slirp/print` shows (its name there in the help):
 * a guest's connections that fail for the slirp's own limits (a SYN past the connection cap, a DNS query
 * past the pending ones) are seen here, not only as traffic that stops.
 */
const DROP_REASONS: readonly (readonly [keyof SlirpCounters, string])[] = [
  ["icmpDrops", "icmp"],
  ["udpDrops", "udp"],
  ["udpMalformed", "udp_malformed"],
  ["tcpSynDrops", "tcp_syn_limit"],
  ["tcpMalformed", "tcp_malformed"],
  ["neighbourDrops", "neighbour"],
  ["dnsDrops", "dns"],
];

/** SlirpCounters' keys, which a snapshot from another process must each have (and no other). */
export const SLIRP_COUNTER_KEYS: readonly (keyof SlirpCounters)[] = [
  "framesIn",
  "framesOut",
  "drops",
  "tcpConnections",
  "tcpConnectsOut",
  "tcpAcceptsIn",
  "tcpBytesIn",
  "tcpBytesOut",
  "udpFlows",
  "udpFlowsOpened",
  "dhcpReplies",
  "gatewayConflicts",
  ...DROP_REASONS.map(([key]) => key),
];

/** Slirp `stack`'s counters now. */
export function slirpCounters(stack: SlirpStack): SlirpCounters {
  const tcp = (key: string) => stack.tcp.stats[key] ?? 0;
  return {
    framesIn: stack.stats.framesIn,
    framesOut: stack.stats.framesOut,
    drops: stack.stats.badFrames + stack.stats.badIp,
    tcpConnections: tcp("connections"),
    tcpConnectsOut: tcp("connectsOut"),
    tcpAcceptsIn: tcp("acceptsIn"),
    tcpBytesIn: tcp("bytesIn"),
    tcpBytesOut: tcp("bytesOut"),
    udpFlows: stack.udpFlowCount,
    udpFlowsOpened: stack.stats.udpFlows,
    dhcpReplies: stack.stats.dhcpReplies,
    gatewayConflicts: stack.stats.gatewayConflicts,
    icmpDrops: stack.stats.icmpDropped,
    udpDrops: stack.stats.udpDropped,
    udpMalformed: stack.stats.udpBad,
    tcpSynDrops: tcp("synDropped"),
    tcpMalformed: tcp("badSegments") + tcp("badChecksum"),
    neighbourDrops: stack.stats.neighbourDropped,
    dnsDrops: stack.dns.stats.dropped,
  };
}

/** A slirp to expose, by the name its series are labelled with. */
export interface NamedSlirp {
  readonly name: string;
  readonly counters: SlirpCounters;
}

/** The slirp families of `slirps`, each family once with a series per slirp; none without a slirp. */
export function slirpFamilies(slirps: readonly NamedSlirp[]): string[] {
  if (slirps.length === 0) return [];
  const rows = slirps.map(({ name, counters }) => ({ l: `slirp="${escapeLabel(name)}"`, c: counters }));
  const each = (key: keyof SlirpCounters): [string, number][] => rows.map(({ l, c }) => [l, c[key]]);
  return [
    ...metricFamily(
      "vde_slirp_receive_packets_total",
      "counter",
      "Frames the slirp took from the switch.",
      each("framesIn"),
    ),
    ...metricFamily(
      "vde_slirp_transmit_packets_total",
      "counter",
      "Frames the slirp sent to the switch.",
      each("framesOut"),
    ),
    ...metricFamily(
      "vde_slirp_receive_drop_total",
      "counter",
      "Malformed frames and IP packets dropped.",
      each("drops"),
    ),
    ...metricFamily(
      "vde_slirp_tcp_connections",
      "gauge",
      "TCP connections in the table, any state.",
      each("tcpConnections"),
    ),
    ...metricFamily(
      "vde_slirp_tcp_connections_opened_total",
      "counter",
      "TCP connections opened, by side.",
      rows.flatMap(({ l, c }): [string, number][] => [
        [`${l},direction="out"`, c.tcpConnectsOut],
        [`${l},direction="in"`, c.tcpAcceptsIn],
      ]),
    ),
    ...metricFamily(
      "vde_slirp_tcp_receive_bytes_total",
      "counter",
      "TCP payload bytes from the guests.",
      each("tcpBytesIn"),
    ),
    ...metricFamily(
      "vde_slirp_tcp_transmit_bytes_total",
      "counter",
      "TCP payload bytes to the guests.",
      each("tcpBytesOut"),
    ),
    ...metricFamily("vde_slirp_udp_flows", "gauge", "UDP NAT flows open now.", each("udpFlows")),
    ...metricFamily(
      "vde_slirp_udp_flows_opened_total",
      "counter",
      "UDP NAT flows opened.",
      each("udpFlowsOpened"),
    ),
    ...metricFamily(
      "vde_slirp_dhcp_replies_total",
      "counter",
      "DHCP replies sent.",
      each("dhcpReplies"),
    ),
    ...metricFamily(
      "vde_slirp_drops_total",
      "counter",
      "Packets the slirp dropped, by reason: icmp and udp (not passed on: restrict=on, an address it may not " +
        "reach, a send that failed), udp_malformed, tcp_syn_limit (a guest's SYN past the connection cap), " +
        "tcp_malformed, neighbour (no answer to ARP/ND), dns (a query not forwarded).",
      rows.flatMap(({ l, c }) =>
        DROP_REASONS.map(([key, reason]): [string, number] => [`${l},reason="${reason}"`, c[key]])
      ),
    ),
    ...metricFamily(
      "vde_slirp_gateway_conflicts_total",
      "counter",
      "Frames from another port claiming the slirp's gateway address (a second slirp on the switch).",
      each("gatewayConflicts"),
    ),
  ];
}
