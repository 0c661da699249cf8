/**
 * `vde status --json`: what the status tables show, as one JSON document for
 * scripts (containerlab's `inspect --format json` is the model).
 *
 * Built from the running lab's own records, as the tables are, never by
 * reading the tables back; the key names are the documented interface
 * (README, "vde status --json") and change only by adding keys. A value a
 * node does not have is left out rather than set to null, so `jq -e` tests
 * for presence.
 */
import { CableClient } from "../cable/client.ts";
import { CableSession } from "../cable/session.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
import { formatIpv6 } from "../wire/ipv6.ts";
import type { LabRunner, RunningLink } from "./runner.ts";
import { Role } from "../switch/rstp.ts";
import { STP_STATE_RANK, type StpStateName, stpStateName } from "../switch/stp_state_name.ts";
import type { LabNode, LinkEnd } from "./spec.ts";
import { plainImpairments } from "./to_yaml.ts";
import { modeText } from "../os/mode_text.ts";

/** A cable node's state, as `status` words it and as JSON spells it. */
export interface CableState {
  /** connected, retrying, waiting, refused or none (no cable yet). */
  state: "connected" | "retrying" | "waiting" | "refused" | "none";
  text: string;
  /** Why the far end refused (state refused only). */
  refusal?: string;
}

/** Whether a cable node's cable carries frames now: what a user checks first when the far side is silent. */
export function cableState(link: unknown, connecting: boolean): CableState {
  if (!(link instanceof CableSession)) return { state: "none", text: "no cable yet" };
  if (link.connection !== null) return { state: "connected", text: "connected" };
  if (link instanceof CableClient && link.refusal !== null) {
    return { state: "refused", text: `not connected, not retrying: ${link.refusal}`, refusal: link.refusal };
  }
  return connecting
    ? { state: "retrying", text: "not connected (retrying)" }
    : { state: "waiting", text: "not connected (waiting for the far end)" };
}

/** One lab's status document: the lab, its nodes and its links. */
export function labStatusJson(r: LabRunner, webUrl: string | undefined): Record<string, unknown> {
  return {
    name: r.lab.name,
    pid: Deno.pid,
    state: "up",
    ...(r.file !== "" ? { file: r.file } : {}),
    ...(webUrl !== undefined ? { web: webUrl, metrics: `${webUrl}metrics` } : {}),
    nodes: r.lab.nodes.map((n) => ({ name: n.name, kind: n.kind, ...nodeJson(r, n) })),
    links: r.links.map((l) => ({
      name: l.name,
      state: l.wire.up ? "up" : "down",
      // Apart from state, which scripts read as up or down: the tree's cut is a link up that carries nothing.
      ...(l.wire.up && linkStp(r, l) !== undefined ? { stp: linkStp(r, l)!.state } : {}),
      a: endJson(l.spec.ends[0]),
      b: endJson(l.spec.ends[1]),
      // As the table's A>B: what the b end took in came from a.
      framesAtoB: l.wire.b.stats.framesIn,
      framesBtoA: l.wire.a.stats.framesIn,
      drops: l.wire.dropped + l.wire.filterDrops,
      settings: {
        ...plainImpairments(l.wire.impair),
        ...(l.spec.vlan !== undefined ? { vlan: l.spec.vlan } : {}),
        ...(l.spec.trunk.length ? { trunk: l.spec.trunk } : {}),
      },
    })),
  };
}

/**
 * The spanning-tree state of link `l`, in a Linux bridge's words
 * (`stpStateName`): that of its switch end furthest from carrying frames
 * (an alternate end keeps the whole link out of the tree, a port still
 * learning keeps it from forwarding yet), so a link coming up reads
 * listening or learning, not forwarding; undefined where no end runs it.
 * `cut` says the tree keeps the link out for good (an end is an alternate
 * or backup port): the table's `blocked`, drawn faint on the lab's page.
 */
export function linkStp(r: LabRunner, l: RunningLink): { state: StpStateName; cut: boolean } | undefined {
  let worst: StpStateName | undefined;
  let cut = false;
  for (const e of l.spec.ends) {
    const view = e.port === undefined ? undefined : r.switches.get(e.node)?.sw.engine.stp?.port(e.port);
    if (view === undefined || !view.enabled) continue;
    if (view.role === Role.Alternate || view.role === Role.Backup) cut = true;
    const state = stpStateName(view);
    if (worst === undefined || STP_STATE_RANK[state] < STP_STATE_RANK[worst]) worst = state;
  }
  return worst === undefined ? undefined : { state: worst, cut };
}

function endJson(e: LinkEnd): Record<string, unknown> {
  return {
    node: e.node,
    ...(e.port !== undefined ? { port: e.port } : {}),
    ...(e.iface ? { iface: e.iface } : {}),
  };
}

function nodeJson(r: LabRunner, n: LabNode): Record<string, unknown> {
  switch (n.kind) {
    case "switch": {
      const s = r.switches.get(n.name)!;
      const used = s.sw.allocatedPorts().filter((p) => (s.sw.port(p)?.endpoints.length ?? 0) > 0).length;
      const failure = r.switchFailure(n.name);
      return {
        // Failed: its data-plane thread ended unasked, and it forwards nothing (`failure` says why).
        state: failure === null ? "up" : "failed",
        ...(failure !== null ? { failure } : {}),
        ports: n.ports,
        portsInUse: used,
        hub: n.hub,
        stp: n.stp,
        // Climbs fast in a loop without spanning tree (the switch logs "loop? run with --stp").
        macMoves: s.sw.engine.macMoves,
        ...(n.priority !== undefined ? { priority: n.priority } : {}),
        sock: s.dir,
        mgmt: s.mgmtPath,
        // Modes as the file and `ls -l` write them: octal text.
        ...(n.mode !== undefined ? { mode: modeText(n.mode) } : {}),
        ...(n.group !== undefined ? { group: n.group } : {}),
        ...(n.mgmtMode !== undefined ? { mgmtMode: modeText(n.mgmtMode) } : {}),
      };
    }
    case "host": {
      const h = r.hosts.get(n.name)!;
      const interfaces = [...h.taps.keys()].map((i) => ({
        name: i,
        // A DHCP interface shows its lease once it has one, as the table does.
        addresses: (n.addresses[i] ?? []).map((a) => a === "dhcp" && h.leases.has(i) ? h.leases.get(i)! : a),
        dhcp: (n.addresses[i] ?? []).includes("dhcp"),
      }));
      return { state: "up", namespace: h.ns, interfaces };
    }
    case "slirp": {
      // Run by a rootless lab's `vde up` outside its namespaces: this process has no stack to read.
      if (r.outside.has(n.name)) return { state: r.outsideLost.has(n.name) ? "gone" : "up", outside: true };
      const c = r.slirps.get(n.name)!.stack.config;
      return {
        state: "up",
        gateway: `${formatIpv4(c.gateway)}/${c.prefixLength}`,
        dns: formatIpv4(c.dns),
        dhcpStart: formatIpv4(c.dhcpStart),
        gateway6: formatIpv6(c.gateway6),
        prefix6: `${formatIpv6(c.prefix6)}/${c.prefix6Length}`,
        mtu: c.mtu,
      };
    }
    case "cable": {
      const where = n.connect !== undefined
        ? { connect: n.connect }
        : { listen: r.cableListening(n.name) ?? n.listen };
      if (r.outside.has(n.name)) {
        return { state: r.outsideLost.has(n.name) ? "gone" : "up", ...where, outside: true };
      }
      const entry = r.cables.get(n.name);
      const { state, refusal } = cableState(entry?.link ?? null, n.connect !== undefined);
      return {
        state,
        ...where,
        ...(refusal !== undefined ? { refusal } : {}),
      };
    }
  }
}
