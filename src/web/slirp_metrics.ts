/**
 * A slirp's counters as Prometheus metrics (`vde slirp --http`): frames to
 * and from the switch, TCP connections open and opened, UDP NAT flows open
 * and opened, bytes carried by TCP, DNS and DHCP answers, claims of the
 * gateway's address by another slirp. All are read from
 * the counters the stack keeps for `slirp/print`; a scrape adds nothing to
 * the packet path. A lab's slirp nodes share one server (`vde up --http`):
 * each family once, a series per slirp, labelled slirp = the node's name.
 */
import type { SlirpStack } from "../slirp/stack.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";

/** The exposition text of the slirp on switch `name`. */
export function renderSlirpMetrics(name: string, stack: SlirpStack): string {
  return slirpFamilies([{ name, stack }]).join("\n") + "\n";
}

/** A slirp to expose, by the name its series are labelled with. */
export interface NamedSlirp {
  readonly name: string;
  readonly stack: SlirpStack;
}

/** The slirp families of `slirps`, each family once with a series per slirp; none without a slirp. */
export function slirpFamilies(slirps: readonly NamedSlirp[]): string[] {
  if (slirps.length === 0) return [];
  const rows = slirps.map(({ name, stack }) => ({ l: `slirp="${escapeLabel(name)}"`, stack }));
  const each = (pick: (stack: SlirpStack) => number): [string, number][] =>
    rows.map(({ l, stack }) => [l, pick(stack)]);
  const tcp = (key: string) => (stack: SlirpStack) => stack.tcp.stats[key] ?? 0;
  return [
    ...metricFamily(
      "vde_slirp_receive_packets_total",
      "counter",
      "Frames the slirp took from the switch.",
      each((s) => s.stats.framesIn),
    ),
    ...metricFamily(
      "vde_slirp_transmit_packets_total",
      "counter",
      "Frames the slirp sent to the switch.",
      each((s) => s.stats.framesOut),
    ),
    ...metricFamily(
      "vde_slirp_receive_drop_total",
      "counter",
      "Malformed frames and IP packets dropped.",
      each((s) => s.stats.badFrames + s.stats.badIp),
    ),
    ...metricFamily(
      "vde_slirp_tcp_connections",
      "gauge",
      "TCP connections in the table, any state.",
      each(tcp("connections")),
    ),
    ...metricFamily(
      "vde_slirp_tcp_connections_opened_total",
      "counter",
      "TCP connections opened, by side.",
      rows.flatMap(({ l, stack }): [string, number][] => [
        [`${l},direction="out"`, tcp("connectsOut")(stack)],
        [`${l},direction="in"`, tcp("acceptsIn")(stack)],
      ]),
    ),
    ...metricFamily(
      "vde_slirp_tcp_receive_bytes_total",
      "counter",
      "TCP payload bytes from the guests.",
      each(tcp("bytesIn")),
    ),
    ...metricFamily(
      "vde_slirp_tcp_transmit_bytes_total",
      "counter",
      "TCP payload bytes to the guests.",
      each(tcp("bytesOut")),
    ),
    ...metricFamily("vde_slirp_udp_flows", "gauge", "UDP NAT flows open now.", each((s) => s.udpFlowCount)),
    ...metricFamily(
      "vde_slirp_udp_flows_opened_total",
      "counter",
      "UDP NAT flows opened.",
      each((s) => s.stats.udpFlows),
    ),
    ...metricFamily(
      "vde_slirp_dhcp_replies_total",
      "counter",
      "DHCP replies sent.",
      each((s) => s.stats.dhcpReplies),
    ),
    ...metricFamily(
      "vde_slirp_gateway_conflicts_total",
      "counter",
      "Frames from another port claiming the slirp's gateway address (a second slirp on the switch).",
      each((s) => s.stats.gatewayConflicts),
    ),
  ];
}
