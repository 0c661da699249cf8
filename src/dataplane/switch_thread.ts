/**
 * The switch thread seen from the main thread: starts the worker
 * (switch_worker.ts), sends it commands, lends it port fds, and moves the
 * frames of main-thread links across two FrameRings.
 *
 * Theory of operation: a command is a postMessage plus a count in the
 * shared control block and a write to the worker's wake eventfd (the worker
 * takes messages only when its loop sees the count ahead of what it has
 * handled). Frames from a main-thread link go into ringIn tagged with their
 * port and are published at once; the worker is woken only when it had
 * declared itself asleep. Each command carries ringIn's write position (its
 * fence), so frames and commands take effect in the order they were made. Frames for main-thread links come out of ringOut
 * from a handler on an eventfd in the shared poller, at most DELIVER_BUDGET
 * per poller round, copied out of shared memory before a link sees them.
 *
 * Data cannot take the last CONTROL_RESERVE bytes of either ring, control
 * records can: a flood that fills a ring still lets the BPDUs and the
 * snooping copies through (switch_layout.ts).
 *
 * Flow control into ringIn: a main-thread link that can hold its output
 * back (a slirp's TCP) is given an `inlet()`, a FlowPeer that reads as
 * congested once less than a quarter of ringIn is free, long before data
 * would be dropped. The worker does not say when it consumes, so while
 * some source waits, and only then, a 1 ms interval (and every ringOut
 * wake-up, which happens anyway) looks at the free space; once half the
 * ring is free each waiting source's `onDrain` runs once. A source that
 * cannot wait (a cable) keeps today's behaviour: counted in `ringDrops`
 * when full. Such a source can also refill what the worker takes as fast
 * as it takes it, keeping the ring between a quarter and half free at
 * every look: so a waiting source also resumes once the worker has taken
 * a quarter of the ring since it began to wait, if the ring is not
 * congested then.
 *
 * Spanning tree's machine runs on this thread, in the control copy of the
 * engine: the BPDUs the worker relays come out of ringOut tagged BPDU, and
 * the machine's own go into ringIn tagged SEND; its port states and flushes
 * are engine calls, mirrored like any other. Snooping runs on the worker;
 * the control copy's machine reads the IGMP/MLD frames the worker's read
 * (tagged SNOOPED) and ticks when it ticks (SNOOP_TICK), so the console
 * lists the same table, and each console change to it is sent on. Our
 * querier's start counts from the clock, which the copy learns later than
 * the thread's machine has it: the copy starts it where the thread's
 * machine did (SNOOP_QUERIER), so `mcast/print` says it is active when the
 * thread forwards by it.
 *
 * Shutdown order (`stop`): the stop flag, a wake; the worker closes its
 * epoll set and posts "stopped"; then every fd it had is released (their
 * links may close them), the eventfds are closed and the worker is
 * terminated. A port fd removed earlier is released as soon as the worker
 * answers its `removeFd`. A worker that does not answer its stop within
 * the bound is terminated and releases nothing: it may still be inside a
 * system call on any of them (see WorkerHandle).
 *
 * A worker that ends unasked (its load failed, its loop could not start or
 * threw, at once or long after it warmed) sets `failure` and resolves
 * `ended` with it, once, for its owner to say; one whose loop said so
 * ("stopped"), or that died of an uncaught error (which ends a Deno
 * worker), uses no fd any longer, so what it was lent is released, and
 * `settled`, `removeFd` and `stop` answer at once rather than wait for it.
 */
import { C, check, direct, EPOLL_EVENT_SIZE, libc } from "../../ffi/libc.ts";
import { poller } from "../io/poller.ts";
import type { LoopWarning, SharedEngineState, SwitchEngine, VlanDropNote } from "../switch/engine.ts";
import type { McastSnooping } from "../switch/mcast_snooping.ts";
import type { RstpOptions } from "../switch/rstp.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { copyOutOfRing, FrameRing } from "./frame_ring.ts";
import {
  BPDU,
  CLIENT_MARK,
  CONTROL_ROOM,
  CTL_POSTED,
  CTL_SERVING,
  CTL_SLOTS,
  CTL_STOP,
  CTL_WARM_WAITS,
  DATA_ROOM,
  OBSERVED,
  OBSERVED_FRESH,
  PORT_MASK,
  type PortFdKind,
  type PostedCommand,
  SEND,
  SNOOP_QUERIER,
  SNOOP_TICK,
  SNOOPED,
  type SwitchCommand,
  type SwitchReply,
  type SwitchStart,
  type WorkerEngineOptions,
} from "./switch_layout.ts";
import { keepWarmMs } from "./keep_warm.ts";
import { WorkerHandle } from "./worker_handle.ts";
import { log } from "../log.ts";
import type { FlowPeer } from "../link/link.ts";

/** Bytes of each ring: about 2,800 full-size frames or 60,000 small ones, a burst either way. */
export const SWITCH_RING_BYTES = 4 << 20;
/** Below this much free space in ringIn, an inlet reads as congested: a quarter, far above the control reserve. */
const INLET_CONGESTED_BYTES = SWITCH_RING_BYTES / 4;
/** Waiting sources resume once this much of ringIn is free: room for a burst, not a frame at a time. */
const INLET_DRAINED_BYTES = SWITCH_RING_BYTES / 2;
/**
 * What the worker must have taken from ringIn since the sources began to wait for them to resume
 * short of INLET_DRAINED_BYTES free (if the ring is not congested): a ring that moves but that a
 * source that cannot wait keeps refilling.
 */
const INLET_PROGRESS_BYTES = SWITCH_RING_BYTES / 4;
/** How often ringIn's free space is looked at while some source waits on it. */
const INLET_POLL_MS = 1;
/** Frames delivered per poller round before other fds get their turn. */
const DELIVER_BUDGET = 1024;
/** How long `stop()` waits for the worker before terminating it. */
const STOP_TIMEOUT_MS = 2000;
/**
 * How long `settled()` waits for the worker's acknowledgement. Generous: a thread that is still
 * starting (loading its module on a loaded machine) answers late but answers; past this it is
 * wedged, and a console that stopped answering would hide that.
 */
const SETTLE_TIMEOUT_MS = 10_000;

/** What the switch thread reports to its owner. */
export interface SwitchThreadSink {
  /** A frame for the main-thread links of `port`, borrowed: valid during the call only. */
  frame(port: number, frame: Uint8Array): void;
  /** Reading port fd `fd` failed (errno 0: end of file); the worker no longer uses it. */
  failed(fd: number, errno: number): void;
  /** An engine event (MAC learned, moved, removed) while events are on. */
  event(event: unknown): void;
  /** A client mark the thread put among the frames (`mark`), in frame order. */
  mark?(mark: number): void;
  /** The thread's engine suspects a loop (`onLoopSuspected`). */
  loop?(warning: LoopWarning): void;
  /** The thread's engine dropped a port's first oversize frame since it came up (`onOversize`). */
  oversize?(port: number, length: number): void;
  /** The thread's engine dropped a port's first runt since it came up (`onShort`). */
  short?(port: number, length: number): void;
  /** The thread's engine dropped frames for a VLAN their port does not carry (`onVlanDropped`). */
  vlanDropped?(note: VlanDropNote): void;
  /**
   * A frame the thread's observer saw cross `port` (`out`: leaving it), borrowed, in the order seen;
   * `fresh` for the first copy of each frame the engine handles.
   */
  observed(port: number, out: boolean, fresh: boolean, frame: Uint8Array): void;
  /** A BPDU the thread took in on `port`, borrowed, for the spanning tree machine. */
  bpdu(port: number, frame: Uint8Array): void;
  /** An IGMP/MLD frame the thread's snooping read from `port` on `vlan`, borrowed. */
  snooped(port: number, vlan: number, frame: Uint8Array): void;
  /**
   * The thread's snooping machine ticked at `nowMs` (after the frames it read before), our querier
   * running there or not (`querier`): a `snoopQuerier` lost to a full ring is made good here.
   */
  snoopTick(nowMs: number, querier: boolean): void;
  /** The thread's snooping machine started (`on`) or stopped our querier here, among its ticks and frames. */
  snoopQuerier?(on: boolean): void;
}

/** The data-plane thread of one switch. */
export class SwitchThread {
  readonly #thread: WorkerHandle;
  readonly #control = new Int32Array(new SharedArrayBuffer(CTL_SLOTS * 4));
  readonly #ringIn = FrameRing.create(SWITCH_RING_BYTES);
  readonly #ringOut = FrameRing.create(SWITCH_RING_BYTES);
  readonly #notifyFd: number;
  /** SwitchStart.pendingInputFd, until the worker's warm-up is over (`warmed`, or its stop). */
  #pendingInputFd: number;
  readonly #pendingEvent = new Uint8Array(EPOLL_EVENT_SIZE);
  readonly #sink: SwitchThreadSink;
  readonly #eight = new Uint8Array(8);
  readonly #scratch = new Uint8Array(VDE_MAX_FRAME);
  readonly #deliver = (tag: number, frame: Uint8Array) => {
    const copy = copyOutOfRing(this.#scratch, frame);
    if (copy === null) return;
    if ((tag & (OBSERVED | BPDU | SNOOPED)) === 0) this.#sink.frame(tag, copy);
    else if ((tag & CLIENT_MARK) === CLIENT_MARK) {
      if (copy.length >= 4) {
        this.#sink.mark?.(new DataView(copy.buffer, copy.byteOffset, 4).getUint32(0, true));
      }
    } else if ((tag & OBSERVED) !== 0) {
      this.#sink.observed((tag >> 1) & PORT_MASK, (tag & 1) === 1, (tag & OBSERVED_FRESH) !== 0, copy);
    } else if ((tag & SNOOP_TICK) === SNOOP_TICK) {
      if ((tag & PORT_MASK) === (SNOOP_QUERIER & PORT_MASK)) this.#sink.snoopQuerier?.(copy[0] === 1);
      else if (copy.length >= 9) {
        this.#sink.snoopTick(new Float64Array(copy.slice(0, 8).buffer)[0]!, copy[8] === 1);
      }
    } else if ((tag & BPDU) !== 0) this.#sink.bpdu(tag & PORT_MASK, copy);
    else this.#sink.snooped(tag & PORT_MASK, (tag >> 16) & 0xfff, copy);
  };
  /** fds lent to the worker, resolved when it lets go of each. */
  readonly #lent = new Map<number, () => void>();
  #stopping: Promise<void> | null = null;
  #stopped = false;
  readonly #warmed = Promise.withResolvers<number | null>();
  /** Resolves once the worker's warm-up is over, with its duration in ms; null when it stopped or failed first. */
  readonly warmed: Promise<number | null> = this.#warmed.promise;
  /** Why the worker ended unasked (it failed to load or threw, or its loop could not start); null while it runs. */
  failure: string | null = null;
  readonly #ended = Promise.withResolvers<string>();
  /**
   * Resolves with `failure` once the worker ends unasked, at start or long after it warmed (its loop
   * threw): the switch forwards nothing from then on, and its owner says so when it happens rather than
   * when a later change trips on it. Never resolves for a thread that is stopped.
   */
  readonly ended: Promise<string> = this.#ended.promise;
  /** The worker ended unasked (it said "stopped", or died of an error): it uses no fd now, so what it was lent is free. */
  #loopEnded = false;
  /** How long warm-up took, in ms; null while it runs. */
  warmedMs: number | null = null;
  /** Frames from main-thread links dropped because ringIn was full. */
  ringDrops = 0;
  /** Inlets that read as congested and wait for their `onDrain`. */
  readonly #waiting = new Set<FlowPeer>();
  /** Looks at ringIn's free space while `#waiting` is not empty. */
  #inletTimer: ReturnType<typeof setInterval> | undefined;
  /** ringIn's read position when `#waiting` last became non-empty. */
  #waitedFrom = 0;
  /** Whether the worker has taken INLET_PROGRESS_BYTES since (kept: the position wraps). */
  #waitMoved = false;
  /** Mirrored calls under way (`changing`), and the control frames they sent, put after their commands. */
  #within = 0;
  #early: { port: number; frame: Uint8Array }[] = [];
  /** Commands posted, as counted in the control block (only this thread adds); the worker counts the ones it applies the same way. */
  get #posted(): number {
    return Atomics.load(this.#control, CTL_POSTED);
  }
  /** Commands the worker said it had applied (its last `sync` answer). */
  #applied = 0;
  /** The posted count the last `sync` covers, itself included. */
  #syncUpTo = 0;
  /** Callers of `settled()`, each until the worker has applied `upTo` commands. */
  #settling: { upTo: number; done: () => void }[] = [];

  /** `file`: the worker's code (tests give a stand-in). */
  constructor(
    options: WorkerEngineOptions,
    state: SharedEngineState,
    sink: SwitchThreadSink,
    file = new URL("./switch_worker.ts", import.meta.url),
  ) {
    this.#sink = sink;
    const c = libc();
    this.#notifyFd = check("eventfd", c.eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK));
    poller().add(this.#notifyFd, { onReadable: () => this.#onNotify() });
    this.#pendingInputFd = c.epoll_create1(C.EPOLL_CLOEXEC);
    const epollFd = check("epoll_create1", c.epoll_create1(C.EPOLL_CLOEXEC));
    new DataView(this.#pendingEvent.buffer).setUint32(0, C.EPOLLIN, true);
    const thread = this.#thread = new WorkerHandle("switch_worker", file);
    thread.worker.onmessage = (e: MessageEvent<SwitchReply>) => this.#onReply(e.data);
    thread.worker.onerror = (e) => {
      e.preventDefault();
      // Unasked, its owner says it (`ended`), naming the switch; while stopping, nobody waits for it.
      // An uncaught error ends a Deno worker: it runs nothing more, as one whose loop said it ended.
      if (this.#stopping === null) this.#endedUnasked(e.message);
      else log("vde switch", `data-plane thread failed while stopping: ${e.message}`);
      this.#warmed.resolve(null);
    };
    const start: SwitchStart = {
      options,
      state,
      ringIn: this.#ringIn.sab,
      ringOut: this.#ringOut.sab,
      control: this.#control.buffer as SharedArrayBuffer,
      wakeFd: thread.wakeFd,
      notifyFd: this.#notifyFd,
      epollFd,
      keepWarmMs: keepWarmMs(),
      pendingInputFd: this.#pendingInputFd,
    };
    thread.worker.postMessage(start);
  }

  /** The worker's warm-up is over, or its loop ended: nothing reads the set any more. */
  #closePendingInput(): void {
    if (this.#pendingInputFd >= 0) libc().close(this.#pendingInputFd);
    this.#pendingInputFd = -1;
  }

  /** Sends one command; commands are applied in order. */
  command(cmd: SwitchCommand): void {
    if (this.#stopping !== null) return;
    const posted: PostedCommand = { cmd, fence: this.#ringIn.writePosition };
    this.#thread.worker.postMessage(posted);
    // A port's fd before the worker serves: input on it ends a warm-up still running, and is served.
    if (cmd.op === "addFd" && this.#pendingInputFd >= 0 && Atomics.load(this.#control, CTL_SERVING) === 0) {
      libc().epoll_ctl(this.#pendingInputFd, C.EPOLL_CTL_ADD, cmd.fd, this.#pendingEvent);
    }
    Atomics.add(this.#control, CTL_POSTED, 1);
    this.#thread.wake();
  }

  /**
   * Resolves once the worker has applied every command posted so far, so
   * what is read next of the shared memory (counters a reset zeroed, a
   * port a command set up) reflects them: a console replies after this
   * (`settledSince`, which also knows when it need not wait), as
   * vde_switch's single thread replies after the change. At once when
   * nothing is pending; one `sync` covers every caller meanwhile. Bounded
   * by SETTLE_TIMEOUT_MS, after which it resolves anyway (logged).
   */
  settled(): Promise<void> {
    return this.#settledAfter(0);
  }

  /** Short waits the worker has taken to stay warm after traffic (switch_worker.ts): they stop once it is idle. */
  get warmWaits(): number {
    return Atomics.load(this.#control, CTL_WARM_WAITS);
  }

  /** Commands posted so far: a mark for `settledSince`. */
  get posted(): number {
    return this.#posted;
  }

  /**
   * For a console command: at once when nothing was posted since `mark` (`posted` read earlier), or
   * while the worker has read no real frame yet (CTL_SERVING); as `settled` otherwise. The worker
   * takes its first command only after its warm-up (a second or more on a loaded machine), so a
   * just-started switch's first command, `port/print` or `vlan/create`, answers before a vde2
   * script's `unixcmd` gives up (1 s). A change answered so is already in effect for every frame
   * sent after the answer: the worker applies all the commands posted before it reads its first
   * frame, whether from a port's fd or ringIn (commands before frames, each turn), and the shared
   * memory a reply may read (MAC table, counters) is still as the switch started: warm-up forwards
   * on a twin engine's. The flag is read after the command was counted (`command`) and the worker
   * stores it before it reads the count, so a 0 read here means the worker will see that command.
   * Chosen over a warm-up that yields to commands: the reply needs nothing of the worker then, and
   * the warm-up keeps every round, so the first frames are still forwarded by optimized code.
   */
  settledSince(mark: number): Promise<void> {
    if (this.#posted <= mark || Atomics.load(this.#control, CTL_SERVING) === 0) return Promise.resolve();
    return this.#settledAfter(mark);
  }

  #settledAfter(mark: number): Promise<void> {
    if (this.#posted <= mark) return Promise.resolve();
    // A thread that ended applies nothing more: a console must not wait out the bound for it.
    if (this.#stopping !== null || this.failure !== null || this.#applied >= this.#posted) {
      return Promise.resolve();
    }
    if (this.#syncUpTo < this.#posted) {
      this.command({ op: "sync" });
      this.#syncUpTo = this.#posted;
    }
    const upTo = this.#syncUpTo;
    return new Promise((resolve) => {
      const waiter = {
        upTo,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#settling = this.#settling.filter((w) => w !== waiter);
        log("vde switch", `data-plane thread did not apply a command within ${SETTLE_TIMEOUT_MS} ms`);
        resolve();
      }, SETTLE_TIMEOUT_MS);
      this.#settling.push(waiter);
    });
  }

  #settle(applied: number): void {
    this.#applied = Math.max(this.#applied, applied);
    const waiting = this.#settling;
    this.#settling = waiting.filter((w) => w.upTo > this.#applied);
    for (const w of waiting) if (w.upTo <= this.#applied) w.done();
  }

  /** Has the worker read and write `fd` as an endpoint of `port`. */
  addFd(port: number, fd: number, kind: PortFdKind): void {
    this.command({ op: "addFd", port, fd, kind });
  }

  /**
   * Takes `fd` back; resolves once the worker no longer uses it (the caller
   * may then close it): never when the worker is stopping and does not answer.
   */
  removeFd(fd: number): Promise<void> {
    if (this.#stopping !== null) return this.#thread.released;
    if (this.#loopEnded) return Promise.resolve();
    const released = new Promise<void>((resolve) => this.#lent.set(fd, resolve));
    this.command({ op: "removeFd", fd });
    return released;
  }

  /**
   * Hands a frame from a main-thread link on `port` to the engine; drops it
   * when the ring is full but for its control reserve.
   */
  input(port: number, frame: Uint8Array): void {
    this.#put(port, frame, DATA_ROOM);
  }

  /**
   * Sends a frame built here (a BPDU) out of `port` through the thread: it
   * may take the ring's control reserve, so a flood from main-thread links
   * does not keep it out.
   */
  send(port: number, frame: Uint8Array): void {
    if (this.#within > 0) this.#early.push({ port, frame: frame.slice() });
    else this.#put(SEND | port, frame, CONTROL_ROOM);
  }

  /**
   * Runs `change` (an engine call applied here) and then posts its command,
   * and puts the frames the machine sent during the call after that command:
   * a port's activation makes spanning tree send on it at once, and those
   * BPDUs, ahead of the command in ringIn, reached a thread copy on which the
   * port was not active yet and were lost (`stp` counted them, the port did
   * not). Only control frames are held, never a link's data.
   */
  changing<T>(change: () => T, cmd: SwitchCommand): T {
    this.#within++;
    try {
      const result = change();
      this.command(cmd);
      return result;
    } finally {
      if (--this.#within === 0 && this.#early.length > 0) {
        const early = this.#early;
        this.#early = [];
        for (const { port, frame } of early) this.#put(SEND | port, frame, CONTROL_ROOM);
      }
    }
  }

  /**
   * The way into ringIn for one main-thread link that can hold its output
   * back (`link.feeds(thread.inlet())`): congested while ringIn is mostly
   * full; its `onDrain`, set by the link, runs once there is room again.
   */
  inlet(): FlowPeer {
    const congested = (inlet: FlowPeer) => this.#inletCongested(inlet);
    const inlet: FlowPeer = {
      onDrain: null,
      get congested(): boolean {
        return congested(inlet);
      },
    };
    return inlet;
  }

  #inletCongested(inlet: FlowPeer): boolean {
    if (this.#stopping !== null || this.#ringIn.free() >= INLET_CONGESTED_BYTES) return false;
    this.#waiting.add(inlet);
    if (this.#inletTimer === undefined) {
      this.#waitedFrom = this.#ringIn.readPosition;
      this.#waitMoved = false;
      const timer = setInterval(() => this.#checkRoom(), INLET_POLL_MS);
      // A waiting source must not keep a process alive that has nothing else to do.
      Deno.unrefTimer(timer);
      this.#inletTimer = timer;
    }
    return true;
  }

  #checkRoom(): void {
    const ring = this.#ringIn;
    const free = ring.free();
    this.#waitMoved ||= ((ring.readPosition - this.#waitedFrom) | 0) >= INLET_PROGRESS_BYTES;
    if (
      this.#stopping === null && free < INLET_DRAINED_BYTES &&
      !(this.#waitMoved && free >= INLET_CONGESTED_BYTES)
    ) {
      return;
    }
    const waiting = this.#forgetWaiting();
    if (this.#stopping !== null) return;
    for (const inlet of waiting) inlet.onDrain?.();
  }

  /** Stops looking at the ring for waiting sources; returns who waited. */
  #forgetWaiting(): FlowPeer[] {
    clearInterval(this.#inletTimer);
    this.#inletTimer = undefined;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    return waiting;
  }

  #put(tag: number, frame: Uint8Array, room: number): void {
    const ring = this.#ringIn;
    if (this.#stopping !== null || frame.length > VDE_MAX_FRAME || ring.free() < room) {
      this.ringDrops++;
      return;
    }
    if (ring.publish(ring.putTagged(tag, frame, ring.writePosition))) this.#thread.wake();
  }

  #onNotify(): void {
    direct.read(this.#notifyFd, this.#eight, 8);
    if (this.#stopped) return;
    if (this.#waiting.size > 0) this.#checkRoom();
    const n = this.#ringOut.drainTagged(this.#deliver, DELIVER_BUDGET);
    if (n === DELIVER_BUDGET || !this.#ringOut.sleep()) {
      // More waits: come back next round, after the other fds.
      this.#eight[0] = 1;
      direct.write(this.#notifyFd, this.#eight, 8);
    }
  }

  #onReply(reply: SwitchReply): void {
    if ("applied" in reply) {
      this.#settle(reply.applied);
    } else if ("released" in reply) {
      this.#lent.get(reply.released)?.();
      this.#lent.delete(reply.released);
    } else if ("failed" in reply) {
      this.#sink.failed(reply.failed, reply.errno);
    } else if ("event" in reply) {
      this.#sink.event(reply.event);
    } else if ("loop" in reply) {
      this.#sink.loop?.(reply.loop);
    } else if ("oversize" in reply) {
      this.#sink.oversize?.(reply.oversize.port, reply.oversize.length);
    } else if ("short" in reply) {
      this.#sink.short?.(reply.short.port, reply.short.length);
    } else if ("vlanDropped" in reply) {
      this.#sink.vlanDropped?.(reply.vlanDropped);
    } else if ("warmed" in reply) {
      this.warmedMs = reply.warmed;
      this.#closePendingInput();
      this.#warmed.resolve(reply.warmed);
    } else if ("stopped" in reply) {
      // Ended unasked: its loop could not start (it never warms, and bring-up waits on `warmed`), or threw.
      this.#endedUnasked(
        reply.error ?? (this.warmedMs === null ? "its loop could not start" : "its loop ended"),
      );
    }
  }

  /** The worker ended unasked, for `why`: it uses no fd now, so what it was lent is free, and it applies nothing more. */
  #endedUnasked(why: string): void {
    this.#loopEnded = true;
    for (const release of this.#lent.values()) release();
    this.#lent.clear();
    this.#settle(Infinity);
    this.#fail(why);
    this.#warmed.resolve(null);
  }

  /** The worker ended unasked, for `why`: said once, with the first reason to come. */
  #fail(why: string): void {
    if (this.failure !== null) return;
    // One line wherever it is said (a log, a status, a refused client): a worker's error may hold a stack.
    this.failure = why.replace(/\s+/g, " ").trim();
    this.#ended.resolve(this.failure);
  }

  /**
   * Stops the worker; resolves once it answered (it no longer uses any fd or
   * buffer), or was terminated for not answering (its fds stay lent).
   */
  stop(): Promise<void> {
    if (this.#stopping === null) {
      this.#stopping = this.#stop();
      // After the assignment: #stop runs up to its first await before it, and a waiting source told to
      // resume now would fill a ring that is being stopped.
      this.#forgetWaiting();
    }
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      // Its loop ended already, and said so: it has nothing more to say, nor any fd in use.
      if (this.#loopEnded) resolve();
      this.#thread.worker.onmessage = (e: MessageEvent<SwitchReply>) => {
        if (!("stopped" in e.data)) return this.#onReply(e.data);
        resolve();
      };
    });
    Atomics.store(this.#control, CTL_STOP, 1);
    const answered = await this.#thread.stop(stopped, STOP_TIMEOUT_MS);
    this.#stopped = true;
    this.#warmed.resolve(null);
    poller().remove(this.#notifyFd);
    // Left open when the worker did not answer, as every fd lent to it: it may still be in a
    // system call on any of them (see WorkerHandle).
    if (answered) {
      libc().close(this.#notifyFd);
      this.#closePendingInput();
      for (const release of this.#lent.values()) release();
    }
    this.#lent.clear();
    this.#settle(Infinity);
  }
}

/** Engine methods that change configuration or counters: applied here, then on the thread's copy. */
const MIRRORED_METHODS = [
  "setNumPorts",
  "activatePort",
  "deactivatePort",
  "setPortVlan",
  "createVlan",
  "removeVlan",
  "addVlanPort",
  "delVlanPort",
  "resetPortVlans",
  "addMirror",
  "delMirror",
  "resetCounters",
  "countDropOut",
  "setStpPortState",
  "flushStpPort",
  "flushMacs",
] as const;

/** Engine settings the thread's copy takes as they are set here. */
const MIRRORED_PROPERTIES = [
  "hub",
  "minPersistenceSeconds",
  "expireSeconds",
  "gcIntervalSeconds",
  "maxFrame",
];

/**
 * Makes `engine` (the main thread's control copy) send each change to the
 * thread's copy after applying it: a call that throws (bad input) is not
 * sent, so both copies see the same accepted changes in the same order.
 * A frame observer (capture) is set on both: the thread's copies come back
 * through ringOut. Spanning tree's machine stays here (the thread relays);
 * snooping is turned on there too, and the console's changes to it follow.
 */
export function mirrorEngine(engine: SwitchEngine, thread: SwitchThread): void {
  const target = engine as unknown as Record<string, unknown>;
  for (const method of MIRRORED_METHODS) {
    const own = engine[method] as (...args: unknown[]) => unknown;
    target[method] = (...args: unknown[]) =>
      thread.changing(() => own.apply(engine, args), { op: "call", method, args });
  }
  for (const prop of MIRRORED_PROPERTIES) mirrorProperty(engine, prop, thread);
  const clear = engine.macTable.clear;
  engine.macTable.clear = () => {
    clear.call(engine.macTable);
    thread.command({ op: "macClear" });
  };
  const proto = Object.getPrototypeOf(engine);
  const onEvent = Object.getOwnPropertyDescriptor(proto, "onEvent")!;
  Object.defineProperty(engine, "onEvent", {
    get: () => onEvent.get!.call(engine),
    set: (listener: unknown) => {
      onEvent.set!.call(engine, listener);
      thread.command({ op: "events", on: listener !== undefined });
    },
  });
  const enableStp = engine.enableStp;
  target.enableStp = (options: RstpOptions) => {
    if (engine.stp !== null) return engine.stp;
    // The thread discards first: the port states the machine sets as it starts come after.
    thread.command({ op: "stp", on: true });
    try {
      return enableStp.call(engine, options);
    } catch (error) {
      thread.command({ op: "stp", on: false });
      throw error;
    }
  };
  const disableStp = engine.disableStp;
  target.disableStp = () => {
    if (engine.stp === null) return;
    disableStp.call(engine);
    thread.command({ op: "stp", on: false });
  };
  mirrorSnooping(engine, thread);
  const observer = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(engine), "observer")!;
  Object.defineProperty(engine, "observer", {
    get: () => observer.get!.call(engine),
    set: (next: unknown) => {
      const was = observer.get!.call(engine) !== null;
      observer.set!.call(engine, next);
      if (was !== (next !== null)) thread.command({ op: "observe", on: next !== null });
    },
  });
}

function mirrorProperty(engine: SwitchEngine, prop: string, thread: SwitchThread): void {
  const proto = Object.getPrototypeOf(engine);
  const accessor = Object.getOwnPropertyDescriptor(proto, prop);
  let value = (engine as unknown as Record<string, unknown>)[prop];
  Object.defineProperty(engine, prop, {
    get: () => accessor?.get ? accessor.get.call(engine) : value,
    set: (next: unknown) => {
      if (accessor?.set) accessor.set.call(engine, next);
      else value = next;
      thread.command({ op: "set", prop, value: next });
    },
  });
}

/** Snooping on or off goes to the thread, and so does each change the console makes to the machine. */
function mirrorSnooping(engine: SwitchEngine, thread: SwitchThread): void {
  const accessor = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(engine), "snooping")!;
  const wrapped = new WeakSet<McastSnooping>();
  Object.defineProperty(engine, "snooping", {
    get: () => accessor.get!.call(engine),
    set: (next: McastSnooping | null) => {
      accessor.set!.call(engine, next);
      if (next !== null && !wrapped.has(next)) {
        wrapped.add(next);
        for (const method of ["setQuerier", "setRouter", "setOption", "setFastLeave"] as const) {
          // Our querier starts here where it started there, on that machine's clock (`snoopQuerier`).
          const own = (method === "setQuerier" ? next.setQuerierLater : next[method]) as (
            ...args: unknown[]
          ) => void;
          (next as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
            own.apply(next, args);
            thread.command({ op: "snoop", method, args });
          };
        }
      }
      thread.command({ op: "snooping", settings: next?.settings ?? null });
      if (next === null) return;
      // What was set on the machine before it was handed over. Our querier was started here on this
      // copy's clock, not yet the thread's: it starts again where the thread's machine starts it.
      if (next.querier) {
        next.querierStarted(false);
        thread.command({ op: "snoop", method: "setQuerier", args: [true] });
      }
      for (const r of next.routers()) {
        if (r.expiresIn === null) thread.command({ op: "snoop", method: "setRouter", args: [r.port, true] });
      }
      for (const port of next.fastLeavePorts()) {
        thread.command({ op: "snoop", method: "setFastLeave", args: [port, true] });
      }
    },
  });
}
