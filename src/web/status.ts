/**
 * What the web server shows of a switch, read through the Switch's public
 * API only (ports, endpoints, per-port counters, the MAC table), so it
 * keeps working wherever the engine itself runs.
 *
 * A snapshot is taken per scrape or per page update, never per frame: the
 * data path pays nothing. MAC moves are the engine's own count (`macMoves`,
 * from the switch's start, the forwarding thread's where it has one).
 */
import type { EngineCounters } from "../switch/engine.ts";
import type { Switch } from "../switch/switch.ts";
import { ROLE_NAMES } from "../switch/rstp.ts";
import { STP_STATE_NUMBER, type StpStateName, stpStateName } from "../switch/stp_state_name.ts";

/** One allocated port. */
export interface PortStatus {
  port: number;
  /** The clients' descriptions, oldest first, joined by "; " ("" for none). */
  name: string;
  /** Untagged VLAN. */
  vlan: number;
  /** Taking part in switching (a client is attached and the port is not disabled). */
  up: boolean;
  /** Clients (endpoints) on the port. */
  clients: number;
  bytesIn: number;
  framesIn: number;
  dropsIn: number;
  bytesOut: number;
  framesOut: number;
  dropsOut: number;
  /**
   * Spanning tree, when on: the port's role, its state as the kernel numbers it, how often its BPDU
   * guard disabled it and its root guard held it discarding, and whether it counts its link as
   * point-to-point (false: a shared LAN, no proposal/agreement; `stp/setp2p`).
   */
  stp?: {
    role: string;
    state: StpState;
    /** The state in a Linux bridge's words (RSTP's discarding on a port that speaks RSTP): `stpStateName`. */
    stateName: StpStateName;
    guardTrips: number;
    rootBlocks: number;
    pointToPoint: boolean;
  };
}

/**
 * Port states as Linux's bridge numbers them (sysfs brport/state): disabled, listening, learning, forwarding,
 * blocking (RSTP's discarding is 4).
 */
export type StpState = 0 | 1 | 2 | 3 | 4;

/** One MAC table entry. */
export interface MacStatus {
  mac: string;
  vlan: number;
  port: number;
}

/** One multicast group joined on a port (IGMP/MLD snooping). */
export interface McastGroupStatus {
  vlan: number;
  group: string;
  /** Member ports, ascending. */
  ports: number[];
}

/** A switch as the web server shows it. */
export interface SwitchSnapshot {
  /** The switch label of every metric: its socket directory. */
  name: string;
  hub: boolean;
  ports: PortStatus[];
  /** Entries per existing VLAN (0 for a VLAN with none). */
  fdbEntries: Map<number, number>;
  fdbMoves: number;
  /** The switch-wide counters (on a switch thread, the thread's). */
  counters: EngineCounters;
  /** Topology changes the spanning tree has seen; undefined while it is off. */
  stpTopologyChanges?: number;
  /** Multicast groups with their member ports; undefined while snooping is off. */
  mcastGroups?: McastGroupStatus[];
  /** When the switch started, in seconds since the epoch: its counters count from 0 from then. */
  startTime: number;
  /** False once its data-plane thread died (a lab's switch, which runs on): its counters stand still. */
  forwarding: boolean;
  /** Milliseconds since the epoch. */
  time: number;
}

/** Watches one switch for the web server. */
export class SwitchStatus {
  readonly sw: Switch;
  readonly name: string;
  /** What /metrics shows after the switch's own families: `vde switch --slirp`'s slirp, whose page is this one. */
  extraMetrics?: () => string;

  constructor(sw: Switch, name: string) {
    this.sw = sw;
    this.name = name;
  }

  /** Times a learned MAC showed on another port since the switch started (`SwitchEngine.macMoves`). */
  get fdbMoves(): number {
    return this.sw.engine.macMoves;
  }

  /** The allocated ports, ascending. */
  ports(): PortStatus[] {
    const sw = this.sw;
    const engine = sw.engine;
    const out: PortStatus[] = [];
    const stp = engine.stp;
    for (const p of sw.allocatedPorts()) {
      const state = sw.port(p);
      if (state === undefined || p >= sw.numPorts) continue;
      const stats = engine.portStats(p);
      out.push({
        port: p,
        // Newest first in the switch; shown oldest first, as port/print does.
        name: [...state.endpoints].reverse().map((ep) => ep.link.description).join("; "),
        vlan: engine.portVlan(p),
        up: engine.isActive(p),
        clients: state.endpoints.length,
        bytesIn: stats.bytesIn,
        framesIn: stats.framesIn,
        dropsIn: stats.dropsIn,
        bytesOut: stats.bytesOut,
        framesOut: stats.framesOut,
        dropsOut: stats.dropsOut,
      });
      const view = stp?.port(p);
      if (view !== undefined) {
        const stateName = stpStateName(view);
        out[out.length - 1]!.stp = {
          role: ROLE_NAMES[view.role] ?? "unknown",
          state: STP_STATE_NUMBER[stateName],
          stateName,
          guardTrips: view.guardTrips,
          rootBlocks: view.rootBlocks,
          pointToPoint: view.pointToPoint,
        };
      }
    }
    return out;
  }

  /** The MAC table, by VLAN then MAC. */
  macs(): MacStatus[] {
    const out: MacStatus[] = [];
    for (const e of this.sw.engine.macTable.entries()) out.push({ mac: e.mac, vlan: e.vlan, port: e.port });
    return out.sort((a, b) => a.vlan - b.vlan || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  }

  /** The snooped multicast groups by VLAN and group, or undefined when snooping is off. */
  mcastGroups(): McastGroupStatus[] | undefined {
    const snoop = this.sw.engine.snooping;
    if (snoop === null) return undefined;
    const out: McastGroupStatus[] = [];
    // groups() is sorted by VLAN, group, port: one row per member port.
    for (const row of snoop.groups()) {
      const last = out[out.length - 1];
      if (last !== undefined && last.vlan === row.vlan && last.group === row.group) last.ports.push(row.port);
      else out.push({ vlan: row.vlan, group: row.group, ports: [row.port] });
    }
    return out;
  }

  /** Everything the metrics show, in one pass over the ports and the MAC table. */
  snapshot(): SwitchSnapshot {
    const fdbEntries = new Map<number, number>();
    for (const vid of this.sw.engine.vlans()) fdbEntries.set(vid, 0);
    for (const e of this.sw.engine.macTable.entries()) {
      fdbEntries.set(e.vlan, (fdbEntries.get(e.vlan) ?? 0) + 1);
    }
    return {
      name: this.name,
      hub: this.sw.engine.hub,
      ports: this.ports(),
      fdbEntries,
      fdbMoves: this.fdbMoves,
      counters: this.sw.engine.counters,
      stpTopologyChanges: this.sw.engine.stp?.topologyChanges,
      mcastGroups: this.mcastGroups(),
      startTime: this.sw.startedAt / 1000,
      forwarding: this.sw.threadFailure === null,
      time: Date.now(),
    };
  }

  /** Nothing to release now that moves are the engine's count; kept for the servers that call it. */
  close(): void {}
}

/**
 * A port's "up" cell on the pages (the switch's and the lab's): yes or no,
 * and with spanning tree its role and, unless it forwards, its state, as
 * the console's `stp` shows them (an alternate port is up but discarding).
 * Self-contained: the pages embed its source.
 */
export function portUpText(
  p: { up: boolean; stp?: { role: string; state: number; stateName?: string } },
): string {
  const states = ["disabled", "listening", "learning", "forwarding", "discarding"];
  if (p.stp === undefined) return p.up ? "yes" : "no";
  const name = p.stp.stateName ?? states[p.stp.state] ?? "state " + p.stp.state;
  const state = p.stp.state === 3 || name === p.stp.role ? "" : ", " + name;
  return (p.up ? "yes" : "no") + " (" + p.stp.role + state + ")";
}
