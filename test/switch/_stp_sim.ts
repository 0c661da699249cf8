/**
 * A network of spanning tree bridges on a virtual clock, in the spirit of
 * Open vSwitch's tests/stp.at and rstp.at: bridges are named by a number
 * (their MAC, priority 32768 unless set), their ports sit on LANs named by
 * letters, and `check` compares every port at once against a line such as
 * `F:2000 Di F` (F forwarding, `:cost` marks the root port and its root path
 * cost, Di discarding, L learning, D disabled), or `root`.
 *
 * A legacy bridge speaks 802.1D only and ignores RST BPDUs, as the Linux
 * kernel's bridge does. A LAN with three or more ports is a hub: every port
 * on it hears every other, and the ports find out that it is shared by
 * themselves (their point-to-point setting is `auto` unless a test sets
 * it). BPDUs are queued and delivered after the event that sent them, so a
 * run is deterministic; after every delivery and every second the sim looks
 * for a loop among the forwarding ports (`loops` counts the times it found
 * one).
 */
import { Role, Rstp } from "../../src/switch/rstp.ts";
import type { PointToPoint } from "../../src/switch/stp_limits.ts";

interface SimBridge {
  id: number;
  rstp: Rstp;
  /** LAN of each port (index 0 is port 1); "" when unplugged. */
  lans: string[];
  flushes: number[];
  /** Drops RST BPDUs, as a Linux bridge (802.1D-1998) does. */
  legacy: boolean;
}

export class StpSim {
  readonly bridges = new Map<number, SimBridge>();
  #queue: { from: SimBridge; port: number; frame: Uint8Array }[] = [];
  #nowMs = 0;
  /** BPDUs delivered so far. */
  delivered = 0;
  /** Checks (after each delivery and each second) that found the forwarding ports closing a loop. */
  loops = 0;
  /** Every BPDU sent: bridge index, port, and the frame. */
  readonly sent: { bridge: number; port: number; frame: Uint8Array }[] = [];

  /**
   * Adds bridge `index` with MAC `id` whose ports 1.. sit on `lans` ("0" for
   * a port that is up with nobody else on its LAN, "X" for one that is down;
   * `lan:cost` sets a path cost, `lan^prio` a port priority); `p2p` sets
   * ports' point-to-point setting before they are plugged.
   */
  bridge(
    index: number,
    id: number,
    lans: string[],
    options: {
      legacy?: boolean;
      priority?: number;
      log?: (line: string) => void;
      p2p?: Record<number, PointToPoint>;
    } = {},
  ) {
    const mac = new Uint8Array(6);
    new DataView(mac.buffer).setUint16(4, id & 0xffff);
    new DataView(mac.buffer).setUint16(2, Math.floor(id / 0x10000) & 0xffff);
    const legacy = options.legacy ?? false;
    const b: SimBridge = { id, lans: [], flushes: [], legacy, rstp: null as unknown as Rstp };
    b.rstp = new Rstp({ mac, priority: options.priority, forceVersion: legacy ? 0 : 2, log: options.log }, {
      send: (port, frame) => {
        this.sent.push({ bridge: index, port, frame });
        this.#queue.push({ from: b, port, frame });
      },
      setPortState: () => {},
      flush: (port) => b.flushes.push(port),
    });
    this.bridges.set(index, b);
    b.rstp.tick(this.#nowMs);
    for (const [port, mode] of Object.entries(options.p2p ?? {})) b.rstp.setPointToPoint(Number(port), mode);
    this.set(index, lans);
  }

  /** Rewires bridge `index`'s ports (same notation; `_` leaves a port as it is). */
  set(index: number, lans: string[]): void {
    const b = this.bridges.get(index)!;
    lans.forEach((spec, i) => {
      if (spec === "_") return;
      const port = i + 1;
      const m = /^([^:^]+)(?::(\d+))?(?:\^(\d+))?$/.exec(spec)!;
      // Every "0" is a LAN of its own.
      const lan = m[1] === "X" ? "" : m[1] === "0" ? `0-${index}-${port}` : m[1]!;
      if (m[2] !== undefined) b.rstp.setPortPathCost(port, Number(m[2]));
      if (m[3] !== undefined) b.rstp.setPortPriority(port, Number(m[3]));
      const before = b.lans[i] ?? "";
      b.lans[i] = lan;
      // Moving a port to another LAN takes its link down first.
      if (lan === "" || (before !== "" && before !== lan)) b.rstp.disablePort(port);
      if (lan !== "") b.rstp.enablePort(port);
    });
    this.#deliver();
  }

  /**
   * Whether the forwarding ports close a loop: bridges and LANs as nodes,
   * each forwarding port an edge joining its bridge to its LAN; an edge
   * between two nodes already joined closes one.
   */
  looped(): boolean {
    const parent = new Map<string, string>();
    const find = (x: string): string => {
      let r = x;
      while (parent.has(r)) r = parent.get(r)!;
      return r;
    };
    for (const [index, b] of this.bridges) {
      for (const [i, lan] of b.lans.entries()) {
        if (lan === "" || !b.rstp.isForwarding(i + 1)) continue;
        const [x, y] = [find(`bridge ${index}`), find(`lan ${lan}`)];
        if (x === y) return true;
        parent.set(x, y);
      }
    }
    return false;
  }

  #checkLoop(): void {
    if (this.looped()) this.loops++;
  }

  /** Runs the clock for `seconds`, delivering BPDUs as they are sent. */
  run(seconds: number): void {
    for (let s = 0; s < seconds; s++) {
      this.#nowMs += 1000;
      for (const b of this.bridges.values()) b.rstp.tick(this.#nowMs);
      this.#checkLoop();
      this.#deliver();
    }
  }

  #deliver(): void {
    for (let guard = 0; this.#queue.length > 0 && guard < 100000; guard++) {
      const { from, port, frame } = this.#queue.shift()!;
      const lan = from.lans[port - 1];
      if (lan === undefined || lan === "") continue;
      for (const to of this.bridges.values()) {
        to.lans.forEach((l, i) => {
          if (l !== lan || (to === from && i + 1 === port)) return;
          if (to.legacy && frame[19] !== 0) return;
          this.delivered++;
          to.rstp.receive(i + 1, frame);
          this.#checkLoop();
        });
      }
    }
  }

  /** The ports of bridge `index` in the check notation. */
  describe(index: number): string {
    const b = this.bridges.get(index)!;
    if (b.rstp.rootId === b.rstp.bridgeId) return "root";
    return b.lans.map((_, i) => this.#portText(b, i + 1)).join(" ");
  }

  #portText(b: SimBridge, port: number): string {
    const v = b.rstp.port(port);
    if (v === undefined || !v.enabled) return "D";
    const state = v.forwarding ? "F" : v.learning ? "L" : "Di";
    return v.role === Role.Root ? `${state}:${b.rstp.rootPathCost}` : state;
  }

  /** The ports of bridge `index` in the check notation, even for the root. */
  describePorts(index: number): string {
    const b = this.bridges.get(index)!;
    return b.lans.map((_, i) => this.#portText(b, i + 1)).join(" ");
  }

  rstp(index: number): Rstp {
    return this.bridges.get(index)!.rstp;
  }

  flushes(index: number): number[] {
    return this.bridges.get(index)!.flushes;
  }
}
