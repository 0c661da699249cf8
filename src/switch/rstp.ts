/**
 * The Rapid Spanning Tree Protocol (IEEE 802.1D-2004 clause 17) for one
 * bridge, with per-port fallback to 802.1D (STP) BPDUs.
 *
 * Theory of operation. The standard describes a bridge as a set of state
 * machines per port (receive, protocol migration, bridge detection,
 * transmit, information, role transitions, state transitions, topology
 * change) plus one role selection machine, sharing variables, all run
 * "until no more transitions are possible" after every event. This file
 * keeps that shape: each machine is a method that takes at most one
 * transition and says whether it did; `#run` calls them all until none
 * does. Events are a received BPDU (`receive`), a second passing (`tick`:
 * the port timers count down in whole seconds), a port coming up or going
 * down (`enablePort`/`disablePort`) and management changes. Nothing here
 * reads a clock or touches a socket: BPDUs leave through `hooks.send`,
 * port states through `hooks.setPortState`, MAC flushes through
 * `hooks.flush`, so the machine runs wherever the engine runs.
 *
 * Deviations, each on purpose: a TCN BPDU sets rcvdTcn directly (the
 * standard's information machine would drop it as OtherInfo, a known
 * erratum); times from BPDUs are rounded to whole seconds (the timers tick
 * in seconds); a config BPDU that comes back to the port that sent it is
 * ignored (9.3.4). Port numbers are the vde port numbers (12 bits).
 *
 * Port protection, as the Linux bridge's `guard` and `root_block` port
 * flags have it (off by default; a port without them is untouched). BPDU
 * guard: a port that hears any well-formed BPDU (tagged ones too) is taken
 * out of the tree as if its link went down, says so once in the log, and
 * stays out until its client leaves (the kernel's guard lifts on a link
 * flap, and a vde port's next client may be another host: a client that
 * names no port gets the lowest free one) or the operator sets the guard again
 * (`setBpduGuard`). The BPDU that trips it is never taken in, so a host
 * that plugs in again and again changes nothing in the tree.
 * Root guard (802.1Q's restrictedRole): the port is never chosen as root
 * port; while the best information it holds would have made it one, it is
 * "root-inconsistent": an alternate port, discarding, until that
 * information ages out (3 hellos without the superior BPDU).
 * The Linux bridge's root_block keeps such a port listening likewise.
 *
 * Point-to-point (802.1D-2004's adminPointToPointMAC, mstpd's `setportp2p`):
 * proposal and agreement are safe only on a LAN of two bridge ports, where
 * the one agreement heard speaks for the whole LAN. A vde port may lead to
 * a shared LAN instead (a hub, or a switch without spanning tree that floods
 * BPDUs), so each port is `yes`, `no` or `auto` (the default). A vde port
 * has no duplex to go by, so `auto` goes by what the port hears: it is
 * point-to-point until BPDUs from two different bridge ports (two bridges,
 * or two ports of one) have been heard within max age, then shared until
 * one of them has been silent for max age. A shared port takes no
 * agreement: a designated port there moves on fdWhile alone, which starts
 * at max age when the port comes up (DISABLED_PORT) and at the standard's
 * forward delay after a sync, and runs the forward delay again learning
 * (17.20.6: the hello time where the port speaks RSTP, which sends new
 * information at once; the forward delay where it fell back to 802.1D).
 *
 * Compatibility: a port that hears a config or TCN BPDU sends 802.1D BPDUs
 * (config on designated ports, TCN up the root port until acknowledged) and
 * moves through discarding and learning with the full forward delay, as a
 * Linux bridge expects; it speaks RSTP again only after hearing an RST BPDU.
 *
 * vde_switch's FSTP (wire/stp.ts) is RSTP's priority vectors with its own
 * rules: it forwards on its root port, holds every other port that hears
 * BPDUs discarding until the bridge across says that port is its root port
 * (role code 01), and reopens a port that has heard nothing for 16 to 32 s.
 * A port that hears its dialect (`fstp`, said once in the log) takes its
 * BPDUs in the standard's words: its root port as a root port; its
 * designated vector (which it sends on every port) as designated when it is
 * as good as what the port holds or better, else as an alternate's (it is
 * discarding there, and its always-set agreement flag stands for that); its
 * proposal flag, which only marks its discarding ports, dropped; its forward
 * delay, which it leaves 0, ours. Such a port answers in FSTP's role code
 * and sends a BPDU every hello and at every role change whatever its role,
 * so that FSTP opens its end when ours becomes a root port and keeps its
 * discarding end discarding. FSTP runs a tree per VLAN, with tagged BPDUs on
 * a VLAN's tagged ports; ours is one tree for all VLANs: tagged BPDUs are
 * ignored, and what an FSTP port sends goes out tagged for each VLAN too
 * (`hooks.send`), so each of FSTP's trees makes our tree's decisions (its
 * priority and port costs are the same in every VLAN).
 */
import { type Bpdu, BpduFlag, BpduRole, bridgeId, buildBpdu, FstpRole, parseBpdu } from "../wire/stp.ts";
import {
  BRIDGE_PRIORITY,
  BRIDGE_PRIORITY_STEP,
  FORWARD_DELAY,
  HELLO_TIME,
  inSteps,
  type Limits,
  MAX_AGE,
  PATH_COST,
  type PointToPoint,
  PORT_PRIORITY,
  PORT_PRIORITY_STEP,
  stepsText,
  STP_PORTS,
  within,
} from "./stp_limits.ts";

/** A port's role (802.1D-2004 17.7). */
export const Role = { Disabled: 0, Root: 1, Designated: 2, Alternate: 3, Backup: 4 } as const;
export type Role = typeof Role[keyof typeof Role];
/** Role names as `stp` prints them. */
export const ROLE_NAMES = ["disabled", "root", "designated", "alternate", "backup"] as const;

/** A new port's path cost: 10 Gbit/s in 802.1D-2004 table 17-3. */
export const DEFAULT_PATH_COST = 2000;

/** A bridge's timer values, whole seconds. */
export interface StpTimes {
  messageAge: number;
  maxAge: number;
  helloTime: number;
  forwardDelay: number;
}

/** A priority vector (17.5); ids are `pppp.mmmmmmmmmmmm` strings, which compare as the ids do. */
export interface PriorityVector {
  rootId: string;
  rootPathCost: number;
  designatedBridgeId: string;
  designatedPortId: number;
  bridgePortId: number;
}

/** Settings of an `Rstp`; every field but the MAC has the standard's default. */
export interface RstpOptions {
  /** The bridge address (6 bytes), also the source of every BPDU. */
  mac: Uint8Array;
  /** Bridge priority 0..61440 in steps of 4096; default 32768. */
  priority?: number;
  /** Seconds; defaults 2, 20, 15 (the kernel's and the standard's). */
  helloTime?: number;
  maxAge?: number;
  forwardDelay?: number;
  /** 2 for RSTP (default), 0 to speak only 802.1D on every port. */
  forceVersion?: 0 | 2;
  /** BPDUs a port may send per second; default 6. */
  txHoldCount?: number;
  /** Path cost of a new port; default DEFAULT_PATH_COST. */
  defaultPathCost?: number;
  /** Where a line for the switch's log goes (a port that hears vde_switch's FSTP, once per port). */
  log?: (line: string) => void;
}

/** Something the machine reports: a port changing role or state, or a new root. */
export type StpEvent =
  | { type: "stp-port"; port: number; role: Role; learning: boolean; forwarding: boolean; message: string }
  | { type: "stp-root"; port: number; rootId: string; message: string }
  | { type: "stp-bad-bpdu"; port: number; reason: string; message: string };

/** What a send hook says left: `framesSent` frames (0 when the port could not send). */
export interface FramesSent {
  readonly framesSent: number;
}

/** Where the machine's decisions go; supplied by the engine. */
export interface RstpHooks {
  /**
   * Sends one BPDU frame out of a port, whatever the port's state; with
   * `everyVlan` (a port that hears vde_switch's FSTP, a tree per VLAN) also
   * once tagged for each VLAN the port carries tagged. Returns how many
   * frames left, so that the port's count matches its frame counters; none
   * returned counts one. A count, not a number: a hook written as
   * `(port) => sent.push(port)` returns the array's length, which counted
   * as frames sent; the compiler now refuses it, and a number that gets
   * past it (untyped code) counts one.
   */
  send(port: number, frame: Uint8Array, everyVlan?: boolean): FramesSent | void;
  /** The port may now learn and/or forward (both false: discarding). */
  setPortState(port: number, learning: boolean, forwarding: boolean): void;
  /** Forget the MAC entries learned on a port. */
  flush(port: number): void;
  onEvent?: (event: StpEvent) => void;
}

/** A port as `ports()` shows it. */
export interface StpPortView {
  port: number;
  portId: number;
  role: Role;
  learning: boolean;
  forwarding: boolean;
  enabled: boolean;
  pathCost: number;
  priority: number;
  designatedRoot: string;
  designatedCost: number;
  designatedBridge: string;
  designatedPort: number;
  edge: boolean;
  adminEdge: boolean;
  /** operPointToPointMAC: proposal and agreement are used on the port; `adminPointToPoint`: as set. */
  pointToPoint: boolean;
  adminPointToPoint: PointToPoint;
  /** BPDU guard is on; `guardTripped`: it took the port out of the tree (counted in `guardTrips`). */
  bpduGuard: boolean;
  guardTripped: boolean;
  guardTrips: number;
  /** Root guard is on; `rootBlocked`: it holds the port alternate now (counted in `rootBlocks`). */
  rootGuard: boolean;
  rootBlocked: boolean;
  rootBlocks: number;
  /** Speaks RSTP (false: fell back to 802.1D on this port). */
  rstp: boolean;
  /** Hears vde_switch's FSTP dialect, and answers in it. */
  fstp: boolean;
  /** BPDU frames heard and sent, each tagged copy (vde_switch's tree of a VLAN) counted: port/print's frames. */
  bpdusIn: number;
  bpdusOut: number;
  badBpdus: number;
}

const MIGRATE_TIME = 3;
/**
 * Bad-BPDU events the machine reports a second, one by one. Anyone on a port
 * can send bad BPDUs at line rate; past this many a second they are only
 * counted (badBpdus, always), and the next second's tick reports how many
 * were held back in one event, so a debug/add subscriber sees a few lines a
 * second, not a flood.
 */
export const BAD_BPDU_EVENTS_PER_SECOND = 5;
const INFO = { Disabled: 0, Aged: 1, Mine: 2, Received: 3 } as const;
type Info = typeof INFO[keyof typeof INFO];
const RCVD = {
  SuperiorDesignated: 0,
  RepeatedDesignated: 1,
  InferiorDesignated: 2,
  InferiorRootAlt: 3,
  Other: 4,
};
// States of the machines that have more than the obvious ones.
const PIM = { Disabled: 0, Aged: 1, Current: 2 } as const;
const PRT = {
  DisablePort: 0,
  DisabledPort: 1,
  RootPort: 2,
  DesignatedPort: 3,
  BlockPort: 4,
  AlternatePort: 5,
} as const;
const PST = { Discarding: 0, Learning: 1, Forwarding: 2 } as const;
const TCM = { Inactive: 0, Learning: 1, Active: 2 } as const;
const PPM = { CheckingRstp: 0, Sensing: 1, SelectingStp: 2 } as const;
const PTX = { Init: 0, Idle: 1 } as const;

class Port {
  // Configuration.
  readonly number: number;
  priority = 128;
  /** BPDU guard and root guard (see the header). */
  bpduGuard = false;
  rootGuard = false;
  /** A client is attached (enablePort); the port takes part only while the guard has not tripped too. */
  attached = false;
  /** The BPDU guard disabled the port; `rootBlocked`: root guard holds it alternate now. */
  guardTripped = false;
  rootBlocked = false;
  /**
   * Seconds left in which root guard's holds are counted, not logged: it held and released the port on
   * the same sender's changing information and said so once; a host flipping its BPDUs keeps it running
   * (max age from its last hold). It stops when held information ages out, the guard is set or the port
   * goes down.
   */
  rootGuardQuietWhile = 0;
  pathCost: number;
  adminEdge = false;
  autoEdge = true;
  adminP2p: PointToPoint = "auto";
  /** operPointToPointMAC, kept up to date from adminP2p and the senders heard (#updateP2p). */
  pointToPoint = true;
  /**
   * The last two bridge ports heard (MAC and port number) and the seconds each stays remembered (max
   * age from its last BPDU): `auto` counts the port shared while both are.
   */
  senders: [string, string] = ["", ""];
  senderWhile: [number, number] = [0, 0];
  /** The last BPDU heard was vde_switch's FSTP dialect; `fstpSaid`: the log has said so. */
  fstp = false;
  fstpSaid = false;
  // 17.19 per-port variables.
  portEnabled = false;
  agree = false;
  agreed = false;
  disputed = false;
  forward = false;
  forwarding = false;
  infoIs: Info = INFO.Disabled;
  learn = false;
  learning = false;
  mcheck = false;
  newInfo = false;
  operEdge = false;
  proposed = false;
  proposing = false;
  rcvdMsg = false;
  rcvdRSTP = false;
  rcvdSTP = false;
  rcvdTc = false;
  rcvdTcAck = false;
  rcvdTcn = false;
  reRoot = false;
  reselect = false;
  role: Role = Role.Disabled;
  selected = false;
  selectedRole: Role = Role.Disabled;
  sendRSTP = true;
  sync = false;
  synced = false;
  tcAck = false;
  tcProp = false;
  txCount = 0;
  updtInfo = false;
  // Timers, seconds (17.17).
  edgeDelayWhile = 0;
  fdWhile = 0;
  helloWhen = 0;
  mdelayWhile = 0;
  rbWhile = 0;
  rcvdInfoWhile = 0;
  rrWhile = 0;
  tcWhile = 0;
  // Vectors and times.
  portPriority: PriorityVector;
  portTimes: StpTimes;
  designatedPriority: PriorityVector;
  designatedTimes: StpTimes;
  msgPriority: PriorityVector;
  msgTimes: StpTimes;
  msg: Bpdu | null = null;
  // Machine states.
  pim: number = PIM.Disabled;
  prt: number = PRT.DisablePort;
  pst: number = PST.Discarding;
  tcm: number = TCM.Inactive;
  ppm: number = PPM.CheckingRstp;
  ptx: number = PTX.Init;
  // Counters.
  bpdusIn = 0;
  bpdusOut = 0;
  badBpdus = 0;
  guardTrips = 0;
  rootBlocks = 0;

  constructor(number: number, pathCost: number, times: StpTimes, vector: PriorityVector) {
    this.number = number;
    this.pathCost = pathCost;
    this.portTimes = { ...times };
    this.designatedTimes = { ...times };
    this.msgTimes = { ...times };
    this.portPriority = { ...vector };
    this.designatedPriority = { ...vector };
    this.msgPriority = { ...vector };
  }

  get portId(): number {
    return ((this.priority >> 4) << 12) | (this.number & 0xfff);
  }
}

/**
 * One bridge's RSTP machine over its ports, driven by BPDUs, ticks and port
 * events.
 */
export class Rstp {
  readonly mac: Uint8Array;
  #priority: number;
  #bridgeTimes: StpTimes;
  readonly forceVersion: 0 | 2;
  readonly txHoldCount: number;
  readonly defaultPathCost: number;
  readonly #hooks: RstpHooks;
  readonly #log: ((line: string) => void) | undefined;
  #ports = new Map<number, Port>();
  #sorted: Port[] = [];
  #rootPriority: PriorityVector;
  #rootPortId = 0;
  #rootTimes: StpTimes;
  #lastTickMs = -1;
  #running = false;
  #lastRootId = "";
  /** Topology changes this bridge detected or was told of. */
  topologyChanges = 0;
  /** BPDUs dropped as malformed, over all ports. */
  badBpdus = 0;
  /** Bad-BPDU events reported this second (see BAD_BPDU_EVENTS_PER_SECOND). */
  #badBpduEvents = 0;
  /** Bad BPDUs past that budget this second, and the port of the last one. */
  #heldBadBpdus = 0;
  #heldBadBpduPort = 0;

  constructor(options: RstpOptions, hooks: RstpHooks) {
    if (options.mac.length < 6) throw new RangeError("Expected a 6-byte bridge MAC");
    this.mac = options.mac.slice(0, 6);
    this.#priority = checkSteps(
      "bridge priority",
      options.priority ?? 32768,
      BRIDGE_PRIORITY,
      BRIDGE_PRIORITY_STEP,
    );
    this.#bridgeTimes = {
      messageAge: 0,
      maxAge: options.maxAge ?? 20,
      helloTime: options.helloTime ?? 2,
      forwardDelay: options.forwardDelay ?? 15,
    };
    checkTimes(this.#bridgeTimes);
    this.forceVersion = options.forceVersion ?? 2;
    this.txHoldCount = options.txHoldCount ?? 6;
    this.defaultPathCost = options.defaultPathCost ?? DEFAULT_PATH_COST;
    this.#hooks = hooks;
    this.#log = options.log;
    this.#rootPriority = this.#bridgeVector();
    this.#rootTimes = { ...this.#bridgeTimes };
    this.#lastRootId = this.bridgeId;
  }

  /** This bridge's identifier, `pppp.mmmmmmmmmmmm`. */
  get bridgeId(): string {
    return bridgeId(this.#priority, this.mac);
  }

  get priority(): number {
    return this.#priority;
  }

  /** The root bridge as this bridge sees it. */
  get rootId(): string {
    return this.#rootPriority.rootId;
  }

  get rootPathCost(): number {
    return this.#rootPriority.rootPathCost;
  }

  /** The root port's vde port number, 0 when this bridge is the root. */
  get rootPort(): number {
    if (this.#rootPortId === 0) return 0;
    for (const p of this.#sorted) if (p.portId === this.#rootPortId) return p.number;
    return 0;
  }

  /** The times in use (the root's), and this bridge's own. */
  get rootTimes(): StpTimes {
    return { ...this.#rootTimes };
  }

  get bridgeTimes(): StpTimes {
    return { ...this.#bridgeTimes };
  }

  /** Whether port `n` may forward (false for a port the machine does not know). */
  isForwarding(n: number): boolean {
    return this.#ports.get(n)?.forwarding ?? false;
  }

  /** Whether port `n` may learn. */
  isLearning(n: number): boolean {
    return this.#ports.get(n)?.learning ?? false;
  }

  /** A port came up (a client attached): it starts discarding and takes part in the tree. */
  enablePort(n: number): void {
    const p = this.#port(n);
    p.attached = true;
    p.portEnabled = !p.guardTripped;
    this.#run();
  }

  /** A port went down: it leaves the tree, and the tree reconverges without it. */
  disablePort(n: number): void {
    const p = this.#ports.get(n);
    if (p === undefined || !p.attached) return;
    p.attached = p.portEnabled = false;
    p.rootGuardQuietWhile = 0;
    // The next client may lead elsewhere.
    p.senderWhile[0] = p.senderWhile[1] = 0;
    this.#updateP2p(p);
    if (p.guardTripped) {
      p.guardTripped = false;
      this.#log?.(`port ${n}: BPDU guard: its client left; the next one to plug in takes part`);
    }
    // Whoever plugs in next may speak another dialect.
    p.fstp = p.fstpSaid = false;
    this.#run();
  }

  /** Sets a bridge parameter; the tree reconverges. */
  setPriority(priority: number): void {
    this.#priority = checkSteps("bridge priority", priority, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP);
    this.#reselectAll();
  }

  /** Sets this bridge's timers (used when it is the root), whole seconds. */
  setTimes(helloTime: number, maxAge: number, forwardDelay: number): void {
    const times = { messageAge: 0, helloTime, maxAge, forwardDelay };
    checkTimes(times);
    this.#bridgeTimes = times;
    this.#reselectAll();
  }

  /** Sets a port's path cost (1..200000000). */
  setPortPathCost(n: number, cost: number): void {
    this.#port(n).pathCost = checkRange("path cost", cost, PATH_COST);
    this.#reselectAll();
  }

  /** Sets a port's priority (0..240 in steps of 16). */
  setPortPriority(n: number, priority: number): void {
    checkSteps("port priority", priority, PORT_PRIORITY, PORT_PRIORITY_STEP);
    this.#port(n).priority = priority;
    this.#reselectAll();
  }

  /** Declares a port an edge port (a host, no bridge behind it) or not. */
  setAdminEdge(n: number, edge: boolean): void {
    const p = this.#port(n);
    p.adminEdge = edge;
    p.operEdge = edge;
    this.#run();
  }

  /**
   * Turns a port's BPDU guard on or off. Either way a port the guard took
   * out of the tree comes back (the operator's way to re-enable it).
   */
  setBpduGuard(n: number, on: boolean): void {
    const p = this.#port(n);
    p.bpduGuard = on;
    if (p.guardTripped) {
      p.guardTripped = false;
      p.portEnabled = p.attached;
      this.#log?.(`port ${n}: re-enabled by the operator, BPDU guard ${on ? "on" : "off"}`);
    }
    this.#run();
  }

  /** Turns a port's root guard on or off; the roles are chosen again. */
  setRootGuard(n: number, on: boolean): void {
    const p = this.#port(n);
    p.rootGuard = on;
    p.rootGuardQuietWhile = 0;
    this.#reselectAll();
  }

  /** Declares a port's LAN point-to-point, shared (no proposal/agreement), or to be told by what it hears. */
  setPointToPoint(n: number, mode: PointToPoint): void {
    const p = this.#port(n);
    p.adminP2p = mode;
    this.#updateP2p(p);
    this.#run();
  }

  // operPointToPointMAC from the setting and, in auto, the bridge ports heard within max age.
  #updateP2p(p: Port): void {
    p.pointToPoint = p.adminP2p === "auto"
      ? p.senderWhile[0] === 0 || p.senderWhile[1] === 0
      : p.adminP2p === "yes";
  }

  // Remembers the bridge port a BPDU came from, for auto's rule.
  #heardFrom(p: Port, bpdu: Bpdu): void {
    const mac = bpdu.bridgeId.slice(5);
    // Our own, from this very port, come back through a loop: no other port.
    if (mac === this.bridgeId.slice(5) && (bpdu.portId & 0xfff) === p.number) return;
    const key = `${mac}/${bpdu.portId & 0xfff}`;
    const { senders, senderWhile } = p;
    const slot = senders[0] === key ? 0 : senders[1] === key ? 1 : senderWhile[0] <= senderWhile[1] ? 0 : 1;
    senders[slot] = key;
    senderWhile[slot] = this.#rootTimes.maxAge;
    this.#updateP2p(p);
  }

  /** Makes a port try RSTP again (the standard's mcheck). */
  mcheck(n: number): void {
    const p = this.#ports.get(n);
    if (p === undefined || this.forceVersion < 2) return;
    p.mcheck = true;
    this.#run();
  }

  /**
   * Takes one frame sent to the bridge group address on port `n`. A bad
   * BPDU is counted and dropped, and reported as an event only within the
   * second's budget (BAD_BPDU_EVENTS_PER_SECOND); nothing throws.
   */
  receive(n: number, frame: Uint8Array): void {
    const p = this.#ports.get(n);
    if (p === undefined || !p.portEnabled) return;
    const result = parseBpdu(frame);
    if (!result.ok) {
      p.badBpdus++;
      this.badBpdus++;
      if (this.#badBpduEvents < BAD_BPDU_EVENTS_PER_SECOND) {
        this.#badBpduEvents++;
        const reason = result.reason;
        this.#emit({ type: "stp-bad-bpdu", port: n, reason, message: `Port ${n}: bad BPDU: ${reason}` });
      } else {
        this.#heldBadBpdus++;
        this.#heldBadBpduPort = n;
      }
      return;
    }
    let bpdu = result.value;
    if (p.bpduGuard) {
      this.#tripGuard(p, bpdu);
      return;
    }
    p.bpdusIn++;
    // FSTP's tree of a tagged VLAN: ours is one tree, told by the untagged BPDUs, and answers every VLAN.
    if (bpdu.vlan !== undefined) return;
    if (bpdu.kind === "config" && bpdu.bridgeId === this.bridgeId && bpdu.portId === p.portId) return;
    if (bpdu.kind !== "tcn") this.#heardFrom(p, bpdu);
    p.fstp = bpdu.fstp === true;
    if (p.fstp && !p.fstpSaid) {
      p.fstpSaid = true;
      this.#log?.(
        `port ${n} hears vde_switch's FSTP (bridge ${bpdu.bridgeId}): answering in its dialect on that port`,
      );
    }
    // Port receive machine, RECEIVE (17.23).
    if (bpdu.kind === "rst") p.rcvdRSTP = true;
    else p.rcvdSTP = true;
    p.operEdge = false;
    p.edgeDelayWhile = this.#edgeDelay(p);
    if (bpdu.kind === "tcn") {
      p.rcvdTcn = true;
    } else {
      p.msgPriority = {
        rootId: bpdu.rootId,
        rootPathCost: bpdu.rootPathCost,
        designatedBridgeId: bpdu.bridgeId,
        designatedPortId: bpdu.portId,
        bridgePortId: p.portId,
      };
      p.msgTimes = {
        messageAge: Math.floor(bpdu.messageAge / 256),
        maxAge: Math.round(bpdu.maxAge / 256),
        helloTime: Math.max(1, Math.round(bpdu.helloTime / 256)),
        forwardDelay: Math.max(1, Math.round(bpdu.forwardDelay / 256)),
      };
      if (p.fstp) {
        p.msgTimes.forwardDelay = this.#bridgeTimes.forwardDelay;
        bpdu = fromFstp(bpdu, compareVectors(p.msgPriority, p.portPriority, 4) <= 0);
      }
      p.msg = bpdu;
      p.rcvdMsg = true;
    }
    this.#run();
  }

  // The kernel's guard sets the port disabled; so does this, the link staying up.
  #tripGuard(p: Port, bpdu: Bpdu): void {
    p.bpdusIn++;
    p.guardTrips++;
    p.guardTripped = true;
    p.portEnabled = false;
    p.fstp = p.fstpSaid = false;
    const from = bpdu.kind === "tcn" ? "a TCN BPDU" : `a BPDU from bridge ${bpdu.bridgeId}`;
    this.#log?.(
      `port ${p.number}: BPDU guard: heard ${from}: port disabled until its client leaves or stp/setguard ${p.number} 1`,
    );
    this.#run();
  }

  /**
   * Advances the machine's clock to `nowMs`; every whole second passed
   * counts the port timers down once. The first call only sets the clock.
   */
  tick(nowMs: number): void {
    if (!Number.isFinite(nowMs)) return;
    if (this.#lastTickMs < 0) {
      this.#lastTickMs = nowMs;
      return;
    }
    // A long stall counts as a few seconds, not thousands of loop turns.
    let seconds = Math.min(Math.floor((nowMs - this.#lastTickMs) / 1000), 60);
    if (seconds <= 0) return;
    this.#lastTickMs = nowMs - ((nowMs - this.#lastTickMs) % 1000);
    this.#reportHeldBadBpdus();
    for (; seconds > 0; seconds--) {
      for (const p of this.#sorted) {
        // Port timers machine (17.22): one second passes.
        p.helloWhen = dec(p.helloWhen);
        p.tcWhile = dec(p.tcWhile);
        p.fdWhile = dec(p.fdWhile);
        p.rcvdInfoWhile = dec(p.rcvdInfoWhile);
        p.rrWhile = dec(p.rrWhile);
        p.rbWhile = dec(p.rbWhile);
        p.mdelayWhile = dec(p.mdelayWhile);
        p.edgeDelayWhile = dec(p.edgeDelayWhile);
        p.txCount = dec(p.txCount);
        p.rootGuardQuietWhile = dec(p.rootGuardQuietWhile);
        if (p.senderWhile[0] !== 0 || p.senderWhile[1] !== 0) {
          p.senderWhile[0] = dec(p.senderWhile[0]);
          p.senderWhile[1] = dec(p.senderWhile[1]);
          this.#updateP2p(p);
        }
      }
      this.#run();
    }
  }

  /** Every port the machine knows, in port order. */
  ports(): StpPortView[] {
    return this.#sorted.map((p) => this.#view(p));
  }

  /** One port's view, if the machine knows it. */
  port(n: number): StpPortView | undefined {
    const p = this.#ports.get(n);
    return p === undefined ? undefined : this.#view(p);
  }

  #view(p: Port): StpPortView {
    return {
      port: p.number,
      portId: p.portId,
      role: p.role,
      learning: p.learning,
      forwarding: p.forwarding,
      enabled: p.portEnabled,
      pathCost: p.pathCost,
      priority: p.priority,
      designatedRoot: p.portPriority.rootId,
      designatedCost: p.portPriority.rootPathCost,
      designatedBridge: p.portPriority.designatedBridgeId,
      designatedPort: p.portPriority.designatedPortId,
      edge: p.operEdge,
      adminEdge: p.adminEdge,
      pointToPoint: p.pointToPoint,
      adminPointToPoint: p.adminP2p,
      bpduGuard: p.bpduGuard,
      guardTripped: p.guardTripped,
      guardTrips: p.guardTrips,
      rootGuard: p.rootGuard,
      rootBlocked: p.rootBlocked,
      rootBlocks: p.rootBlocks,
      rstp: p.sendRSTP,
      fstp: p.fstp,
      bpdusIn: p.bpdusIn,
      bpdusOut: p.bpdusOut,
      badBpdus: p.badBpdus,
    };
  }

  /** Whether a topology change is in progress (some port's tcWhile runs). */
  get topologyChange(): boolean {
    return this.#sorted.some((p) => p.tcWhile > 0);
  }

  /** Stops the machine: every known port goes back to forwarding nothing, learning nothing. */
  close(): void {
    for (const p of this.#sorted) {
      if (p.learning || p.forwarding) this.#hooks.setPortState(p.number, false, false);
    }
    this.#ports.clear();
    this.#sorted = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Ports.

  #port(n: number): Port {
    let p = this.#ports.get(n);
    if (p !== undefined) return p;
    if (!within(n, STP_PORTS)) {
      throw new RangeError(
        `Expected a spanning tree port from ${STP_PORTS[0]} to ${STP_PORTS[1]}, found ${n}`,
      );
    }
    p = new Port(n, this.defaultPathCost, this.#bridgeTimes, this.#bridgeVector());
    this.#ports.set(n, p);
    this.#sorted = [...this.#ports.values()].sort((a, b) => a.number - b.number);
    this.#beginPort(p);
    return p;
  }

  // The BEGIN transitions of every per-port machine.
  #beginPort(p: Port): void {
    // Receive (DISCARD) and migration (CHECKING_RSTP).
    p.rcvdMsg = p.rcvdRSTP = p.rcvdSTP = false;
    p.edgeDelayWhile = MIGRATE_TIME;
    p.mcheck = false;
    p.sendRSTP = this.forceVersion >= 2;
    p.mdelayWhile = MIGRATE_TIME;
    p.ppm = PPM.CheckingRstp;
    // Bridge detection.
    p.operEdge = p.adminEdge;
    // Transmit (TRANSMIT_INIT).
    p.newInfo = true;
    p.txCount = 0;
    p.ptx = PTX.Init;
    // Information (DISABLED).
    this.#pimDisabled(p);
    // Role transitions (INIT_PORT then DISABLE_PORT).
    p.role = Role.Disabled;
    p.learn = p.forward = false;
    p.synced = false;
    p.sync = p.reRoot = true;
    p.rrWhile = p.designatedTimes.forwardDelay;
    p.fdWhile = p.designatedTimes.maxAge;
    p.rbWhile = 0;
    p.prt = PRT.DisablePort;
    // State transitions (DISCARDING) and topology change (INACTIVE).
    p.learning = p.forwarding = false;
    p.pst = PST.Discarding;
    p.tcm = TCM.Inactive;
    p.tcWhile = 0;
    p.tcAck = false;
  }

  #reselectAll(): void {
    // Role selection runs when a port asks for it: with no port, this bridge (the root) would keep the id
    // and timers it had, so `stp` would name the old id as root after stp/setprio.
    if (this.#sorted.length === 0) this.#updtRolesTree();
    for (const p of this.#sorted) {
      p.reselect = true;
      p.selected = false;
    }
    this.#run();
  }

  #bridgeVector(): PriorityVector {
    const id = this.bridgeId;
    return { rootId: id, rootPathCost: 0, designatedBridgeId: id, designatedPortId: 0, bridgePortId: 0 };
  }

  // ---------------------------------------------------------------------------------------------
  // The loop: every machine until none moves.

  #run(): void {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let round = 0; round < 1000; round++) {
        let moved = this.#prs();
        for (const p of this.#sorted) {
          // Bitwise or: every machine gets its turn each round.
          moved = (this.#ppm(p) | this.#bdm(p) | this.#pim(p) | this.#prt(p) | this.#pst(p) | this.#tcm(p) |
                this.#ptx(p)) !== 0 || moved;
        }
        if (!moved) break;
      }
    } finally {
      this.#running = false;
    }
    const root = this.#rootPriority.rootId;
    if (root !== this.#lastRootId) {
      this.#lastRootId = root;
      const port = this.rootPort;
      this.#emit({
        type: "stp-root",
        port,
        rootId: root,
        message: `Port ${pad4(port)} VLAN 00:00 -> ${root.replace(".", "").replace(/(..)(?!$)/g, "$1:")}`,
      });
    }
  }

  // Port protocol migration (17.24).
  #ppm(p: Port): number {
    switch (p.ppm) {
      case PPM.CheckingRstp:
        if (p.mdelayWhile !== MIGRATE_TIME && !p.portEnabled) return this.#ppmChecking(p);
        if (p.mdelayWhile === 0) return this.#ppmSensing(p);
        return 0;
      case PPM.Sensing:
        if (!p.portEnabled || p.mcheck || (this.forceVersion >= 2 && !p.sendRSTP && p.rcvdRSTP)) {
          return this.#ppmChecking(p);
        }
        if (p.sendRSTP && p.rcvdSTP) {
          p.sendRSTP = false;
          p.mdelayWhile = MIGRATE_TIME;
          p.ppm = PPM.SelectingStp;
          return 1;
        }
        return 0;
      default:
        if (p.mdelayWhile === 0 || !p.portEnabled || p.mcheck) return this.#ppmSensing(p);
        return 0;
    }
  }

  #ppmChecking(p: Port): number {
    p.mcheck = false;
    p.sendRSTP = this.forceVersion >= 2;
    p.mdelayWhile = MIGRATE_TIME;
    p.ppm = PPM.CheckingRstp;
    return 1;
  }

  #ppmSensing(p: Port): number {
    p.rcvdRSTP = p.rcvdSTP = false;
    p.ppm = PPM.Sensing;
    return 1;
  }

  // Bridge detection (17.25): operEdge is the state.
  #bdm(p: Port): number {
    if (p.operEdge) {
      if (((!p.portEnabled || !p.autoEdge) && !p.adminEdge)) {
        p.operEdge = false;
        return 1;
      }
      return 0;
    }
    if (
      (!p.portEnabled && p.adminEdge) ||
      (p.edgeDelayWhile === 0 && p.autoEdge && p.sendRSTP && p.proposing)
    ) {
      p.operEdge = true;
      return 1;
    }
    return 0;
  }

  // Port information (17.27).
  #pim(p: Port): number {
    if (!p.portEnabled && p.infoIs !== INFO.Disabled) {
      this.#pimDisabled(p);
      return 1;
    }
    switch (p.pim) {
      case PIM.Disabled:
        if (p.rcvdMsg) {
          this.#pimDisabled(p);
          return 1;
        }
        if (p.portEnabled) {
          this.#pimAged(p);
          return 1;
        }
        return 0;
      case PIM.Aged:
        if (p.selected && p.updtInfo) {
          this.#pimUpdate(p);
          return 1;
        }
        return 0;
      default:
        if (p.selected && p.updtInfo) {
          this.#pimUpdate(p);
          return 1;
        }
        if (p.infoIs === INFO.Received && p.rcvdInfoWhile === 0 && !p.updtInfo && !p.rcvdMsg) {
          this.#pimAged(p);
          return 1;
        }
        if (p.rcvdMsg && !p.updtInfo) {
          this.#pimReceive(p);
          return 1;
        }
        return 0;
    }
  }

  #pimDisabled(p: Port): void {
    p.rcvdMsg = false;
    p.proposing =
      p.proposed =
      p.agree =
      p.agreed =
        false;
    p.rcvdInfoWhile = 0;
    p.infoIs = INFO.Disabled;
    p.reselect = true;
    p.selected = false;
    p.pim = PIM.Disabled;
  }

  #pimAged(p: Port): void {
    p.infoIs = INFO.Aged;
    p.rootGuardQuietWhile = 0;
    p.reselect = true;
    p.selected = false;
    p.pim = PIM.Aged;
  }

  #pimUpdate(p: Port): void {
    p.proposing = p.proposed = false;
    p.agreed = p.agreed && this.#betterOrSameInfo(p, INFO.Mine);
    p.synced = p.synced && p.agreed;
    p.portPriority = { ...p.designatedPriority };
    p.portTimes = { ...p.designatedTimes };
    p.updtInfo = false;
    p.infoIs = INFO.Mine;
    p.newInfo = true;
    p.pim = PIM.Current;
  }

  #pimReceive(p: Port): void {
    const msg = p.msg!;
    const rcvd = this.#rcvInfo(p, msg);
    const role = msgRole(msg);
    switch (rcvd) {
      case RCVD.SuperiorDesignated:
        p.agreed = p.proposing = false;
        if (role === BpduRole.Designated && (msg.flags & BpduFlag.Proposal) !== 0) p.proposed = true;
        this.#setTcFlags(p, msg);
        p.agree = p.agree && this.#betterOrSameInfo(p, INFO.Received);
        p.portPriority = { ...p.msgPriority };
        p.portTimes = { ...p.msgTimes };
        this.#updtRcvdInfoWhile(p);
        p.infoIs = INFO.Received;
        p.reselect = true;
        p.selected = false;
        break;
      case RCVD.RepeatedDesignated:
        if (role === BpduRole.Designated && (msg.flags & BpduFlag.Proposal) !== 0) p.proposed = true;
        this.#setTcFlags(p, msg);
        this.#updtRcvdInfoWhile(p);
        break;
      case RCVD.InferiorDesignated:
        // recordDispute: a designated port that is learning below us disagrees with our role.
        if (msg.kind === "rst" && (msg.flags & BpduFlag.Learning) !== 0) {
          p.disputed = true;
          p.agreed = false;
        }
        break;
      case RCVD.InferiorRootAlt:
        // recordAgreement.
        if (this.forceVersion >= 2 && p.pointToPoint && (msg.flags & BpduFlag.Agreement) !== 0) {
          p.agreed = true;
          p.proposing = false;
        } else {
          p.agreed = false;
        }
        this.#setTcFlags(p, msg);
        break;
    }
    p.rcvdMsg = false;
    p.pim = PIM.Current;
  }

  // rcvInfo (17.21.8).
  #rcvInfo(p: Port, msg: Bpdu): number {
    const role = msgRole(msg);
    if (role === BpduRole.Designated) {
      const c = compareMessage(p.msgPriority, p.portPriority);
      if (c < 0 || (c === 0 && !sameTimes(p.msgTimes, p.portTimes))) return RCVD.SuperiorDesignated;
      if (c === 0) return RCVD.RepeatedDesignated;
      return RCVD.InferiorDesignated;
    }
    if (
      (role === BpduRole.Root || role === BpduRole.AlternateBackup) &&
      compareVectors(p.msgPriority, p.portPriority, 4) >= 0
    ) {
      return RCVD.InferiorRootAlt;
    }
    return RCVD.Other;
  }

  #setTcFlags(p: Port, msg: Bpdu): void {
    if ((msg.flags & BpduFlag.TopologyChange) !== 0) p.rcvdTc = true;
    if ((msg.flags & BpduFlag.TopologyChangeAck) !== 0) p.rcvdTcAck = true;
  }

  #updtRcvdInfoWhile(p: Port): void {
    const t = p.portTimes;
    p.rcvdInfoWhile = t.messageAge + 1 <= t.maxAge ? 3 * t.helloTime : 0;
  }

  #betterOrSameInfo(p: Port, newInfoIs: Info): boolean {
    if (newInfoIs === INFO.Received && p.infoIs === INFO.Received) {
      return compareVectors(p.msgPriority, p.portPriority, 4) <= 0;
    }
    if (newInfoIs === INFO.Mine && p.infoIs === INFO.Mine) {
      return compareVectors(p.designatedPriority, p.portPriority, 4) <= 0;
    }
    return false;
  }

  // Port role selection (17.28): ROLE_SELECTION whenever a port asks to reselect.
  #prs(): boolean {
    if (!this.#sorted.some((p) => p.reselect)) return false;
    for (const p of this.#sorted) p.reselect = false;
    this.#updtRolesTree();
    for (const p of this.#sorted) p.selected = true;
    return true;
  }

  // updtRolesTree (17.21.25).
  #updtRolesTree(): void {
    const own = this.bridgeId;
    const ownMac = own.slice(5);
    let best = this.#bridgeVector();
    let bestPort: Port | null = null;
    for (const p of this.#sorted) {
      const candidate = this.#rootCandidate(p, ownMac);
      if (candidate !== null && !p.rootGuard && compareVectors(candidate, best, 5) < 0) {
        best = candidate;
        bestPort = p;
      }
    }
    // Root guard: a port whose information beats the root chosen without it is held alternate (below).
    for (const p of this.#sorted) {
      if (!p.rootGuard && !p.rootBlocked) continue;
      const candidate = p.rootGuard ? this.#rootCandidate(p, ownMac) : null;
      this.#setRootBlocked(p, candidate !== null && compareVectors(candidate, best, 5) < 0);
    }
    this.#rootPriority = best;
    this.#rootPortId = bestPort === null ? 0 : bestPort.portId;
    this.#rootTimes = bestPort === null
      ? { ...this.#bridgeTimes }
      : { ...bestPort.portTimes, messageAge: bestPort.portTimes.messageAge + 1 };
    for (const p of this.#sorted) {
      p.designatedPriority = {
        rootId: best.rootId,
        rootPathCost: best.rootPathCost,
        designatedBridgeId: own,
        designatedPortId: p.portId,
        bridgePortId: p.portId,
      };
      p.designatedTimes = { ...this.#rootTimes, helloTime: this.#bridgeTimes.helloTime };
      switch (p.infoIs) {
        case INFO.Disabled:
          p.selectedRole = Role.Disabled;
          break;
        case INFO.Aged:
          p.updtInfo = true;
          p.selectedRole = Role.Designated;
          break;
        case INFO.Mine:
          p.selectedRole = Role.Designated;
          if (
            compareVectors(p.portPriority, p.designatedPriority, 5) !== 0 ||
            !sameTimes(p.portTimes, p.designatedTimes)
          ) {
            p.updtInfo = true;
          }
          break;
        default:
          if (p === bestPort) {
            p.selectedRole = Role.Root;
            p.updtInfo = false;
          } else if (compareVectors(p.designatedPriority, p.portPriority, 4) >= 0) {
            p.selectedRole = p.portPriority.designatedBridgeId.slice(5) === ownMac
              ? Role.Backup
              : Role.Alternate;
            p.updtInfo = false;
          } else {
            p.selectedRole = Role.Designated;
            p.updtInfo = true;
          }
      }
    }
  }

  // The root path priority vector port `p` offers (17.6), or null when it holds no received info of another bridge.
  #rootCandidate(p: Port, ownMac: string): PriorityVector | null {
    if (p.infoIs !== INFO.Received || p.portPriority.designatedBridgeId.slice(5) === ownMac) return null;
    return {
      ...p.portPriority,
      rootPathCost: p.portPriority.rootPathCost + p.pathCost,
      bridgePortId: p.portId,
    };
  }

  #setRootBlocked(p: Port, blocked: boolean): void {
    if (blocked === p.rootBlocked) return;
    p.rootBlocked = blocked;
    if (blocked) {
      p.rootBlocks++;
      if (p.rootGuardQuietWhile > 0) {
        p.rootGuardQuietWhile = this.#bridgeTimes.maxAge;
        return;
      }
      this.#log?.(
        `port ${p.number}: root guard: bridge ${p.portPriority.designatedBridgeId} offers root ${p.portPriority.rootId}, ` +
          "better than ours: port kept discarding (alternate) until that stops",
      );
    } else {
      const changed = p.rootGuard && p.portEnabled && p.infoIs === INFO.Received;
      if (p.rootGuardQuietWhile > 0) return;
      if (changed) p.rootGuardQuietWhile = this.#bridgeTimes.maxAge;
      const why = !p.rootGuard
        ? "root guard off"
        : !p.portEnabled
        ? "port down"
        : changed
        ? "that bridge offers worse now; if it flips again, holds are counted (stp), not logged, for max age"
        : "the superior information aged out";
      this.#log?.(`port ${p.number}: root guard: port released (${why})`);
    }
  }

  // Port role transitions (17.29).
  #prt(p: Port): number {
    if (!p.selected || p.updtInfo) return 0;
    if (p.role !== p.selectedRole) {
      switch (p.selectedRole) {
        case Role.Disabled:
          p.role = Role.Disabled;
          p.learn = p.forward = false;
          p.prt = PRT.DisablePort;
          break;
        case Role.Root:
          this.#rootPort(p);
          break;
        case Role.Designated:
          p.role = Role.Designated;
          p.prt = PRT.DesignatedPort;
          break;
        default:
          p.role = p.selectedRole;
          p.learn = p.forward = false;
          p.prt = PRT.BlockPort;
      }
      // FSTP opens its end of the link when told that ours became a root port; it is told at once.
      if (p.fstp) p.newInfo = true;
      this.#reportPort(p);
      return 1;
    }
    switch (p.prt) {
      case PRT.DisablePort:
        if (!p.learning && !p.forwarding) {
          this.#disabledPort(p);
          return 1;
        }
        return 0;
      case PRT.DisabledPort:
        if (p.fdWhile !== p.designatedTimes.maxAge || p.sync || p.reRoot || !p.synced) {
          this.#disabledPort(p);
          return 1;
        }
        return 0;
      case PRT.RootPort:
        return this.#rootTransitions(p);
      case PRT.DesignatedPort:
        return this.#designatedTransitions(p);
      case PRT.BlockPort:
        if (!p.learning && !p.forwarding) {
          this.#alternatePort(p);
          return 1;
        }
        return 0;
      default:
        return this.#alternateTransitions(p);
    }
  }

  #disabledPort(p: Port): void {
    p.fdWhile = p.designatedTimes.maxAge;
    p.synced = true;
    p.rrWhile = 0;
    p.sync = p.reRoot = false;
    p.prt = PRT.DisabledPort;
  }

  #rootPort(p: Port): void {
    p.role = Role.Root;
    p.rrWhile = p.designatedTimes.forwardDelay;
    p.prt = PRT.RootPort;
  }

  #rootTransitions(p: Port): number {
    const fwdDelay = p.designatedTimes.forwardDelay;
    if (p.proposed && !p.agree) {
      this.#setSyncTree();
      p.proposed = false;
    } else if ((this.#allSynced() && !p.agree) || (p.proposed && p.agree)) {
      p.proposed = p.sync = false;
      p.agree = true;
      p.newInfo = true;
    } else if (!p.forward && !p.reRoot) {
      for (const q of this.#sorted) q.reRoot = true;
    } else if (p.rrWhile !== fwdDelay) {
      // Re-entering ROOT_PORT restarts rrWhile below.
    } else if (p.reRoot && p.forward) {
      p.reRoot = false;
    } else if (
      (p.fdWhile === 0 || (this.#reRooted(p) && p.rbWhile === 0 && this.forceVersion >= 2)) && !p.learn
    ) {
      p.fdWhile = this.#forwardDelay(p);
      p.learn = true;
    } else if (
      (p.fdWhile === 0 || (this.#reRooted(p) && p.rbWhile === 0 && this.forceVersion >= 2)) && p.learn &&
      !p.forward
    ) {
      p.fdWhile = 0;
      p.forward = true;
    } else {
      return 0;
    }
    this.#rootPort(p);
    return 1;
  }

  #designatedTransitions(p: Port): number {
    if (!p.forward && !p.agreed && !p.proposing && !p.operEdge) {
      p.proposing = true;
      p.edgeDelayWhile = this.#edgeDelay(p);
      p.newInfo = true;
    } else if (
      (!p.learning && !p.forwarding && !p.synced) || (p.agreed && !p.synced) || (p.operEdge && !p.synced) ||
      (p.sync && p.synced)
    ) {
      p.rrWhile = 0;
      p.synced = true;
      p.sync = false;
    } else if (p.rrWhile === 0 && p.reRoot) {
      p.reRoot = false;
    } else if (
      ((p.sync && !p.synced) || (p.reRoot && p.rrWhile !== 0) || p.disputed) && !p.operEdge &&
      (p.learn || p.forward)
    ) {
      p.learn = p.forward = p.disputed = false;
      p.fdWhile = this.#forwardDelay(p);
    } else if (
      (p.fdWhile === 0 || p.agreed || p.operEdge) && (p.rrWhile === 0 || !p.reRoot) && !p.sync && !p.learn
    ) {
      p.learn = true;
      p.fdWhile = this.#forwardDelay(p);
    } else if (
      (p.fdWhile === 0 || p.agreed || p.operEdge) && (p.rrWhile === 0 || !p.reRoot) && !p.sync && p.learn &&
      !p.forward
    ) {
      p.forward = true;
      p.fdWhile = 0;
      p.agreed = p.sendRSTP;
    } else {
      return 0;
    }
    return 1;
  }

  #alternatePort(p: Port): void {
    p.fdWhile = this.#forwardDelay(p);
    p.synced = true;
    p.rrWhile = 0;
    p.sync = p.reRoot = false;
    p.prt = PRT.AlternatePort;
  }

  #alternateTransitions(p: Port): number {
    if (p.proposed && !p.agree) {
      this.#setSyncTree();
      p.proposed = false;
    } else if ((this.#allSynced() && !p.agree) || (p.proposed && p.agree)) {
      p.proposed = false;
      p.agree = true;
      p.newInfo = true;
    } else if (p.fdWhile !== this.#forwardDelay(p) || p.sync || p.reRoot || !p.synced) {
      // Re-enter ALTERNATE_PORT below.
    } else if (p.rbWhile !== 2 * p.designatedTimes.helloTime && p.role === Role.Backup) {
      p.rbWhile = 2 * p.designatedTimes.helloTime;
    } else {
      return 0;
    }
    this.#alternatePort(p);
    return 1;
  }

  #setSyncTree(): void {
    for (const q of this.#sorted) q.sync = true;
  }

  #allSynced(): boolean {
    for (const q of this.#sorted) {
      if (!q.selected || q.role !== q.selectedRole || q.updtInfo) return false;
      if (!q.synced && q.role !== Role.Root) return false;
    }
    return true;
  }

  #reRooted(p: Port): boolean {
    for (const q of this.#sorted) if (q !== p && q.rrWhile !== 0) return false;
    return true;
  }

  /**
   * How long a designated port that proposes must hear nothing before it takes itself for an edge port
   * (802.1Q's EdgeDelay; 802.1D-2004 had MigrateTime after every BPDU, which on a shared LAN, where the
   * bridges across send nothing between changes and a loaded one misses hellos, made the port an edge port
   * 3 s after the last answer, forwarding before its timers allowed).
   */
  #edgeDelay(p: Port): number {
    return p.pointToPoint ? MIGRATE_TIME : p.designatedTimes.maxAge;
  }

  #forwardDelay(p: Port): number {
    return p.sendRSTP ? p.designatedTimes.helloTime : p.designatedTimes.forwardDelay;
  }

  // Port state transitions (17.30).
  #pst(p: Port): number {
    switch (p.pst) {
      case PST.Discarding:
        if (!p.learn) return 0;
        p.learning = true;
        p.pst = PST.Learning;
        break;
      case PST.Learning:
        if (p.forward) {
          p.forwarding = true;
          p.pst = PST.Forwarding;
        } else if (!p.learn) {
          p.learning = false;
          p.pst = PST.Discarding;
        } else {
          return 0;
        }
        break;
      default:
        if (p.forward) return 0;
        p.learning = p.forwarding = false;
        p.pst = PST.Discarding;
    }
    this.#hooks.setPortState(p.number, p.learning, p.forwarding);
    this.#reportPort(p);
    return 1;
  }

  // Topology change (17.31).
  #tcm(p: Port): number {
    const rootOrDesignated = p.role === Role.Root || p.role === Role.Designated;
    switch (p.tcm) {
      case TCM.Inactive:
        if (p.learn) {
          this.#tcmLearning(p);
          return 1;
        }
        return 0;
      case TCM.Learning:
        // A port whose link just went down (or whose BPDU guard tripped) is no new path: the bridge
        // detection machine has made it non-edge before its role and state follow, which the standard's
        // wording would take for a topology change, flushing every bridge for a client that left.
        if (rootOrDesignated && p.forward && !p.operEdge && p.portEnabled) {
          // DETECTED, then ACTIVE.
          this.#newTcWhile(p);
          this.#setTcPropTree(p);
          p.newInfo = true;
          this.topologyChanges++;
          p.tcm = TCM.Active;
          return 1;
        }
        if (
          !rootOrDesignated && !(p.learn || p.learning) && !(p.rcvdTc || p.rcvdTcn || p.rcvdTcAck || p.tcProp)
        ) {
          this.#tcmInactive(p);
          return 1;
        }
        if (p.rcvdTc || p.rcvdTcn || p.rcvdTcAck || p.tcProp) {
          this.#tcmLearning(p);
          return 1;
        }
        return 0;
      default:
        if (!rootOrDesignated || p.operEdge) {
          this.#tcmLearning(p);
          return 1;
        }
        if (p.rcvdTcn) {
          // NOTIFIED_TCN, then NOTIFIED_TC.
          this.#newTcWhile(p);
          this.#notifiedTc(p);
          return 1;
        }
        if (p.rcvdTc) {
          this.#notifiedTc(p);
          return 1;
        }
        if (p.tcProp && !p.operEdge) {
          // PROPAGATING: the flush is immediate.
          this.#newTcWhile(p);
          this.#hooks.flush(p.number);
          p.tcProp = false;
          return 1;
        }
        if (p.rcvdTcAck) {
          p.tcWhile = 0;
          p.rcvdTcAck = false;
          return 1;
        }
        return 0;
    }
  }

  #tcmInactive(p: Port): void {
    this.#hooks.flush(p.number);
    p.tcWhile = 0;
    p.tcAck = false;
    p.tcm = TCM.Inactive;
  }

  #tcmLearning(p: Port): void {
    p.rcvdTc = p.rcvdTcn = p.rcvdTcAck = false;
    p.tcProp = false;
    p.tcm = TCM.Learning;
  }

  #notifiedTc(p: Port): void {
    p.rcvdTcn = p.rcvdTc = false;
    if (p.role === Role.Designated) p.tcAck = true;
    this.#setTcPropTree(p);
    this.topologyChanges++;
  }

  #newTcWhile(p: Port): void {
    if (p.tcWhile !== 0) return;
    if (p.sendRSTP) {
      p.tcWhile = p.designatedTimes.helloTime + 1;
      p.newInfo = true;
    } else {
      p.tcWhile = this.#rootTimes.maxAge + this.#rootTimes.forwardDelay;
    }
  }

  #setTcPropTree(caller: Port): void {
    for (const q of this.#sorted) if (q !== caller) q.tcProp = true;
  }

  // Port transmit (17.26).
  #ptx(p: Port): number {
    if (!p.portEnabled) {
      if (p.ptx === PTX.Init && p.newInfo && p.txCount === 0) return 0;
      p.newInfo = true;
      p.txCount = 0;
      p.ptx = PTX.Init;
      return 1;
    }
    if (p.ptx === PTX.Init) {
      p.helloWhen = p.designatedTimes.helloTime;
      p.ptx = PTX.Idle;
      return 1;
    }
    if (!p.selected || p.updtInfo) return 0;
    if (p.helloWhen === 0) {
      p.newInfo = p.newInfo || p.role === Role.Designated || (p.role === Role.Root && p.tcWhile !== 0) ||
        (p.fstp && p.role !== Role.Disabled);
    } else if (!p.newInfo || p.txCount >= this.txHoldCount) {
      return 0;
    } else if (p.sendRSTP) {
      this.#transmit(p, "rst");
    } else if (p.role === Role.Root) {
      this.#transmit(p, "tcn");
    } else if (p.role === Role.Designated) {
      this.#transmit(p, "config");
    } else {
      return 0;
    }
    p.helloWhen = p.designatedTimes.helloTime;
    return 1;
  }

  #transmit(p: Port, kind: "rst" | "tcn" | "config"): void {
    const v = p.designatedPriority;
    const t = p.designatedTimes;
    let flags = p.tcWhile !== 0 ? BpduFlag.TopologyChange : 0;
    if (kind === "config") {
      if (p.tcAck) flags |= BpduFlag.TopologyChangeAck;
    } else if (kind === "rst") {
      flags |= (p.fstp ? FSTP_ROLE_CODES : ROLE_CODES)[p.role]! << 2;
      if (p.proposing) flags |= BpduFlag.Proposal;
      if (p.learning) flags |= BpduFlag.Learning;
      if (p.forwarding) flags |= BpduFlag.Forwarding;
      if (p.agree) flags |= BpduFlag.Agreement;
    }
    const bpdu: Bpdu = {
      kind,
      version: kind === "rst" ? 2 : 0,
      flags,
      rootId: v.rootId,
      rootPathCost: v.rootPathCost,
      bridgeId: v.designatedBridgeId,
      portId: v.designatedPortId,
      messageAge: wireTime(t.messageAge),
      maxAge: wireTime(t.maxAge),
      helloTime: wireTime(t.helloTime),
      forwardDelay: wireTime(t.forwardDelay),
    };
    p.newInfo = false;
    p.txCount++;
    if (kind !== "tcn") p.tcAck = false;
    const sent: FramesSent | void = this.#hooks.send(p.number, buildBpdu(bpdu, this.mac), p.fstp);
    p.bpdusOut += (sent as Partial<FramesSent> | undefined)?.framesSent ?? 1;
  }

  #reportPort(p: Port): void {
    const onEvent = this.#hooks.onEvent;
    if (onEvent === undefined) return;
    const state = p.forwarding ? "forwarding" : p.learning ? "learning" : "discarding";
    onEvent({
      type: "stp-port",
      port: p.number,
      role: p.role,
      learning: p.learning,
      forwarding: p.forwarding,
      message: `Port ${pad4(p.number)} VLAN 00:00 ${ROLE_NAMES[p.role]} ${state}`,
    });
  }

  /** A new second: one event for the bad BPDUs held back in the last, and a fresh budget. */
  #reportHeldBadBpdus(): void {
    const held = this.#heldBadBpdus;
    this.#badBpduEvents = 0;
    this.#heldBadBpdus = 0;
    if (held === 0) return;
    const port = this.#heldBadBpduPort;
    this.#emit({
      type: "stp-bad-bpdu",
      port,
      reason: `${held} more not shown`,
      message: `${held} more bad BPDU(s) in the last second, the last on port ${port} ` +
        `(not shown one by one; stp/print counts them)`,
    });
  }

  #emit(event: StpEvent): void {
    this.#hooks.onEvent?.(event);
  }
}

/**
 * Whole seconds as a BPDU's 1/256 s field. Times taken from a BPDU are
 * rounded to seconds, and a field near its top (0xff80 and up: a legal max
 * age, hello or forward delay of 255.5 s or more, or a root's message age of
 * 255 s plus our hop) rounds to 256 s, which would wrap to 0: every BPDU we
 * sent on would then be refused as a zero timer, by us as by any bridge.
 */
function wireTime(seconds: number): number {
  return Math.min(0xffff, seconds * 256);
}

/** The role code an RST BPDU carries for each Role, in the standard's code and in FSTP's. */
const ROLE_CODES = [
  BpduRole.Unknown,
  BpduRole.Root,
  BpduRole.Designated,
  BpduRole.AlternateBackup,
  BpduRole.AlternateBackup,
] as const;
const FSTP_ROLE_CODES = [
  0,
  FstpRole.Root,
  FstpRole.Designated,
  FstpRole.Discarding,
  FstpRole.Discarding,
] as const;

/**
 * An FSTP BPDU in the standard's words (see the header): `asGood` says
 * whether its vector is as good as the port's or better.
 */
function fromFstp(bpdu: Bpdu, asGood: boolean): Bpdu {
  const code = (bpdu.flags & BpduFlag.RoleMask) >> 2;
  const role = code === FstpRole.Root
    ? BpduRole.Root
    : code === FstpRole.Designated || (code === FstpRole.Discarding && asGood)
    ? BpduRole.Designated
    : code === FstpRole.Discarding
    ? BpduRole.AlternateBackup
    : BpduRole.Unknown;
  const keep = BpduFlag.TopologyChange | BpduFlag.Learning | BpduFlag.Forwarding |
    (role === BpduRole.Root || role === BpduRole.AlternateBackup ? BpduFlag.Agreement : 0);
  return { ...bpdu, flags: (bpdu.flags & keep) | (role << 2) };
}

function msgRole(msg: Bpdu): number {
  return msg.kind === "config" ? BpduRole.Designated : (msg.flags & BpduFlag.RoleMask) >> 2;
}

/**
 * Compares the first `n` components of two priority vectors: negative when
 * `a` is better (numerically lower), 0 when equal.
 */
export function compareVectors(a: PriorityVector, b: PriorityVector, n: 4 | 5): number {
  if (a.rootId !== b.rootId) return a.rootId < b.rootId ? -1 : 1;
  if (a.rootPathCost !== b.rootPathCost) return a.rootPathCost - b.rootPathCost;
  if (a.designatedBridgeId !== b.designatedBridgeId) {
    return a.designatedBridgeId < b.designatedBridgeId ? -1 : 1;
  }
  if (a.designatedPortId !== b.designatedPortId) return a.designatedPortId - b.designatedPortId;
  return n === 5 ? a.bridgePortId - b.bridgePortId : 0;
}

// A message is superior when it is better, or comes from the port that sent
// the information held now (same designated bridge address and port number),
// which may have changed its mind for the worse (17.6).
function compareMessage(msg: PriorityVector, port: PriorityVector): number {
  const c = compareVectors(msg, port, 4);
  if (c <= 0) return c;
  if (
    msg.designatedBridgeId.slice(5) === port.designatedBridgeId.slice(5) &&
    (msg.designatedPortId & 0xfff) === (port.designatedPortId & 0xfff)
  ) {
    return -1;
  }
  return c;
}

function sameTimes(a: StpTimes, b: StpTimes): boolean {
  return a.messageAge === b.messageAge && a.maxAge === b.maxAge && a.helloTime === b.helloTime &&
    a.forwardDelay === b.forwardDelay;
}

function dec(t: number): number {
  return t > 0 ? t - 1 : 0;
}

function pad4(n: number): string {
  return String(n).padStart(4, "0");
}

function checkSteps(name: string, value: number, limits: Limits, step: number): number {
  if (!inSteps(value, limits, step)) {
    throw new RangeError(`Expected a ${name} ${stepsText(value, limits, step)}`);
  }
  return value;
}

function checkRange(name: string, value: number, limits: Limits): number {
  if (!within(value, limits)) {
    throw new RangeError(`Expected ${name} from ${limits[0]} to ${limits[1]}, found ${value}`);
  }
  return value;
}

/**
 * Checks bridge timers against the Linux bridge's ranges (802.1D-2004 17.14
 * wants a forward delay of 4 s or more; the kernel, and so its fast test
 * timers, allow 2).
 *
 * @throws RangeError naming the value out of range
 */
export function checkTimes(t: StpTimes): void {
  checkRange("hello time", t.helloTime, HELLO_TIME);
  checkRange("max age", t.maxAge, MAX_AGE);
  checkRange("forward delay", t.forwardDelay, FORWARD_DELAY);
}
