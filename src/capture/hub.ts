/**
 * The switch's capture hub: the engine's one frame observer, fanning frames
 * out to the captures running (`vde capture` clients, `vde switch --pcap`).
 *
 * Theory of operation. The hub is the engine's observer only while at least
 * one capture runs, so an uncaptured switch pays nothing beyond the
 * engine's one flag test. Each capture selects frames by port (none named:
 * every port), by VLAN (the 802.1Q tag, else the port's untagged VLAN; with
 * spanning tree on, BPDUs are in none) and
 * by a classic BPF program, and sees each frame once: where it first
 * crosses a selected port (entering it, else leaving through the first
 * selected port), as tcpdump on a Linux bridge sees each frame once. It
 * gets the lent frame through `deliver`,
 * which must copy what it keeps and never block: a capture whose reader is
 * slow drops its own frames, never the switch's.
 */
import type { Direction, SwitchEngine } from "../switch/engine.ts";
import { vlanId } from "../wire/ethernet.ts";
import { isBpduDestination } from "../wire/stp.ts";
import { type BpfProgram, runBpf } from "./bpf.ts";

/** What a capture selects; every field optional means everything. */
export interface CaptureSelection {
  /** Ports to capture; empty or absent: every port. */
  ports?: number[];
  /** Only frames of this VLAN. */
  vlan?: number;
  /** Only frames this program accepts. */
  filter?: BpfProgram | null;
}

/** Receives a lent, selected frame; must copy what it keeps and must not throw. */
export type CaptureDeliver = (port: number, direction: Direction, frame: Uint8Array) => void;

interface Capture {
  ports: Set<number> | null;
  vlan: number;
  filter: BpfProgram | null;
  deliver: CaptureDeliver;
  /** The engine's sequence number of the last frame delivered. */
  lastSeq: number;
}

/** Fans the engine's frames out to the captures. */
export class CaptureHub {
  readonly #engine: SwitchEngine;
  #captures: Capture[] = [];
  readonly #observe = (port: number, direction: Direction, frame: Uint8Array, seq: number): void => {
    const captures = this.#captures;
    for (let i = 0; i < captures.length; i++) {
      const c = captures[i]!;
      if (c.lastSeq === seq || (c.ports !== null && !c.ports.has(port))) continue;
      if (c.vlan >= 0 && this.#vlanOf(port, frame) !== c.vlan) continue;
      if (c.filter !== null && runBpf(c.filter, frame) === 0) continue;
      c.lastSeq = seq;
      try {
        c.deliver(port, direction, frame);
      } catch { /* a broken capture must not break switching */ }
    }
  };

  constructor(engine: SwitchEngine) {
    this.#engine = engine;
  }

  /** How many captures run. */
  get size(): number {
    return this.#captures.length;
  }

  /** Starts a capture; returns the function that stops it. */
  add(selection: CaptureSelection, deliver: CaptureDeliver): () => void {
    const capture: Capture = {
      ports: selection.ports !== undefined && selection.ports.length > 0 ? new Set(selection.ports) : null,
      vlan: selection.vlan ?? -1,
      filter: selection.filter ?? null,
      deliver,
      lastSeq: -1,
    };
    // Replaced, never edited in place, so a delivery loop already running stays consistent.
    this.#captures = [...this.#captures, capture];
    this.#engine.observer = this.#observe;
    return () => {
      this.#captures = this.#captures.filter((c) => c !== capture);
      if (this.#captures.length === 0) this.#engine.observer = null;
    };
  }

  #vlanOf(port: number, frame: Uint8Array): number {
    const vid = vlanId(frame);
    // With spanning tree on, an untagged BPDU is the switch's, in no VLAN (one tree for the whole switch,
    // BPDUs consumed, never flooded): `--vlan 10` on an access port of VLAN 10 shows that VLAN's traffic only.
    if (vid < 0 && this.#engine.stp !== null && isBpduDestination(frame)) return -1;
    return vid >= 0 ? vid : this.#engine.isActive(port) ? this.#engine.portVlan(port) : -1;
  }
}
