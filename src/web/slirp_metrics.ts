/**
 * A slirp's counters as Prometheus metrics (`vde slirp --http`): frames to
 * and from the switch, TCP connections open and opened, UDP NAT flows open
 * and opened, bytes carried by TCP, DNS and DHCP answers, claims of the
 * gateway's address by another slirp. All are read from
 * the counters the stack keeps for `slirp/print`; a scrape adds nothing to
 * the packet path.
 */
import type { SlirpStack } from "../slirp/stack.ts";
import { escapeLabel } from "./metrics.ts";
import { metricFamily } from "./metrics_server.ts";

/** The exposition text of the slirp on switch `name`. */
export function renderSlirpMetrics(name: string, stack: SlirpStack): string {
  const l = `slirp="${escapeLabel(name)}"`;
  const s = stack.stats;
  const tcp = stack.tcp.stats;
  const t = (key: string) => tcp[key] ?? 0;
  return [
    ...metricFamily("vde_slirp_receive_packets_total", "counter", "Frames the slirp took from the switch.", [
      [l, s.framesIn],
    ]),
    ...metricFamily("vde_slirp_transmit_packets_total", "counter", "Frames the slirp sent to the switch.", [
      [l, s.framesOut],
    ]),
    ...metricFamily("vde_slirp_receive_drop_total", "counter", "Malformed frames and IP packets dropped.", [
      [l, s.badFrames + s.badIp],
    ]),
    ...metricFamily("vde_slirp_tcp_connections", "gauge", "TCP connections in the table, any state.", [
      [l, t("connections")],
    ]),
    ...metricFamily("vde_slirp_tcp_connections_opened_total", "counter", "TCP connections opened, by side.", [
      [`${l},direction="out"`, t("connectsOut")],
      [`${l},direction="in"`, t("acceptsIn")],
    ]),
    ...metricFamily(
      "vde_slirp_tcp_receive_bytes_total",
      "counter",
      "TCP payload bytes from the guests.",
      [[l, t("bytesIn")]],
    ),
    ...metricFamily(
      "vde_slirp_tcp_transmit_bytes_total",
      "counter",
      "TCP payload bytes to the guests.",
      [[l, t("bytesOut")]],
    ),
    ...metricFamily("vde_slirp_udp_flows", "gauge", "UDP NAT flows open now.", [[l, stack.udpFlowCount]]),
    ...metricFamily("vde_slirp_udp_flows_opened_total", "counter", "UDP NAT flows opened.", [[
      l,
      s.udpFlows,
    ]]),
    ...metricFamily("vde_slirp_dhcp_replies_total", "counter", "DHCP replies sent.", [[l, s.dhcpReplies]]),
    ...metricFamily(
      "vde_slirp_gateway_conflicts_total",
      "counter",
      "Frames from another port claiming the slirp's gateway address (a second slirp on the switch).",
      [[l, s.gatewayConflicts]],
    ),
  ].join("\n") + "\n";
}
