/**
 * A switch snapshot in the Prometheus text exposition format (0.0.4).
 *
 * Names follow node_exporter's netdev collector (`node_network_receive_bytes_total`
 * becomes `vde_port_receive_bytes_total`), so dashboards built for hosts
 * carry over: base units (bytes), `_total` on counters, a HELP and a TYPE
 * line per family, labels `switch` and `port` on every port series. The
 * clients' description (`name`, which holds a plug's pid) and the port's VLAN
 * are labels of `vde_port_info` alone, Prometheus' info-metric pattern: on the
 * counters they would start a new series at each reconnect, so `rate()` and
 * `changes(vde_port_up[...])` of one port would see pieces, never a flap.
 */
import { ENGINE_COUNTER_VIEWS } from "./engine_counters.ts";
import type { PortStatus, SwitchSnapshot } from "./status.ts";
import { ROLE_NAMES } from "../switch/rstp.ts";

/** The Content-Type Prometheus expects for this format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface PortCounterFamily {
  name: string;
  help: string;
  value: (p: PortStatus) => number;
}

const PORT_COUNTERS: PortCounterFamily[] = [
  {
    name: "receive_bytes",
    help: "Bytes of the frames the switch accepted from the port.",
    value: (p) => p.bytesIn,
  },
  { name: "receive_packets", help: "Frames the switch accepted from the port.", value: (p) => p.framesIn },
  {
    name: "receive_drop",
    help: "Frames from the port dropped on input (malformed, oversize, VLAN, port down).",
    value: (p) => p.dropsIn,
  },
  {
    name: "transmit_bytes",
    help: "Bytes of the frames the switch sent out of the port.",
    value: (p) => p.bytesOut,
  },
  { name: "transmit_packets", help: "Frames the switch sent out of the port.", value: (p) => p.framesOut },
  {
    name: "transmit_drop",
    help: "Frames for the port its transport could not send.",
    value: (p) => p.dropsOut,
  },
];

/** The switch-wide counters of frames moved (`kind` label) and of drops (`reason` label). */
const FRAME_KINDS = ENGINE_COUNTER_VIEWS.filter((v) => !v.drop);
const DROP_REASONS = ENGINE_COUNTER_VIEWS.filter((v) => v.drop);

/** Escapes a label value: backslash, double quote and newline, as the format requires. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The exposition text of one switch, or of several (a lab): each family once, with every switch's series. */
export function renderMetrics(snapshots: SwitchSnapshot | SwitchSnapshot[]): string {
  const all = Array.isArray(snapshots) ? snapshots : [snapshots];
  const lines: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const views = all.map((s) => {
    const sw = `switch="${escapeLabel(s.name)}"`;
    return { s, sw, portLabels: s.ports.map((p) => `${sw},port="${p.port}"`) };
  });
  for (const c of PORT_COUNTERS) {
    const name = `vde_port_${c.name}_total`;
    family(name, "counter", c.help);
    for (const { s, portLabels } of views) {
      s.ports.forEach((p, i) => lines.push(`${name}{${portLabels[i]}} ${c.value(p)}`));
    }
  }
  family("vde_port_up", "gauge", "Whether the port takes part in switching (1) or not (0).");
  for (const { s, portLabels } of views) {
    s.ports.forEach((p, i) => lines.push(`vde_port_up{${portLabels[i]}} ${p.up ? 1 : 0}`));
  }
  family("vde_port_clients", "gauge", "Clients connected to the port.");
  for (const { s, portLabels } of views) {
    s.ports.forEach((p, i) => lines.push(`vde_port_clients{${portLabels[i]}} ${p.clients}`));
  }
  family(
    "vde_port_info",
    "gauge",
    "Always 1; the labels carry the clients' description and the untagged VLAN.",
  );
  for (const { s, portLabels } of views) {
    s.ports.forEach((p, i) =>
      lines.push(`vde_port_info{${portLabels[i]},name="${escapeLabel(p.name)}",vlan="${p.vlan}"} 1`)
    );
  }
  family("vde_fdb_entries", "gauge", "MAC addresses learned, by VLAN.");
  for (const { s, sw } of views) {
    for (const [vlan, n] of s.fdbEntries) lines.push(`vde_fdb_entries{${sw},vlan="${vlan}"} ${n}`);
  }
  family(
    "vde_fdb_moves_total",
    "counter",
    "Times a learned MAC address showed on another port; fast growth means a loop.",
  );
  for (const { s, sw } of views) lines.push(`vde_fdb_moves_total{${sw}} ${s.fdbMoves}`);
  family(
    "vde_switch_frames_total",
    "counter",
    "Frames switched, by how: flooded, unicast, or filtered (not sent).",
  );
  for (const { s, sw } of views) {
    for (const v of FRAME_KINDS) {
      lines.push(`vde_switch_frames_total{${sw},kind="${v.metric}"} ${s.counters[v.key]}`);
    }
  }
  family("vde_switch_drops_total", "counter", "Frames the switch dropped, by reason.");
  for (const { s, sw } of views) {
    for (const v of DROP_REASONS) {
      lines.push(`vde_switch_drops_total{${sw},reason="${v.metric}"} ${s.counters[v.key]}`);
    }
  }
  family(
    "vde_switch_hub_mode",
    "gauge",
    "Whether the switch repeats every frame to every port (1) or switches (0).",
  );
  for (const { s, sw } of views) lines.push(`vde_switch_hub_mode{${sw}} ${s.hub ? 1 : 0}`);
  // Counters that stand still say nothing of why: a dead switch's would read as a quiet network.
  family(
    "vde_switch_forwarding",
    "gauge",
    "Whether the switch forwards (1), or not (0): its data-plane thread died (vde status says why).",
  );
  for (const { s, sw } of views) lines.push(`vde_switch_forwarding{${sw}} ${s.forwarding ? 1 : 0}`);
  // node_exporter's node_boot_time_seconds: a restart shows as a new value, not only as counter resets.
  family(
    "vde_switch_start_time_seconds",
    "gauge",
    "When the switch started, in seconds since the epoch; its counters count from 0 from then.",
  );
  for (const { s, sw } of views) lines.push(`vde_switch_start_time_seconds{${sw}} ${s.startTime}`);
  const stp = views.filter((v) => v.s.stpTopologyChanges !== undefined);
  if (stp.length > 0) {
    family(
      "vde_stp_port_state",
      "gauge",
      "Spanning tree port state as Linux numbers it: 0 disabled, 2 learning, 3 forwarding, 4 discarding (Linux: blocking).",
    );
    const stpPorts = stp.flatMap(({ s, portLabels }) =>
      s.ports.flatMap((p, i) => p.stp === undefined ? [] : [{ labels: portLabels[i], ...p.stp }])
    );
    for (const p of stpPorts) lines.push(`vde_stp_port_state{${p.labels}} ${p.state}`);
    // The role apart, so a port that changes role keeps its one state series; every role listed (a state
    // set, as kube-state-metrics' phases), so no series appears or vanishes when the role changes either.
    family(
      "vde_stp_port_role",
      "gauge",
      "1 for the port's spanning tree role now, 0 for each other role (disabled, root, designated, alternate, backup).",
    );
    for (const p of stpPorts) {
      for (const role of ROLE_NAMES) {
        lines.push(`vde_stp_port_role{${p.labels},role="${role}"} ${p.role === role ? 1 : 0}`);
      }
    }
    family(
      "vde_stp_port_bpdu_guard_trips_total",
      "counter",
      "Times the port's BPDU guard (stp/setguard) disabled it on hearing a BPDU.",
    );
    for (const p of stpPorts) lines.push(`vde_stp_port_bpdu_guard_trips_total{${p.labels}} ${p.guardTrips}`);
    family(
      "vde_stp_port_root_guard_blocks_total",
      "counter",
      "Times the port's root guard (stp/setrootblock) held it discarding against a superior BPDU.",
    );
    for (const p of stpPorts) lines.push(`vde_stp_port_root_guard_blocks_total{${p.labels}} ${p.rootBlocks}`);
    family(
      "vde_stp_port_point_to_point",
      "gauge",
      "1 while the port counts its link as point-to-point (proposal and agreement), 0 on a shared LAN (stp/setp2p).",
    );
    for (const p of stpPorts) {
      lines.push(`vde_stp_port_point_to_point{${p.labels}} ${p.pointToPoint ? 1 : 0}`);
    }
    family("vde_stp_topology_changes_total", "counter", "Topology changes the spanning tree has seen.");
    for (const { s, sw } of stp) lines.push(`vde_stp_topology_changes_total{${sw}} ${s.stpTopologyChanges}`);
  }
  const snooping = views.filter((v) => v.s.mcastGroups !== undefined);
  if (snooping.length > 0) {
    family(
      "vde_mcast_groups",
      "gauge",
      "Multicast groups with at least one member port (IGMP/MLD snooping), by VLAN.",
    );
    for (const { s, sw } of snooping) {
      const perVlan = new Map<number, number>();
      for (const g of s.mcastGroups!) perVlan.set(g.vlan, (perVlan.get(g.vlan) ?? 0) + 1);
      for (const [vlan, n] of perVlan) lines.push(`vde_mcast_groups{${sw},vlan="${vlan}"} ${n}`);
    }
    family("vde_mcast_group_ports", "gauge", "Member ports of each snooped multicast group.");
    for (const { s, sw } of snooping) {
      for (const g of s.mcastGroups!) {
        lines.push(
          `vde_mcast_group_ports{${sw},vlan="${g.vlan}",group="${escapeLabel(g.group)}"} ${g.ports.length}`,
        );
      }
    }
  }
  return lines.join("\n") + "\n";
}
