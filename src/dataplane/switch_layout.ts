/**
 * What the switch thread (switch_worker.ts) and its owner (switch_thread.ts)
 * share: the start message, the commands, the replies, and the control
 * block's layout (`Int32Array`: commands posted, stop flag, serving flag,
 * warm waits).
 *
 * Commands are postMessages, counted in the control block: the worker runs
 * a synchronous loop and only returns to its event loop (where messages
 * arrive) when it sees more commands posted than it has handled, so a
 * command costs one eventfd write and one event-loop turn of the worker, and
 * forwarding never waits for the main thread.
 */
import type { EngineOptions, LoopWarning, SharedEngineState, VlanDropNote } from "../switch/engine.ts";
import type { SnoopingOptions } from "../switch/mcast_snooping.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { recordSize } from "./frame_ring.ts";

/** Index in the control block: commands the main thread has posted. */
export const CTL_POSTED = 0;
/** Index in the control block: non-zero once the worker must stop. */
export const CTL_STOP = 1;
/**
 * Index in the control block: 0 until the worker reads its first real frame, then 1 (set by the
 * worker, once, after its warm-up and before it takes a command). Until then every command posted
 * is applied before any frame is read, so a console may answer a change without waiting for the
 * worker to take it (SwitchThread.settledSince).
 */
export const CTL_SERVING = 2;
/** Index in the control block: short waits the worker took to stay warm after traffic (switch_worker.ts, KEEP_WARM_MS). */
export const CTL_WARM_WAITS = 3;
/** Int32 slots of the control block. */
export const CTL_SLOTS = 4;
/**
 * A ringOut tag with this bit is a frame seen by the thread's observer
 * (capture), not one to send: `port << 1 | 1 when it left the port`, plus
 * OBSERVED_FRESH on the first copy of a frame the engine handles (its
 * input, or the first copy of a frame the switch sends of its own).
 */
export const OBSERVED = 1 << 30;
/** With OBSERVED: the copy starts a new frame (the capture numbers frames by it). */
export const OBSERVED_FRESH = 1 << 17;
/** A ringOut tag with this bit is a BPDU taken in on port `tag & PORT_MASK`, for the spanning tree machine here. */
export const BPDU = 1 << 29;
/**
 * A ringOut tag with this bit is an IGMP/MLD frame the thread's snooping
 * read, for the copy of the machine here: `SNOOPED | vlan << 16 | port`.
 */
export const SNOOPED = 1 << 28;
/**
 * The ringOut tag of a tick of the thread's snooping machine: the record
 * holds its time (a float64, milliseconds). The copy on the main thread
 * ticks only by these, so it reads the same frames at the same times.
 */
export const SNOOP_TICK = BPDU | SNOOPED;
/**
 * The ringOut tag put where the thread's snooping machine started or stopped our querier (a
 * command), among its ticks and copied frames: the record holds 1 (started) or 0. The copy on the
 * main thread starts it there, on the same clock (McastSnooping.setQuerierLater).
 */
export const SNOOP_QUERIER = SNOOP_TICK | 1;
/**
 * The ringOut tag of a client mark (`{ op: "mark" }`): the record holds the
 * mark's number (a uint32). It sits among the observed frames exactly where
 * the thread applied the command, so a capture on the main thread names a
 * port's frames after the client that was on the port when the engine
 * handled them, not after the one there when the copy is read.
 */
export const CLIENT_MARK = OBSERVED | SNOOPED;
/** A ringIn tag with this bit is a frame to send out of port `tag & PORT_MASK` (a BPDU built here), not input. */
export const SEND = 1 << 30;
/** The port in a BPDU, SNOOPED or SEND tag. */
export const PORT_MASK = 0xffff;

/**
 * Bytes at the end of each ring that frames of links cannot take, kept for
 * control records (BPDUs either way, snooping's copies and ticks): a flood
 * that fills a ring towards a slow main thread must not cost the spanning
 * tree a BPDU (a lost one can open a loop) nor desynchronise the console's
 * snooping copy. 64 KiB holds about 800 BPDU records, far more than a
 * machine sends while the other side is busy for a second.
 */
export const CONTROL_RESERVE = 64 << 10;
/** Room a ring must have for one more record of any size: the record plus a wrap. */
const WORST_RECORD = 2 * recordSize(VDE_MAX_FRAME + 4);
/** Free bytes a ring needs to take a data frame. */
export const DATA_ROOM = WORST_RECORD + CONTROL_RESERVE;
/** Free bytes a ring needs to take a control record. */
export const CONTROL_ROOM = WORST_RECORD;

/** The engine settings a worker can receive (no functions). */
export type WorkerEngineOptions = Omit<EngineOptions, "onEvent" | "onLoopSuspected" | "shared" | "control">;

/** The message that starts the switch thread. */
export interface SwitchStart {
  options: WorkerEngineOptions;
  state: SharedEngineState;
  /** Frames from main-thread links into the engine: tag = input port. */
  ringIn: SharedArrayBuffer;
  /** Frames from the engine to ports that have main-thread links: tag = output port. */
  ringOut: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** Eventfd the main thread writes: a command, frames in ringIn, or stop. */
  wakeFd: number;
  /** Eventfd in the main thread's poller, written when ringOut gets frames while the main thread sleeps. */
  notifyFd: number;
  /**
   * The worker's own epoll set, made by the main thread as the switch starts: a worker that made its own
   * failed to, once clients had spent the descriptors meanwhile, and a switch already serving exited
   * ("its loop could not start"). The worker closes it when its loop ends.
   */
  epollFd: number;
  /** How long the worker keeps warm after a frame, in ms (keep_warm.ts); 0: never. */
  keepWarmMs: number;
  /**
   * An epoll set of the client ports' fds posted before the worker serves (the main thread's; -1 if
   * none): one readable ends the worker's warm-up (switch_warmup.ts), an idle one (a tap not up yet) not.
   */
  pendingInputFd: number;
}

/** An fd port end's kind: one datagram is one frame, or one tap read/write is one frame. */
export type PortFdKind = "dgram" | "tap";

/** A command to the switch thread. */
export type SwitchCommand =
  /** Call an engine method with these (structured-cloneable) arguments. */
  | { op: "call"; method: string; args: unknown[] }
  /** Set an engine property (hub, minPersistenceSeconds, expireSeconds, ...). */
  | { op: "set"; prop: string; value: unknown }
  | { op: "macClear" }
  /** Read and write `fd` as an endpoint of `port`. */
  | { op: "addFd"; port: number; fd: number; kind: PortFdKind }
  /** Stop using `fd`; the worker answers `{ released: fd }`. */
  | { op: "removeFd"; fd: number }
  /** `port` has this many endpoints living on the main thread (its frames go to ringOut). */
  | { op: "remote"; port: number; count: number }
  /** Post engine events (MAC learned, moved, removed) to the main thread, or stop. */
  | { op: "events"; on: boolean }
  /** Copy every frame crossing a port to ringOut (tagged OBSERVED) for a capture, or stop. */
  | { op: "observe"; on: boolean }
  /** Spanning tree runs on the main thread, or stops: relay BPDUs (tagged BPDU), take port states as calls. */
  | { op: "stp"; on: boolean }
  /** Snooping on (a machine made with these settings, its IGMP/MLD frames copied tagged SNOOPED) or off. */
  | { op: "snooping"; settings: { mac: Uint8Array; options: Required<SnoopingOptions> } | null }
  /** Call a method of the snooping machine (setQuerier, setRouter, setOption, setFastLeave) with these arguments. */
  | { op: "snoop"; method: "setQuerier" | "setRouter" | "setOption" | "setFastLeave"; args: unknown[] }
  /** Put CLIENT_MARK `mark` into ringOut, in frame order: a port's clients changed here. */
  | { op: "mark"; mark: number }
  /** Answer `{ applied }`: every command posted before this one has been applied. */
  | { op: "sync" };

/**
 * A command as the main thread posts it. `fence` is ringIn's write position
 * at posting: the thread handles the frames put before it, then the
 * command, then the frames put after it (a frame sent right after a capture
 * starts is captured; one sent right after a port leaves a VLAN is not
 * flooded to it).
 */
export interface PostedCommand {
  cmd: SwitchCommand;
  fence: number;
}

/** What the switch thread posts back. */
export type SwitchReply =
  | { released: number }
  /** The answer to a "sync": how many commands the thread has applied, that one included. */
  | { applied: number }
  /** Reading `fd` failed (`errno`, 0 for end of file): it is out of the epoll set. */
  | { failed: number; errno: number }
  | { event: unknown }
  /** The engine's loop warning (a MAC keeps moving between ports), at most once a minute. */
  | { loop: LoopWarning }
  /** A port's first oversize frame since it came up (the engine's `onOversize`). */
  | { oversize: { port: number; length: number } }
  /** A port's first frame shorter than an Ethernet header since it came up (the engine's `onShort`). */
  | { short: { port: number; length: number } }
  /** A port's first frame dropped for a VLAN it does not carry, or a count of later ones (`onVlanDropped`). */
  | { vlanDropped: VlanDropNote }
  /** Warm-up (switch_warmup.ts) is over after `warmed` ms (0: skipped): only real frames from now on. */
  | { warmed: number }
  /**
   * The loop ended: asked (the stop flag), or not (`error`: it threw, after which it uses no fd), or it
   * could not start; it uses no fd or buffer from here on.
   */
  | { stopped: true; error?: string };
