/**
 * What the console's commands act on: the switch, plus the facts about the
 * running program that `showinfo`, `ds/showinfo` and `shutdown` need. One
 * context per switch, shared by every session (socket clients, the
 * switch's own console, the startup script).
 */
import type { Switch } from "../../switch/switch.ts";
import type { Rstp } from "../../switch/rstp.ts";
import type { PointToPoint } from "../../switch/stp_limits.ts";
import { parseMacText } from "../../wire/ethernet.ts";
import { DebugHub } from "./debug.ts";
import { log } from "../../log.ts";

/** The socket directory the switch serves, for `ds/showinfo`. */
export interface DataSocketInfo {
  dir: string;
  /** Mode of the ctl and port sockets. */
  mode: number;
}

/** The management socket, for `showinfo`. */
export interface MgmtInfo {
  path: string;
  mode: number;
}

/** Settings for `createConsoleContext`. */
export interface ConsoleContextOptions {
  dataSocket?: DataSocketInfo;
  mgmt?: MgmtInfo;
  /** Called once by `shutdown`, after its reply is written. */
  shutdown?: (reason: string) => void;
  /** The switch's MAC as `showinfo` prints it; default random 00:ff:xx:xx:xx:xx like vde_switch. */
  mac?: string;
}

/** Shared state behind the console commands of one switch. */
export class ConsoleContext {
  readonly sw: Switch;
  dataSocket: DataSocketInfo | undefined;
  mgmt: MgmtInfo | undefined;
  readonly mac: string;
  /** performance.now() when the console started: `showinfo`'s uptime counts from here. */
  readonly startedAt: number;
  /**
   * The bucket count `hash/print` and `hash/find` compute `Hash: NNNN` with
   * (our table is not bucketed; this keeps vde_switch's numbers).
   */
  hashBuckets = 128;
  readonly debug: DebugHub;
  /** Bridge priority and timers spanning tree starts with (`--priority`, `stp/setprio`, `stp/settimers`). */
  stpPriority = 32768;
  stpTimes: { helloTime: number; maxAge: number; forwardDelay: number } = {
    helloTime: 2,
    maxAge: 20,
    forwardDelay: 15,
  };
  /**
   * Edge ports set while spanning tree is off (`fstp/setedge` before
   * `fstp/setfstp 1`, as vde_switch's rc files may say them), given to the
   * tree when it starts.
   */
  readonly stpEdges: Map<number, boolean> = new Map();
  /**
   * Ports with BPDU guard or root guard on (`stp/setguard`,
   * `stp/setrootblock`), kept whether or not spanning tree runs and given
   * to it at every start: a protection must not vanish with an
   * `fstp/setfstp 0` and 1.
   */
  readonly stpGuards: Map<number, { bpdu: boolean; root: boolean }> = new Map();
  /** Ports set point-to-point or shared (`stp/setp2p`; auto is the default), kept and given likewise. */
  readonly stpPointToPoint: Map<number, PointToPoint> = new Map();
  /**
   * Called with the tree each time spanning tree starts (not when asked to start while it runs): what
   * owns the switch's ports gives it the settings it keeps for them (a lab's edge ports for its hosts).
   */
  onStpStart: ((stp: Rstp) => void) | undefined;
  readonly #shutdown: ((reason: string) => void) | undefined;
  #shuttingDown = false;

  constructor(sw: Switch, options: ConsoleContextOptions = {}) {
    this.sw = sw;
    this.dataSocket = options.dataSocket;
    this.mgmt = options.mgmt;
    this.mac = options.mac ?? randomSwitchMac();
    this.startedAt = performance.now();
    this.debug = new DebugHub(sw);
    this.#shutdown = options.shutdown;
  }

  /**
   * Turns spanning tree on or off; the bridge address is the switch's MAC.
   *
   * @returns the running machine (null when turned off)
   * @throws Error in hub mode ("Can't use fstp in hub mode")
   */
  setStp(on: boolean): Rstp | null {
    const engine = this.sw.engine;
    if (!on) {
      engine.disableStp();
      return null;
    }
    const mac = parseMacText(this.mac);
    if (!mac.ok) throw new Error(`The switch's MAC: ${mac.reason}`);
    const starts = engine.stp === null;
    const stp = engine.enableStp({
      mac: mac.value,
      priority: this.stpPriority,
      ...this.stpTimes,
      log: (line) => log("vde switch", line),
    });
    for (const [port, edge] of this.stpEdges) stp.setAdminEdge(port, edge);
    this.stpEdges.clear();
    for (const [port, { bpdu, root }] of this.stpGuards) {
      stp.setBpduGuard(port, bpdu);
      stp.setRootGuard(port, root);
    }
    for (const [port, mode] of this.stpPointToPoint) stp.setPointToPoint(port, mode);
    if (starts) this.onStpStart?.(stp);
    return stp;
  }

  /** Seconds on the engine's clock (the MAC table's `lastSeen` uses it). */
  nowSeconds(): number {
    return performance.now() / 1000;
  }

  /** Whole seconds since the console started. */
  uptimeSeconds(): number {
    return Math.floor((performance.now() - this.startedAt) / 1000);
  }

  /** Whether `shutdown` can stop anything here. */
  get canShutdown(): boolean {
    return this.#shutdown !== undefined;
  }

  /** Stops the switch (once); `reason` goes to the log. */
  shutdown(reason: string): void {
    if (this.#shuttingDown || this.#shutdown === undefined) return;
    this.#shuttingDown = true;
    this.#shutdown(reason);
  }
}

function randomSwitchMac(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return ["00", "ff", ...Array.from(b, (x) => x.toString(16).padStart(2, "0"))].join(":");
}
