/**
 * The switch's forwarding engine: pure, synchronous, no I/O (spec section 6).
 *
 * Theory of operation. Frames enter with `input(port, frame)` and leave
 * through the `output(port, frame)` callback given to the constructor, during
 * the same call; the frame view is lent to `output` and must be copied by a
 * receiver that keeps it. The engine never reads a clock: its owner calls
 * `tick(nowMs)` with milliseconds since the switch started, which sets the
 * engine's time and ages the MAC table: once per GC interval an aging pass
 * starts, and each tick looks at AGING_SLOTS_PER_TICK slots of it, so a
 * 65,536-entry table (131,072 slots) takes 8 ticks, and the owner ticks
 * sooner while `aging` says a pass is in progress. An entry last seen at t
 * is removed no earlier than the first tick after t + expireSeconds and, if
 * not seen again, by the end of the first pass that starts after that: at
 * most gcIntervalSeconds plus one tick of the owner's idle cadence later,
 * plus the pass's own length (capacity / AGING_SLOTS_PER_TICK ticks at the
 * owner's short cadence, more when many entries go at once).
 *
 * State: the set of active ports (a flag per port plus a compact list used
 * for flooding, rebuilt only when a port changes), the VLAN membership of
 * the ports (VlanTable), the MAC table, and counters. In switch mode a frame
 * belongs to a VLAN: its 802.1Q VID if tagged (dropped unless the input port
 * is a member), else the input port's untagged VLAN (dropped if it has
 * none; either drop is counted, and told to `onVlanDropped` as sparingly as
 * vlan_drop_notes.ts says, off the flat path an unconfigured switch's
 * untagged frames take). Its source MAC is learned under (MAC, VLAN); a group, unknown or
 * stale destination floods to the VLAN's active members but the source, a
 * known one goes to its port only. A frame leaves untagged on a port whose
 * untagged VLAN it is, tagged on the VLAN's other members: the tag is added
 * or removed on the way, in one scratch buffer. In hub mode every frame
 * floods to every active port except the source and port 0, unchanged and
 * without learning.
 *
 * Watching (capture and mirror ports) costs an unwatched switch one flag
 * test per input frame and per copy sent. A `FrameObserver` sees every frame
 * an active port takes in and every copy the engine sends, in the form it
 * crosses the port. A mirror output port receives a copy of each frame that
 * enters or leaves its source ports (once per input frame, however many of
 * its sources the frame crosses); it takes no part in forwarding: nothing is
 * flooded or sent to it, and frames from it are dropped. Mirrors are set by
 * port number, so they outlive a client reconnecting to the port.
 *
 * Spanning tree (off unless `enableStp` is called; never in hub mode): an
 * Rstp machine (rstp.ts) decides per port whether it learns and forwards.
 * The engine keeps that as two byte arrays: `#fwd` (the port may be sent
 * to; equal to `#active` while spanning tree is off, so the forwarding
 * code never asks whether spanning tree is on) and `#stpLearn`. The only
 * cost to a switch without spanning tree is one null check per frame, at
 * the point where frames to 01:80:c2:00:00:00 are classified: with
 * spanning tree on they go to the machine and are never flooded, a frame
 * from a learning port is learned and dropped, one from a discarding port
 * dropped. vde_switch's FSTP runs a tree per VLAN, its BPDUs tagged on a
 * VLAN's tagged ports: the machine says which ports hear it, and what it
 * sends there goes out untagged and once tagged for each VLAN the port
 * carries tagged, so each of FSTP's trees sees our one tree's decisions.
 * Ports 0 and above 4095 have no spanning tree port id and always
 * forward. The machine may run in another engine (the control copy of a
 * switch whose frames a data-plane thread forwards): this one then relays
 * the BPDUs it takes in (`relayStp`) and is told each port's state
 * (`setStpPortState`) and flush (`flushStpPort`), the very calls the
 * machine makes here.
 *
 * A MAC seen on another port than the one it is learned on takes the MAC
 * table's move branch, rare in a healthy LAN: only there does the engine
 * count the move (`macMoves`) and ask a LoopDetector whether the MAC keeps
 * moving, a loop without spanning tree, which `onLoopSuspected` is told of
 * (at most once a minute). A MAC refreshed on its own port pays nothing.
 *
 * Invariants: a frame is never sent back to its source port; `input` never
 * throws and allocates nothing unless an `onEvent` listener asks for
 * events; the MAC table holds no entry for an inactive port (deactivating a
 * port flushes its entries, and only active ports learn), nor for a VLAN its
 * port has left (leaving one flushes the port's entries).
 */
import {
  dstMacHi,
  dstMacLo,
  formatMacNumbers,
  isMulticast,
  MIN_FRAME,
  SRC_OFFSET,
  srcMacHi,
  srcMacLo,
  tagFrameInto,
  untagFrameInto,
  VDE_MAX_FRAME,
  vlanId,
} from "../wire/ethernet.ts";
import { LearnResult, MacTable, type RemovedEntry } from "./mac_table.ts";
import { isQemuDefaultMac, qemuDuplicateMessage } from "./qemu_default_mac.ts";
import { FLAP_WINDOW_SECONDS, LoopDetector, MoveVerdict, WARN_INTERVAL_SECONDS } from "./loop_detector.ts";
import { PortCounters, type PortStats } from "./port_counters.ts";
import { NO_VLAN, type VlanMember, type VlanResult, VlanTable } from "./vlan_table.ts";
import { type VlanDropNote, VlanDropNotes } from "./vlan_drop_notes.ts";
import { type McastSnooping, PortList } from "./mcast_snooping.ts";
import { Rstp, type RstpOptions, type StpEvent } from "./rstp.ts";
import { isBpduDestination } from "../wire/stp.ts";

/**
 * How long QEMU's default MAC must move without storming before two VMs sharing it are said: two of the
 * detector's windows, so a coarse clock (a data-plane thread ticks once a second) still sees a whole one.
 */
const QEMU_SETTLE_SECONDS = 2 * FLAP_WINDOW_SECONDS;

/** Why a port number is refused, the same words wherever it is (the console's hints too). */
export function pastLastPort(port: number): string {
  return `port ${port} is past the last port (port/showinfo says Numports)`;
}

export type { PortStats } from "./port_counters.ts";
export { MAX_VLAN, NO_VLAN, type VlanMember, type VlanResult } from "./vlan_table.ts";
export type { VlanDropNote } from "./vlan_drop_notes.ts";

/**
 * Slots of the MAC table one tick's aging step looks at: about 10 µs of CPU when nothing expires, 20
 * when everything does (a removal counts as several slots), so a tick never holds the switch thread
 * for long (a full pass of 131,072 slots at once was 0.6-0.9 ms before its loop was made lean).
 */
export const AGING_SLOTS_PER_TICK = 16384;

/** Most ports an engine can have; keeps the per-port arrays small. */
export const MAX_PORTS = 65536;

/** Settings of a `SwitchEngine`; every field has vde_switch's default. */
export interface EngineOptions {
  /** Ports 0..numPorts-1; default 32. */
  numPorts?: number;
  /** Start in hub mode; default false. */
  hub?: boolean;
  /** MAC entry lifetime in seconds; default 100. */
  expireSeconds?: number;
  /** Seconds between MAC table agings; default 2. */
  gcIntervalSeconds?: number;
  /** Seconds a MAC entry stays on its port before it may move; default 3. */
  minPersistenceSeconds?: number;
  /** Longest frame accepted, bytes; default VDE_MAX_FRAME (9234). */
  maxFrame?: number;
  /** Most MAC table entries; default 65536. */
  maxMacs?: number;
  /** Seed for the MAC table's hash; pass a random value on a real switch. */
  hashSeed?: number;
  /** Receives log and debug events; costs allocations only when set. */
  onEvent?: (event: EngineEvent) => void;
  /** Told when a MAC keeps moving between ports (a loop?), at most once a minute; see `LoopDetector`. */
  onLoopSuspected?: (warning: LoopWarning) => void;
  /** Told of a port's first frame longer than maxFrame since it came up (`length` as read, or past maxFrame). */
  onOversize?: (port: number, length: number) => void;
  /** Told of a port's first frame shorter than an Ethernet header since it came up. */
  onShort?: (port: number, length: number) => void;
  /** Told of a port's first frame dropped for a VLAN it does not carry since it came up, then of counts (vlan_drop_notes.ts). */
  onVlanDropped?: (note: VlanDropNote) => void;
  /**
   * The MAC table and port counters in memory shared with another thread
   * (see `sharedEngineState`): the engine that forwards writes them, a
   * control copy on another thread reads them (its own changes to them do
   * nothing; its owner forwards those calls to the writer).
   */
  shared?: { state: SharedEngineState; writer: boolean };
  /**
   * Set on a control copy whose frames another engine forwards (the switch
   * thread's): this one never sends a frame itself (its counters are the
   * other's); spanning tree's BPDUs go to `sendBpdu`, and `tick` leaves
   * the snooping machine alone: it is a copy its owner keeps in step with
   * the forwarding engine's, whose queries are the ones sent.
   */
  control?: { sendBpdu: EngineOutput };
}

/** The shared memory behind an engine's MAC table, port counters and engine-wide counters. */
export interface SharedEngineState {
  macTable: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** One float64 per ENGINE_COUNTER_NAMES entry, then MAC moves. */
  engineCounters: SharedArrayBuffer;
}

/** A MAC that keeps moving between two ports: a loop without spanning tree, most likely. */
export interface LoopWarning {
  /** A loop suspected, or two live ports with QEMU's default MAC (two VMs started without `mac=`): not a loop. */
  kind: "loop" | "qemu-default-mac";
  mac: string;
  vlan: number;
  /** The two ports it moved between last. */
  from: number;
  to: number;
  /** Its moves within the detector's window (more than FLAP_MOVES in FLAP_WINDOW_SECONDS). */
  moves: number;
  /** What was seen, `MAC m VLAN v keeps moving between ports a and b`, for an owner with its own advice. */
  seen: string;
  /** One log line naming the MAC and the ports: `seen`, then the advice (`loop? run with --stp`). */
  message: string;
}

/** Shared memory for the MAC table and counters of an engine with `maxMacs` entries. */
export function sharedEngineState(maxMacs = 65536): SharedEngineState {
  return {
    macTable: MacTable.sharedBuffer(maxMacs),
    counters: new SharedArrayBuffer(PortCounters.sharedBytes(MAX_PORTS)),
    engineCounters: new SharedArrayBuffer(8 * WIDE_SLOTS),
  };
}

/** Something worth logging that happened in the engine. */
export type EngineEvent =
  | { type: "mac-learned"; mac: string; vlan: number; port: number; message: string }
  | { type: "mac-moved"; mac: string; vlan: number; from: number; to: number; message: string }
  | {
    type: "mac-removed";
    reason: "expired" | "flushed";
    mac: string;
    vlan: number;
    port: number;
    message: string;
  }
  | { type: "port-activated"; port: number; message: string }
  | { type: "port-deactivated"; port: number; flushed: number; message: string }
  | { type: "output-error"; port: number; error: unknown; message: string }
  | StpEvent;

/** Engine-wide counters. */
export interface EngineCounters {
  /** Frames shorter than an Ethernet header (or a tagged one shorter than 18 bytes). */
  short: number;
  /** Frames longer than maxFrame. */
  oversize: number;
  /** Frames from a port out of range or inactive. */
  badPort: number;
  /** Frames flooded (counted once per frame, not per copy). */
  flooded: number;
  /** Frames sent to the one port their destination was learned on. */
  unicast: number;
  /** Frames whose destination was learned on their own source port: not sent. */
  filtered: number;
  /** Frames tagged for a VLAN their port is not in, or untagged on a port with no untagged VLAN. */
  vlanDropped: number;
  /** Frames sent by the client of a mirror output port: dropped, as it receives copies only. */
  mirrorDropped: number;
  /** Malformed IGMP/MLD dropped by snooping. */
  snoopDropped: number;
  /** Frames dropped because their port was not forwarding (spanning tree). */
  stpDropped: number;
}

/** The engine-wide counters' names, in the order of their slots. */
export const ENGINE_COUNTER_NAMES = [
  "short",
  "oversize",
  "badPort",
  "flooded",
  "unicast",
  "filtered",
  "vlanDropped",
  "mirrorDropped",
  "snoopDropped",
  "stpDropped",
] as const satisfies readonly (keyof EngineCounters)[];
/** The slot of a counter the data path bumps: its place in ENGINE_COUNTER_NAMES, so the two cannot disagree. */
function slot(name: (typeof ENGINE_COUNTER_NAMES)[number]): number {
  return ENGINE_COUNTER_NAMES.indexOf(name);
}
const SHORT = slot("short");
const OVERSIZE = slot("oversize");
const BAD_PORT = slot("badPort");
const FLOODED = slot("flooded");
const UNICAST = slot("unicast");
const FILTERED = slot("filtered");
const VLAN_DROPPED = slot("vlanDropped");
const MIRROR_DROPPED = slot("mirrorDropped");
const SNOOP_DROPPED = slot("snoopDropped");
const STP_DROPPED = slot("stpDropped");
/** Bits of `#dropsTold`: the kinds of dropped frame told for a port since it came up. */
const TOLD_OVERSIZE = 1;
const TOLD_SHORT = 2;
/** Not a frame counter: MAC moves (`macMoves`), after the frame counters in the same shared array. */
const MAC_MOVES = ENGINE_COUNTER_NAMES.length;
const WIDE_SLOTS = MAC_MOVES + 1;

/** Sends one lent frame out of a port. */
export type EngineOutput = (port: number, frame: Uint8Array) => void;

/** What forwarding asks of spanning tree: the Rstp machine, or a relay to the engine that runs it. */
interface StpPorts {
  receive(port: number, frame: Uint8Array): void;
  enablePort(port: number): void;
  disablePort(port: number): void;
  tick(nowMs: number): void;
  close(): void;
}

/** Which way a watched frame crossed its port: into the switch, or out of it. */
export const Direction = { In: 1, Out: 2 } as const;
/** `Direction.In` or `Direction.Out` (the pcapng packet-flags values). */
export type Direction = typeof Direction[keyof typeof Direction];

/**
 * Sees a lent frame crossing a port; must not keep the view nor throw.
 * `seq` numbers the frames the switch handles: the copies of one input
 * frame (and the frame as it entered) share it.
 */
export type FrameObserver = (port: number, direction: Direction, frame: Uint8Array, seq: number) => void;

/** One mirror as set: its output port and its source ports (empty: every port). */
export interface MirrorInfo {
  out: number;
  sources: number[];
}

interface Mirror {
  out: number;
  /** 1 for a source port; null for every port. */
  sources: Uint8Array | null;
  /** The input sequence number of the last frame copied, so a frame is copied once. */
  lastSeq: number;
}

/**
 * A VDE switch's forwarding logic with injected output and clock.
 *
 * @example
 * ```ts
 * import { SwitchEngine } from "./engine.ts";
 * import { buildFrame } from "../wire/ethernet.ts";
 * const sent: number[] = [];
 * const engine = new SwitchEngine({ numPorts: 4 }, (port) => sent.push(port));
 * for (const port of [1, 2, 3]) engine.activatePort(port);
 * engine.input(1, buildFrame({ src: "02:00:00:00:00:01" }));
 * if (sent.join() !== "2,3") throw new Error(sent.join());
 * ```
 */
export class SwitchEngine {
  /** The learning table; read it for printing, let the engine change it. */
  readonly macTable: MacTable;
  /** MAC entry lifetime, seconds. */
  expireSeconds: number;
  /** Seconds between MAC table agings. */
  gcIntervalSeconds: number;
  /** Longest frame accepted, bytes. */
  maxFrame: number;

  #output: EngineOutput;
  #onEvent: ((event: EngineEvent) => void) | undefined;
  /** Told when a MAC keeps moving between ports (a loop?), at most once a minute. */
  onLoopSuspected: ((warning: LoopWarning) => void) | undefined;
  /**
   * Told of a port's first oversize frame since it came up: an interface MTU above 9216 on a tap (a
   * bridge user's jumbo setting) or a client's sends them, and a count alone left the loss unexplained.
   */
  onOversize: ((port: number, length: number) => void) | undefined;
  /**
   * Told of a port's first frame shorter than an Ethernet header since it came up: a link on the main
   * thread says such a runt itself before the engine sees it, a data-plane thread's engine must.
   */
  onShort: ((port: number, length: number) => void) | undefined;
  /** Per port, the drops told since it came up: TOLD_OVERSIZE, TOLD_SHORT. */
  #dropsTold: Uint8Array;
  /**
   * Told of frames dropped for a VLAN their port does not carry: a port's first since it came up, then
   * counts at most once a minute (see VlanDropNotes). A trunk set on one side only lost a VLAN's every
   * frame with a switch-wide counter alone to tell.
   */
  onVlanDropped: ((note: VlanDropNote) => void) | undefined;
  readonly #vlanDrops: VlanDropNotes;
  readonly #loops: LoopDetector;
  #numPorts: number;
  #hub: boolean;
  #active: Uint8Array;
  /** 1 where frames may be sent: active and, with spanning tree on, forwarding. */
  #fwd: Uint8Array;
  /** With spanning tree on, 1 where the port learns (learning or forwarding state). */
  #stpLearn: Uint8Array;
  /** With spanning tree on, 1 where the machine lets the port forward, active or not yet. */
  #stpForward: Uint8Array;
  /** The machine (an Rstp when it runs here, a relay to another engine's otherwise), or null when off. */
  #stp: StpPorts | null = null;
  readonly #control: { sendBpdu: EngineOutput } | undefined;
  readonly #vlans: VlanTable;
  /** Where a frame's other form (tag added or removed) is built; grows to the largest frame seen. */
  #scratch = new Uint8Array(1522);
  /** The other form of the frame being switched, once built; null until needed. */
  #otherForm: Uint8Array | null = null;
  /** Depth of `input` calls: an output callback may switch a frame of its own. */
  #depth = 0;
  /** Where snooping puts a multicast frame's ports, reused from frame to frame (`#snooped`). */
  readonly #snoopPorts = new PortList();
  /** Whether `#snoopPorts` is being sent to (an output callback's nested frame then gets its own list). */
  #snoopBusy = false;
  // Replaced, never edited in place, so a flood loop already running (an
  // output callback may deactivate a port) keeps a consistent list.
  #activeList: Int32Array;
  /** The ports flooding uses (`#fwd`, no mirror outputs); the same array as `#activeList` without spanning tree. */
  #floodList: Int32Array;
  #counters: PortCounters;
  /**
   * The engine-wide counters, indexed as ENGINE_COUNTER_NAMES; a view of
   * shared memory when the engine has `shared` (the forwarding copy writes,
   * a control copy reads what it wrote).
   */
  readonly #wide: Float64Array<ArrayBufferLike>;
  #now = 0;
  /**
   * The time a move is stamped with for the loop detector (seconds; [0]): `tick`'s, or the owner's finer
   * `stamp` between ticks. A typed array, so no field of the engine changes kind.
   */
  readonly #moveAt = new Float64Array(1);
  /** When QEMU's default MAC on two ports was said last (seconds), at most once a minute. */
  #qemuWarnedAt = -Infinity;
  /**
   * QEMU's default MAC seen moving, to be said at a tick QEMU_SETTLE_SECONDS on unless it storms:
   * [since (seconds; -Infinity: none), hi, lo, vlan, from, to]. A typed array, so no field of the
   * engine changes kind (lo is a 32-bit number).
   */
  readonly #qemuPending = new Float64Array([-Infinity, 0, 0, 0, 0, 0]);
  /**
   * A double from the start (so the first tick ages): a field that turns from a small integer into
   * a double changes the engine's shape and throws away the switch thread's optimized path.
   */
  #lastGc = -Infinity;
  /** An observer or a mirror exists: the one test the fast path pays for watching. */
  #watched = false;
  #observer: FrameObserver | null = null;
  #mirrors: Mirror[] = [];
  /** 1 for a mirror output port (no forwarding to or from it). */
  #mirrorOut: Uint8Array;
  /** Counts input frames while watched, for copying a frame to a mirror once. */
  #seq = 0;
  /** IGMP/MLD snooping when on (`--mcast-snooping`); only multicast frames look at it. */
  #snoop: McastSnooping | null = null;

  /**
   * @param options settings; see `EngineOptions` for defaults
   * @param output called once per frame copy to send; must not keep the view
   * @throws RangeError if a setting is out of range
   */
  constructor(options: EngineOptions, output: EngineOutput) {
    const numPorts = options.numPorts ?? 32;
    checkNumPorts(numPorts);
    this.#output = output;
    this.#onEvent = options.onEvent;
    this.#numPorts = numPorts;
    this.#hub = options.hub ?? false;
    this.expireSeconds = nonNegative("expireSeconds", options.expireSeconds ?? 100);
    this.gcIntervalSeconds = nonNegative("gcIntervalSeconds", options.gcIntervalSeconds ?? 2);
    this.maxFrame = nonNegative("maxFrame", options.maxFrame ?? VDE_MAX_FRAME);
    this.macTable = new MacTable({
      maxEntries: options.maxMacs ?? 65536,
      seed: options.hashSeed ?? 0,
      minPersistenceSeconds: nonNegative("minPersistenceSeconds", options.minPersistenceSeconds ?? 3),
      shared: options.shared && { buffer: options.shared.state.macTable, writer: options.shared.writer },
    });
    this.#loops = new LoopDetector(options.hashSeed ?? 0);
    this.#active = new Uint8Array(numPorts);
    this.#fwd = new Uint8Array(numPorts);
    this.#stpLearn = new Uint8Array(numPorts);
    this.#stpForward = new Uint8Array(numPorts);
    this.#control = options.control;
    this.#vlans = new VlanTable(numPorts);
    this.#activeList = new Int32Array(0);
    this.#floodList = this.#activeList;
    this.#counters = new PortCounters(
      numPorts,
      options.shared && { buffer: options.shared.state.counters, writer: options.shared.writer },
    );
    this.#mirrorOut = new Uint8Array(numPorts);
    this.#wide = options.shared === undefined
      ? new Float64Array(WIDE_SLOTS)
      : new Float64Array(options.shared.state.engineCounters, 0, WIDE_SLOTS);
    this.onLoopSuspected = options.onLoopSuspected;
    this.onOversize = options.onOversize;
    this.onShort = options.onShort;
    this.#dropsTold = new Uint8Array(numPorts);
    this.onVlanDropped = options.onVlanDropped;
    this.#vlanDrops = new VlanDropNotes(numPorts, (note) => this.onVlanDropped?.(note));
  }

  /**
   * Takes one frame arriving on `port` and sends it on. Drops and counts a
   * frame from a bad or inactive port, shorter than 14 bytes, or longer than
   * `maxFrame`; never throws.
   */
  input(port: number, frame: Uint8Array): void {
    if (!(port >= 0 && port < this.#numPorts) || (port | 0) !== port) {
      this.#wide[BAD_PORT]!++;
      return;
    }
    const counters = this.#counters;
    if (this.#active[port] === 0) {
      this.#wide[BAD_PORT]!++;
      counters.dropsIn[port]!++;
      return;
    }
    const length = frame.length;
    if (length < MIN_FRAME) {
      this.#wide[SHORT]!++;
      counters.dropsIn[port]!++;
      if ((this.#dropsTold[port]! & TOLD_SHORT) === 0) {
        this.#dropsTold[port]! |= TOLD_SHORT;
        this.onShort?.(port, length);
      }
      return;
    }
    if (length > this.maxFrame) {
      this.#wide[OVERSIZE]!++;
      counters.dropsIn[port]!++;
      if ((this.#dropsTold[port]! & TOLD_OVERSIZE) === 0) {
        this.#dropsTold[port]! |= TOLD_OVERSIZE;
        this.onOversize?.(port, length);
      }
      return;
    }
    if (this.#watched && this.#watchInput(port, frame)) return;
    if (this.#stp !== null && !this.#stpAdmits(this.#stp, port, frame)) return;
    if (this.#hub) {
      counters.framesIn[port]!++;
      counters.bytesIn[port]! += length;
      this.#flood(port, frame, 1);
      return;
    }
    const vid = vlanId(frame);
    if (vid === -2) {
      this.#wide[SHORT]!++;
      counters.dropsIn[port]!++;
      return;
    }
    counters.framesIn[port]!++;
    counters.bytesIn[port]! += length;
    const vlans = this.#vlans;
    if (vid < 0 && vlans.flat) {
      // One flat LAN (nothing configured), untagged frame: no tag to add or remove anywhere.
      this.#switchFlat(port, frame);
      return;
    }
    const tagged = vid >= 0;
    const vlan = tagged ? vid : vlans.untagged(port);
    if (tagged ? vlans.membersOf(vid)?.[port] !== 1 : vlan === NO_VLAN) {
      this.#wide[VLAN_DROPPED]!++;
      counters.dropsIn[port]!++;
      this.#vlanDrops.dropped(port, tagged ? vid : -1);
      return;
    }
    const outer = this.#otherForm;
    this.#otherForm = null;
    this.#depth++;
    try {
      this.#switchVlan(port, frame, vlan, tagged);
    } finally {
      this.#depth--;
      this.#otherForm = outer;
    }
  }

  // Spanning tree's part of input: whether the frame goes on to switching.
  #stpAdmits(stp: StpPorts, port: number, frame: Uint8Array): boolean {
    const counters = this.#counters;
    if (isBpduDestination(frame)) {
      counters.framesIn[port]!++;
      counters.bytesIn[port]! += frame.length;
      stp.receive(port, frame);
      return false;
    }
    if (this.#fwd[port] === 1) return true;
    if (this.#stpLearn[port] === 1 && !isMulticast(frame, SRC_OFFSET)) {
      const vid = vlanId(frame);
      const vlan = vid >= 0 ? vid : vid === -1 ? this.#vlans.untagged(port) : NO_VLAN;
      if (vlan !== NO_VLAN) this.#learn(srcMacHi(frame), srcMacLo(frame) | 0, vlan, port);
    }
    this.#wide[STP_DROPPED]!++;
    counters.dropsIn[port]!++;
    return false;
  }

  #switchFlat(port: number, frame: Uint8Array): void {
    if (!isMulticast(frame, SRC_OFFSET)) this.#learn(srcMacHi(frame), srcMacLo(frame) | 0, 0, port);
    if (isMulticast(frame, 0)) {
      if (this.#snoop !== null && this.#snooped(port, frame, 0, false)) return;
      this.#flood(port, frame, 0);
      return;
    }
    const to = this.macTable.lookup(dstMacHi(frame), dstMacLo(frame) | 0, 0);
    if (to < 0 || to >= this.#numPorts || this.#fwd[to] === 0) {
      this.#flood(port, frame, 0);
    } else if (to === port) {
      this.#wide[FILTERED]!++;
    } else {
      this.#wide[UNICAST]!++;
      this.#send(to, frame);
    }
  }

  #switchVlan(port: number, frame: Uint8Array, vlan: number, tagged: boolean): void {
    if (!isMulticast(frame, SRC_OFFSET)) this.#learn(srcMacHi(frame), srcMacLo(frame) | 0, vlan, port);
    const members = this.#vlans.membersOf(vlan);
    const group = isMulticast(frame, 0);
    if (group && this.#snoop !== null && this.#snooped(port, frame, vlan, tagged)) return;
    const to = group ? -1 : this.macTable.lookup(dstMacHi(frame), dstMacLo(frame) | 0, vlan);
    if (to < 0 || to >= this.#numPorts || this.#fwd[to] === 0 || members?.[to] !== 1) {
      this.#floodVlan(port, frame, vlan, tagged, members);
    } else if (to === port) {
      this.#wide[FILTERED]!++;
    } else {
      this.#wide[UNICAST]!++;
      const untaggedThere = this.#vlans.untagged(to) === vlan;
      this.#send(to, untaggedThere === tagged ? this.#other(frame, vlan, tagged) : frame);
    }
  }

  // Sends to the VLAN's active members but the source: untagged where it is
  // the port's untagged VLAN, tagged elsewhere.
  #floodVlan(
    source: number,
    frame: Uint8Array,
    vlan: number,
    tagged: boolean,
    members: Uint8Array | undefined,
  ): void {
    this.#wide[FLOODED]!++;
    if (members === undefined) return;
    const vlans = this.#vlans;
    const list = this.#floodList;
    for (let i = 0; i < list.length; i++) {
      const port = list[i]!;
      if (port === source || this.#fwd[port] === 0 || members[port] !== 1) continue;
      const untaggedThere = vlans.untagged(port) === vlan;
      this.#send(port, untaggedThere === tagged ? this.#other(frame, vlan, tagged) : frame);
    }
  }

  /**
   * Snooping's say on a multicast frame: true when it was handled (dropped
   * as malformed IGMP/MLD, or sent to the group's member and router ports).
   */
  #snooped(source: number, frame: Uint8Array, vlan: number, tagged: boolean): boolean {
    const snoop = this.#snoop!;
    if (!snoop.observe(source, vlan, frame)) {
      this.#wide[SNOOP_DROPPED]!++;
      this.#counters.dropsIn[source]!++;
      return true;
    }
    // Snooping refills the list it is given, which is read below while output callbacks run: one of them may
    // switch a frame of its own (a nested input, in the flat LAN's path too, where #depth is not counted), and
    // that one gets a list of its own, so the outer frame's ports are not overwritten while it sends to them.
    const mine = !this.#snoopBusy;
    const ports = snoop.route(frame, vlan, mine ? this.#snoopPorts : new PortList());
    if (ports === null) return false;
    const flat = !tagged && this.#vlans.flat;
    const members = flat ? undefined : this.#vlans.membersOf(vlan);
    this.#snoopBusy = true;
    try {
      for (let i = 0; i < ports.length; i++) {
        const port = ports.ports[i]!;
        if (port === source || !this.isActive(port) || this.#fwd[port] === 0 || this.#mirrorOut[port] === 1) {
          continue;
        }
        if (flat) {
          this.#send(port, frame);
        } else if (members?.[port] === 1) {
          const untaggedThere = this.#vlans.untagged(port) === vlan;
          this.#send(port, untaggedThere === tagged ? this.#other(frame, vlan, tagged) : frame);
        }
      }
    } finally {
      if (mine) this.#snoopBusy = false;
    }
    return true;
  }

  /** The frame with its tag removed (`tagged`) or added: built once per input frame. */
  #other(frame: Uint8Array, vlan: number, tagged: boolean): Uint8Array {
    if (this.#otherForm !== null) return this.#otherForm;
    const size = frame.length + 4;
    // A nested input (an output callback switching a frame) must not overwrite the outer one's form.
    let out = this.#depth > 1 ? new Uint8Array(size) : this.#scratch;
    if (out.length < size) out = this.#scratch = new Uint8Array(Math.max(size, VDE_MAX_FRAME + 4));
    const n = tagged ? untagFrameInto(out, frame) : tagFrameInto(out, frame, vlan);
    this.#otherForm = out.subarray(0, n);
    return this.#otherForm;
  }

  /**
   * Sets the engine's time and ages the MAC table: continues the aging pass
   * in progress, or starts one if a GC interval has passed since the last
   * one started, looking at AGING_SLOTS_PER_TICK slots. Time never goes
   * backwards: an earlier or non-finite `nowMs` is ignored.
   *
   * @param nowMs milliseconds since the switch started
   * @returns how many MAC entries were aged out
   */
  tick(nowMs: number): number {
    const now = nowMs / 1000;
    if (!Number.isFinite(now) || now <= this.#now) return 0;
    this.#now = now;
    this.#vlanDrops.tick(now);
    if (now > this.#moveAt[0]!) this.#moveAt[0] = now;
    if (this.#qemuPending[0] !== -Infinity) this.#sayQemuPending();
    this.#stp?.tick(nowMs);
    // A control copy's snooping is ticked by its owner, as the forwarding engine's ticks.
    if (this.#snoop !== null && this.#control === undefined) this.#sendQueries(nowMs);
    if (!this.macTable.sweeping) {
      if (now - this.#lastGc < this.gcIntervalSeconds) return 0;
      this.#lastGc = now;
    }
    return this.macTable.expireSome(
      now,
      this.expireSeconds,
      AGING_SLOTS_PER_TICK,
      this.#removedListener("expired"),
    );
  }

  /**
   * The time of the frames that come next (ms since the switch started), finer than `tick`'s: the loop
   * detector's clock, read on a move only. A data-plane thread ticks once a second, and within a tick every
   * move had one time: a flood of new MACs moving twice each, many at that instant, could keep a slow
   * loop's MAC out of its slot for 17 s or more. The thread reads a clock at each wait anyway, so this is
   * a store per wait, nothing per frame. Never backwards: an earlier or non-finite time is ignored.
   */
  stamp(nowMs: number): void {
    const now = nowMs / 1000;
    if (now > this.#moveAt[0]!) this.#moveAt[0] = now;
  }

  /** An aging pass is in progress: the next `tick` continues it, so tick again soon (a few ms). */
  get aging(): boolean {
    return this.macTable.sweeping;
  }

  // Our querier's queries, flooded on their VLAN (untagged where it is the port's untagged VLAN).
  #sendQueries(nowMs: number): void {
    for (const q of this.#snoop!.tick(nowMs)) {
      this.#seq++; // a frame of its own for captures and mirrors
      const members = this.#vlans.membersOf(q.vlan);
      if (members === undefined) continue;
      const list = this.#floodList;
      for (let i = 0; i < list.length; i++) {
        const port = list[i]!;
        if (members[port] !== 1) continue;
        if (this.#vlans.untagged(port) === q.vlan) {
          this.#send(port, q.frame);
        } else {
          const tagged = new Uint8Array(q.frame.length + 4);
          this.#send(port, tagged.subarray(0, tagFrameInto(tagged, q.frame, q.vlan)));
        }
      }
    }
  }

  /** IGMP/MLD snooping, or null when off (multicast is flooded, as vde_switch does). */
  get snooping(): McastSnooping | null {
    return this.#snoop;
  }

  set snooping(snoop: McastSnooping | null) {
    this.#snoop = snoop;
    // A machine made while the switch runs is at time 0: it takes the switch's clock at once, before a
    // querier's delay or a membership is armed on it, or those would count from 0 and be over at its first
    // tick. A control copy's clock is its owner's (the forwarding engine's copy tells it when it ticks).
    if (snoop !== null && this.#control === undefined) this.#sendQueries(this.#now * 1000);
  }

  /** The engine's time: seconds since the switch started, as last given to `tick`. */
  get now(): number {
    return this.#now;
  }

  /** Number of ports (0..numPorts-1). */
  get numPorts(): number {
    return this.#numPorts;
  }

  /**
   * Changes the number of ports. Growing adds inactive ports; shrinking
   * removes ports from the top, with their VLAN setting and counters.
   *
   * @throws RangeError if `n` is not an integer from 1 to MAX_PORTS
   * @throws Error if a port that would be removed is active: the caller must
   *   close it first (the engine cannot close a transport it does not own)
   */
  setNumPorts(n: number): void {
    checkNumPorts(n);
    for (let port = n; port < this.#numPorts; port++) {
      if (this.#active[port] === 1) {
        throw new Error(`Cannot reduce the switch to ${n} ports: port ${port} is active`);
      }
    }
    this.#active = resized(this.#active, n);
    this.#dropsTold = resized(this.#dropsTold, n);
    this.#vlanDrops.resize(n);
    this.#fwd = resized(this.#fwd, n);
    this.#stpLearn = resized(this.#stpLearn, n);
    this.#stpForward = resized(this.#stpForward, n);
    this.#vlans.resize(n);
    this.#counters.resize(n);
    this.#numPorts = n;
    this.#mirrors = this.#mirrors.filter((m) => m.out < n).map((m) => {
      if (m.sources === null) return m;
      const sources = new Uint8Array(n);
      sources.set(m.sources.subarray(0, Math.min(n, m.sources.length)));
      return { ...m, sources };
    });
    const mirrorOut = new Uint8Array(n);
    for (const m of this.#mirrors) mirrorOut[m.out] = 1;
    this.#mirrorOut = mirrorOut;
    this.#updateWatched();
    this.#rebuildActiveList();
  }

  /**
   * Replaces the event listener (undefined: none, and no event allocations).
   * The switch installs one only while someone subscribes, e.g. a console
   * session after `debug/add`.
   */
  set onEvent(listener: ((event: EngineEvent) => void) | undefined) {
    this.#onEvent = listener;
  }

  /** The current event listener, if any. */
  get onEvent(): ((event: EngineEvent) => void) | undefined {
    return this.#onEvent;
  }

  /**
   * Sets the observer that sees every frame crossing a port (null: none).
   * One at a time: the switch's capture hub fans out to its captures.
   */
  set observer(observer: FrameObserver | null) {
    this.#observer = observer;
    this.#updateWatched();
  }

  get observer(): FrameObserver | null {
    return this.#observer;
  }

  /**
   * Makes `out` a mirror output receiving a copy of every frame entering or
   * leaving `sources` (every port when empty), replacing a mirror `out` had.
   * The port stops forwarding at once and forgets the MACs learned on it.
   *
   * @returns null when done; else why not, in words for the console (a port
   *   out of range, or `out` among its sources), and nothing changed
   */
  addMirror(out: number, sources: number[]): string | null {
    if (sources.includes(out)) return `port ${out} cannot mirror itself: leave it out of the source ports`;
    const bad = [out, ...sources].find((p) => !Number.isInteger(p) || p < 0 || p >= this.#numPorts);
    if (bad !== undefined) return bad >= this.#numPorts ? pastLastPort(bad) : `${bad} is no port number`;
    const n = this.#numPorts;
    let flags: Uint8Array | null = null;
    if (sources.length > 0) {
      flags = new Uint8Array(n);
      for (const p of sources) flags[p] = 1;
    }
    this.#mirrors = [...this.#mirrors.filter((m) => m.out !== out), { out, sources: flags, lastSeq: -1 }];
    this.#mirrorOut[out] = 1;
    this.#flushPort(out);
    this.#rebuildActiveList();
    this.#updateWatched();
    return null;
  }

  /** Removes the mirror whose output is `out`; false if there is none. The port forwards again. */
  delMirror(out: number): boolean {
    if (!this.#mirrors.some((m) => m.out === out)) return false;
    this.#mirrors = this.#mirrors.filter((m) => m.out !== out);
    this.#mirrorOut[out] = 0;
    this.#rebuildActiveList();
    this.#updateWatched();
    return true;
  }

  /** The mirrors, by output port. */
  mirrors(): MirrorInfo[] {
    return this.#mirrors.map((m) => {
      const sources: number[] = [];
      if (m.sources !== null) m.sources.forEach((f, p) => f === 1 && sources.push(p));
      return { out: m.out, sources };
    }).sort((a, b) => a.out - b.out);
  }

  /** Whether frames are flooded everywhere without learning (hub) rather than switched. */
  get hub(): boolean {
    return this.#hub;
  }

  /** Hub mode turns spanning tree off first, as vde_switch's does (a hub floods BPDUs). */
  set hub(on: boolean) {
    if (on) this.disableStp();
    this.#hub = on;
  }

  /** The spanning tree machine, or null while spanning tree is off (or runs in another engine). */
  get stp(): Rstp | null {
    return this.#rstp;
  }

  /** The machine when it runs here: derived from `#stp`, the one record of what runs. */
  get #rstp(): Rstp | null {
    return this.#stp instanceof Rstp ? this.#stp : null;
  }

  /**
   * Turns spanning tree on: every port from 1 to 4095 starts discarding and
   * joins the tree. Idempotent.
   *
   * @throws Error in hub mode ("Can't use fstp in hub mode")
   * @throws RangeError if an option is out of range
   */
  enableStp(options: RstpOptions): Rstp {
    if (this.#rstp !== null) return this.#rstp;
    if (this.#hub) throw new Error("Can't use fstp in hub mode");
    const control = this.#control;
    // The state and flush calls go through the public methods: a control copy's owner sends them on.
    const send = (port: number, frame: Uint8Array) => {
      if (control === undefined) this.sendControl(port, frame);
      else control.sendBpdu(port, frame);
    };
    const stp = new Rstp(options, {
      // Counts what leaves, each tagged copy too, as the port's frame counters do.
      send: (port, frame, everyVlan) => {
        if (!(port >= 0 && port < this.#numPorts) || this.#active[port] !== 1) return { framesSent: 0 };
        send(port, frame);
        if (!everyVlan) return { framesSent: 1 };
        const vids = this.#taggedVlans(port);
        for (const vid of vids) send(port, tagged(frame, vid));
        return { framesSent: 1 + vids.length };
      },
      setPortState: (port, learning, forwarding) => this.setStpPortState(port, learning, forwarding),
      flush: (port) => this.flushStpPort(port),
      onEvent: (event) => this.#onEvent?.(event),
    });
    this.#stopStp();
    this.#startStp(stp);
    return stp;
  }

  /** The VLANs `port` carries tagged. */
  #taggedVlans(port: number): number[] {
    const vlans = this.#vlans;
    return vlans.vlans().filter((vid) => vid !== vlans.untagged(port) && vlans.membersOf(vid)?.[port] === 1);
  }

  /**
   * Spanning tree run by another engine: BPDUs taken in go to `relay`, and
   * the ports forward and learn as `setStpPortState` says (every port from
   * 1 to 4095 starts discarding). Null turns it off. Ignored in hub mode.
   */
  relayStp(relay: ((port: number, frame: Uint8Array) => void) | null): void {
    this.#stopStp();
    if (relay === null || this.#hub) return;
    const nothing = () => {};
    this.#startStp({
      receive: relay,
      enablePort: nothing,
      disablePort: nothing,
      tick: nothing,
      close: nothing,
    });
  }

  #startStp(stp: StpPorts): void {
    this.#stp = stp;
    stp.tick(this.#now * 1000);
    for (let port = 1; port < Math.min(this.#numPorts, 4096); port++) {
      this.#fwd[port] = 0;
      this.#stpLearn[port] = 0;
      this.#stpForward[port] = 0;
    }
    this.#rebuildActiveList();
    for (const port of this.#activeList) if (hasStpId(port)) stp.enablePort(port);
  }

  /** Turns spanning tree off: every active port forwards again. Idempotent. */
  disableStp(): void {
    this.#stopStp();
  }

  #stopStp(): void {
    const stp = this.#stp;
    if (stp === null) return;
    this.#stp = null;
    stp.close();
    this.#fwd.set(this.#active);
    this.#stpLearn.fill(0);
    this.#stpForward.fill(0);
    this.#rebuildActiveList();
  }

  /** Spanning tree's decision for `port` (both false: discarding); ignored while spanning tree is off. */
  setStpPortState(port: number, learning: boolean, forwarding: boolean): void {
    if (this.#stp === null || !(port >= 0 && port < this.#numPorts)) return;
    this.#stpLearn[port] = learning ? 1 : 0;
    this.#stpForward[port] = forwarding ? 1 : 0;
    this.#fwd[port] = forwarding && this.#active[port] === 1 ? 1 : 0;
    this.#rebuildActiveList();
  }

  /**
   * Forgets learned MACs (`hash/flush`): those on `port` in `vlan`, -1
   * standing for any, so both -1 empties the table. Each goes as a
   * "flushed" removal; the forwarding path is untouched (it floods an
   * unknown destination and learns again).
   */
  flushMacs(port = -1, vlan = -1): void {
    this.macTable.deleteMatching(port, vlan, this.#removedListener("flushed"));
  }

  /** Forgets the MACs learned on `port` (spanning tree's topology change flush). */
  flushStpPort(port: number): void {
    if (port >= 0 && port < this.#numPorts) this.#flushPort(port);
  }

  /** A BPDU that the forwarding engine (a relay) took in on `port`: for the machine running here. */
  stpReceive(port: number, frame: Uint8Array): void {
    if (port >= 0 && port < this.#numPorts && this.#active[port] === 1) this.#rstp?.receive(port, frame);
  }

  /**
   * Sends a frame spanning tree built (here, or in a control copy) out of
   * `port`, whatever the port's state: a frame of its own for captures and
   * mirrors. Nothing if the port is inactive.
   */
  sendControl(port: number, frame: Uint8Array): void {
    if (!(port >= 0 && port < this.#numPorts) || this.#active[port] !== 1) return;
    this.#seq++;
    this.#send(port, frame);
  }

  /** Seconds a MAC entry stays on its port before it may move to another. */
  get minPersistenceSeconds(): number {
    return this.macTable.minPersistenceSeconds;
  }

  set minPersistenceSeconds(seconds: number) {
    this.macTable.minPersistenceSeconds = nonNegative("minPersistenceSeconds", seconds);
  }

  /**
   * Makes a port take part in switching (a client attached). Idempotent.
   *
   * @throws RangeError if the port is out of range
   */
  activatePort(port: number): void {
    this.#checkPort(port);
    if (this.#active[port] === 1) return;
    this.#active[port] = 1;
    this.#dropsTold[port] = 0;
    this.#vlanDrops.portUp(port);
    const stp = this.#stp;
    // The machine's word may have come first (a relayed state precedes the activation it caused).
    this.#fwd[port] = stp === null || !hasStpId(port) ? 1 : this.#stpForward[port]!;
    this.#rebuildActiveList();
    if (stp !== null && hasStpId(port)) stp.enablePort(port);
    this.#onEvent?.({ type: "port-activated", port, message: `Port ${port} activated` });
  }

  /**
   * Takes a port out of switching (its last client left) and forgets the
   * MACs learned on it. Its VLAN and counters stay. Idempotent.
   *
   * @returns how many MAC entries were flushed
   * @throws RangeError if the port is out of range
   */
  deactivatePort(port: number): number {
    this.#checkPort(port);
    if (this.#active[port] === 0) return 0;
    this.#active[port] = 0;
    this.#fwd[port] = 0;
    this.#rebuildActiveList();
    if (hasStpId(port)) this.#stp?.disablePort(port);
    this.#snoop?.forgetPort(port);
    this.#vlanDrops.portDown(port);
    const flushed = this.macTable.deletePort(port, this.#removedListener("flushed"));
    this.#onEvent?.({
      type: "port-deactivated",
      port,
      flushed,
      message: `Port ${port} deactivated, ${flushed} MAC entries flushed`,
    });
    return flushed;
  }

  /** Whether a port is active; false for a port out of range. */
  isActive(port: number): boolean {
    return port >= 0 && port < this.#numPorts && this.#active[port] === 1;
  }

  /** The active ports in ascending order. */
  activePorts(): number[] {
    return Array.from(this.#activeList);
  }

  /**
   * Sets a port's untagged VLAN and, if it changed, forgets the MACs learned
   * on the port (spec 6.1). The port leaves its old untagged VLAN.
   *
   * @param vid an existing VLAN, or NO_VLAN (4095): the port takes only tagged frames
   * @returns "ok", "invalid" (port or id out of range) or "missing" (no such VLAN)
   */
  setPortVlan(port: number, vid: number): VlanResult {
    const before = this.#vlans.untagged(port);
    const result = this.#vlans.setUntagged(port, vid);
    if (result === "ok" && before !== vid) this.#flushPort(port);
    return result;
  }

  /**
   * A port's untagged VLAN (0 unless set; NO_VLAN for none).
   *
   * @throws RangeError if the port is out of range
   */
  portVlan(port: number): number {
    this.#checkPort(port);
    return this.#vlans.untagged(port);
  }

  /** Creates VLAN `vid` (1..MAX_VLAN) with no members (`vlan/create`). */
  createVlan(vid: number): VlanResult {
    return this.#vlans.create(vid);
  }

  /** Removes VLAN `vid`; "in-use" while a port is a member (`vlan/remove`). */
  removeVlan(vid: number): VlanResult {
    return this.#vlans.remove(vid);
  }

  /** Makes `port` a tagged member of VLAN `vid` (`vlan/addport`). */
  addVlanPort(vid: number, port: number): VlanResult {
    return this.#vlans.addPort(vid, port);
  }

  /**
   * Takes `port` out of VLAN `vid` and forgets the MACs learned on the port;
   * "in-use" for the port's untagged VLAN (`vlan/delport`).
   */
  delVlanPort(vid: number, port: number): VlanResult {
    const result = this.#vlans.delPort(vid, port);
    if (result === "ok") this.#flushPort(port);
    return result;
  }

  /** Puts a freed port's VLANs back as a new port has them: untagged in VLAN 0 only. */
  resetPortVlans(port: number): void {
    this.#checkPort(port);
    this.#vlans.resetPort(port);
    this.#flushPort(port);
  }

  /** Whether VLAN `vid` exists. */
  vlanExists(vid: number): boolean {
    return this.#vlans.exists(vid);
  }

  /** The existing VLAN ids, ascending. */
  vlans(): number[] {
    return this.#vlans.vlans();
  }

  /** The member ports of VLAN `vid`, active or not, in port order. */
  vlanMembers(vid: number): VlanMember[] {
    return this.#vlans.members(vid);
  }

  /** Counts one frame a transport failed to send on `port` (EAGAIN); ignores a bad port. */
  countDropOut(port: number): void {
    if (port >= 0 && port < this.#numPorts) this.#counters.dropsOut[port]!++;
  }

  /**
   * Zeroes one port's counters.
   *
   * @throws RangeError if the port is out of range
   */
  resetCounters(port: number): void {
    this.#checkPort(port);
    this.#counters.reset(port);
  }

  /**
   * A copy of one port's counters. framesOut counts frames handed to the
   * output; dropsOut counts those the transport then could not send.
   *
   * @throws RangeError if the port is out of range
   */
  portStats(port: number): PortStats {
    this.#checkPort(port);
    return this.#counters.snapshot(port);
  }

  /** A copy of the engine-wide counters. */
  get counters(): EngineCounters {
    const wide = this.#wide;
    const out = {} as EngineCounters;
    for (let i = 0; i < ENGINE_COUNTER_NAMES.length; i++) out[ENGINE_COUNTER_NAMES[i]!] = wide[i]!;
    return out;
  }

  /**
   * Times a learned MAC was seen on another port than it was last seen on (the table moved it, or kept
   * it as too recent to move): one for a host that really moved, climbing fast around a loop. Counted
   * from the start; on a control copy, the forwarding engine's count.
   */
  get macMoves(): number {
    return this.#wide[MAC_MOVES]!;
  }

  // A MAC refreshed on its own port (nearly every frame) returns at the first test.
  #learn(hi: number, lo: number, vlan: number, port: number): void {
    const result = this.macTable.learn(hi, lo, vlan, port, this.#now);
    if (result !== LearnResult.Refreshed) this.#learnedOther(result, hi, lo, vlan, port);
  }

  // New, full, moved or kept: the table's rare branches.
  #learnedOther(result: LearnResult, hi: number, lo: number, vlan: number, port: number): void {
    if (result === LearnResult.Moved || result === LearnResult.Kept) {
      this.#moved(hi, lo, vlan, port, result === LearnResult.Moved);
    }
    const onEvent = this.#onEvent;
    if (onEvent === undefined || result === LearnResult.Kept) return;
    const mac = formatMacNumbers(hi, lo);
    if (result === LearnResult.New) {
      onEvent({
        type: "mac-learned",
        mac,
        vlan,
        port,
        message: `MAC ${mac} VLAN ${vlan} learned on port ${port}`,
      });
    } else if (result === LearnResult.Moved) {
      const from = this.macTable.previousPort;
      onEvent({
        type: "mac-moved",
        mac,
        vlan,
        from,
        to: port,
        message: `MAC ${mac} moved from port ${from} to port ${port}`,
      });
    }
  }

  // Counts a move and, when the MAC keeps moving, says a loop is likely, or, for QEMU's default MAC from a
  // port still up, that two VMs share it: a storm of it is still a loop (a VM's broadcasts circling).
  #moved(hi: number, lo: number, vlan: number, port: number, tableMoved: boolean): void {
    const table = this.macTable;
    const from = table.previousPort;
    const shared = isQemuDefaultMac(hi, lo) && from >= 0 && this.#active[from] === 1;
    const verdict = this.#loops.note(
      hi,
      lo,
      vlan,
      port,
      from,
      table.previousSeen,
      this.#moveAt[0]!,
      tableMoved,
      shared,
    );
    if (verdict === MoveVerdict.Same) return;
    this.#wide[MAC_MOVES]!++;
    const tell = this.onLoopSuspected;
    if (tell === undefined) return;
    const pending = this.#qemuPending;
    if (shared && verdict !== MoveVerdict.Warn) {
      // Two VMs, not a loop: "run with --stp" would send the user the wrong way. Said once it has moved
      // QEMU_SETTLE_SECONDS with nothing storming (`#sayQemuPending`): a loop's storm of it passes the
      // detector's STORM_MOVES some ms after its first move, and said at once, the line for two VMs came
      // before the loop's.
      if (pending[0] === -Infinity && this.#now - this.#qemuWarnedAt >= WARN_INTERVAL_SECONDS) {
        pending[0] = this.#now;
        pending[1] = hi;
        pending[2] = lo;
        pending[3] = vlan;
        pending[4] = from;
        pending[5] = port;
      }
      return;
    }
    if (verdict !== MoveVerdict.Warn) return;
    // A storm of it is a loop, said as one only.
    if (shared) pending[0] = -Infinity;
    const w = this.#loops.suspect;
    const mac = formatMacNumbers(w.hi, w.lo);
    const advice = this.#stp === null ? "loop? run with --stp" : "loop? spanning tree is on: see stp";
    const seen = `MAC ${mac} VLAN ${w.vlan} keeps moving between ports ${w.from} and ${w.to}`;
    tell({
      kind: "loop",
      mac,
      vlan: w.vlan,
      from: w.from,
      to: w.to,
      moves: w.moves,
      seen,
      message: `${seen}: ${advice}`,
    });
  }

  // QEMU's default MAC moved QEMU_SETTLE_SECONDS ago and nothing has stormed since, nor as long before:
  // two VMs share it. A storm then is a loop, whether of this MAC or of others while the detector could not
  // follow this one (its slot held by theirs), said as a loop only; this MAC's next move tries again. The
  // time before counts too: on a data-plane thread's 1 s clock, once the table has moved a storm's MACs
  // to the cables, the detector finds them flapping again only after FLAP_SECONDS windows.
  #sayQemuPending(): void {
    const p = this.#qemuPending;
    if (this.#now - p[0]! < QEMU_SETTLE_SECONDS) return;
    const since = p[0]!;
    p[0] = -Infinity;
    if (this.#loops.lastFlapping >= since - QEMU_SETTLE_SECONDS) return;
    const tell = this.onLoopSuspected;
    if (tell === undefined || this.#now - this.#qemuWarnedAt < WARN_INTERVAL_SECONDS) return;
    this.#qemuWarnedAt = this.#now;
    const mac = formatMacNumbers(p[1]!, p[2]!);
    const [vlan, from, to] = [p[3]!, p[4]!, p[5]!];
    const message = qemuDuplicateMessage(mac, vlan, from, to);
    tell({ kind: "qemu-default-mac", mac, vlan, from, to, moves: 1, seen: message, message });
  }

  // Sends to every active port but the source and those below `firstPort`
  // (1 in hub mode: port 0 never receives there).
  #flood(source: number, frame: Uint8Array, firstPort: number): void {
    this.#wide[FLOODED]!++;
    const list = this.#floodList;
    for (let i = 0; i < list.length; i++) {
      const port = list[i]!;
      if (port === source || port < firstPort || this.#fwd[port] === 0) continue;
      this.#send(port, frame);
    }
  }

  #send(port: number, frame: Uint8Array): void {
    if (this.#watched) this.#watchOutput(port, frame);
    const counters = this.#counters;
    counters.framesOut[port]!++;
    counters.bytesOut[port]! += frame.length;
    try {
      this.#output(port, frame);
    } catch (error) {
      // A transport bug must not stop the other copies of a flood.
      counters.dropsOut[port]!++;
      this.#onEvent?.({
        type: "output-error",
        port,
        error,
        message: `Output to port ${port} failed: ${error}`,
      });
    }
  }

  #flushPort(port: number): void {
    this.macTable.deletePort(port, this.#removedListener("flushed"));
  }

  // Mirror outputs are left out: they receive mirror copies only.
  #rebuildActiveList(): void {
    this.#activeList = portList(this.#active, this.#mirrorOut, this.#numPorts);
    this.#floodList = this.#stp === null
      ? this.#activeList
      : portList(this.#fwd, this.#mirrorOut, this.#numPorts);
  }

  /** Returns true when the frame must go no further (it came from a mirror output). */
  #watchInput(port: number, frame: Uint8Array): boolean {
    const seq = ++this.#seq;
    if (this.#mirrorOut[port] === 1) {
      this.#wide[MIRROR_DROPPED]!++;
      this.#counters.dropsIn[port]!++;
      return true;
    }
    this.#observer?.(port, Direction.In, frame, seq);
    this.#mirror(port, frame, seq);
    return false;
  }

  #watchOutput(port: number, frame: Uint8Array): void {
    this.#observer?.(port, Direction.Out, frame, this.#seq);
    this.#mirror(port, frame, this.#seq);
  }

  #mirror(port: number, frame: Uint8Array, seq: number): void {
    const mirrors = this.#mirrors;
    for (let i = 0; i < mirrors.length; i++) {
      const m = mirrors[i]!;
      if (m.lastSeq === seq || m.out === port || (m.sources !== null && m.sources[port] !== 1)) continue;
      if (this.#active[m.out] === 0) continue;
      m.lastSeq = seq;
      const counters = this.#counters;
      counters.framesOut[m.out]!++;
      counters.bytesOut[m.out]! += frame.length;
      this.#observer?.(m.out, Direction.Out, frame, seq);
      try {
        this.#output(m.out, frame);
      } catch {
        counters.dropsOut[m.out]!++;
      }
    }
  }

  #updateWatched(): void {
    this.#watched = this.#observer !== null || this.#mirrors.length > 0;
  }

  #removedListener(reason: "expired" | "flushed"): RemovedEntry | undefined {
    const onEvent = this.#onEvent;
    if (onEvent === undefined) return undefined;
    return (hi: number, lo: number, vlan: number, port: number) => {
      const mac = formatMacNumbers(hi, lo);
      onEvent({
        type: "mac-removed",
        reason,
        mac,
        vlan,
        port,
        message: `MAC ${mac} VLAN ${vlan} on port ${port} ${reason}`,
      });
    };
  }

  #checkPort(port: number): void {
    if (!Number.isInteger(port) || port < 0 || port >= this.#numPorts) {
      throw new RangeError(`Expected a port from 0 to ${this.#numPorts - 1}, found ${port}`);
    }
  }
}

// The ports whose flag is 1 and `except` flag 0, ascending.
function portList(flags: Uint8Array, except: Uint8Array, numPorts: number): Int32Array {
  let count = 0;
  for (let port = 0; port < numPorts; port++) count += flags[port]! & (except[port]! ^ 1);
  const list = new Int32Array(count);
  let at = 0;
  for (let port = 0; port < numPorts; port++) {
    if (flags[port] === 1 && except[port] === 0) list[at++] = port;
  }
  return list;
}

function resized(flags: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(flags.subarray(0, Math.min(n, flags.length)));
  return out;
}

// Spanning tree port ids hold 12 bits of port number, and 0 is not a port.
function hasStpId(port: number): boolean {
  return port >= 1 && port <= 0xfff;
}

function checkNumPorts(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PORTS) {
    throw new RangeError(`Expected a number of ports from 1 to ${MAX_PORTS}, found ${n}`);
  }
}

function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`Expected ${name} to be a finite number >= 0, found ${value}`);
  }
  return value;
}

/** A copy of `frame` with an 802.1Q tag for `vid` (a BPDU for one of FSTP's trees; a few a second). */
function tagged(frame: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  tagFrameInto(out, frame, vid);
  return out;
}
