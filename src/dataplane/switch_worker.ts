/**
 * The switch thread's body (a Deno Worker): `vde switch`'s data plane.
 *
 * Theory of operation: the worker owns an epoll set holding every fd port
 * (the connected datagram socket of each vde client, each `--tap`) and a
 * wake eventfd, and blocks in a synchronous `epoll_wait`: one wake-up per
 * burst, on this thread only (for 150 ms after a frame the wait times out
 * every millisecond, to keep the thread warm: KEEP_WARM_MS). It drains a
 * ready socket with `recvmmsg` (a tap with `read` until EAGAIN), hands each
 * frame to its own SwitchEngine, and the engine's output writes a tap at
 * once and stages a copy for a socket; after each received batch every
 * socket's share leaves with one `sendmmsg`. What a full socket peer does not take is held for it (up to
 * HOLD_FRAMES, in order, sent when EPOLLOUT says it has room), as
 * vde_switch's packet queue holds it; beyond that it is dropped and
 * counted, as a full tap's is at once. A frame between two fd ports never
 * reaches the main thread. These calls go through ffi/libc.ts's `direct`
 * (libc's `syscall`, the wait as epoll_pwait): glibc's wrappers are
 * cancellation points, two atomic updates each in a multi-threaded process.
 *
 * The engine here is the writer of the MAC table and port counters, which
 * live in SharedArrayBuffers the main thread reads (its control copy of the
 * engine lists them without stopping forwarding). Configuration arrives as
 * commands in order (switch_layout.ts); the main thread validated and applied
 * each on its copy first, so this copy stays the same.
 *
 * Links that live on the main thread (cables, slirp, streams, captures)
 * cross in two FrameRings: ringIn (main to here, tag = input port) is
 * drained before each wait; frames the engine sends to a port with such a
 * link go to ringOut (tag = output port), and the main thread is woken
 * once per burst. A full ringOut drops and counts (the main thread is
 * behind; this thread must not wait for it); its last CONTROL_RESERVE
 * bytes are kept for the BPDUs and snooping copies, so a flood towards the
 * main thread cannot crowd them out.
 *
 * Spanning tree runs on the main thread (its console reads and sets the
 * machine): with it on, this engine relays each BPDU it takes in to ringOut
 * (tag BPDU) and forwards, learns and drops by the port states and flushes
 * the machine sends back as commands; the BPDUs the machine sends come in
 * ringIn tagged SEND. Snooping runs here, where every multicast frame
 * passes: route decisions and the querier's queries are this engine's; each
 * IGMP/MLD frame it reads, and each tick, is copied to ringOut (tags
 * SNOOPED, SNOOP_TICK) so a copy of the machine on the main thread, which
 * the console lists, reads the same frames at the same times; where a
 * command starts or stops our querier, so does the copy (SNOOP_QUERIER).
 *
 * Shutdown: the stop flag plus a wake; the loop ends, the epoll set is
 * closed, and "stopped" is posted. Port fds belong to their links on the
 * main thread, which close them only after this thread released them (a
 * `removeFd` answer, or "stopped"): no system call here outlives its fd.
 */
import { addressOf, C, direct, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, errno, libc } from "../../ffi/libc.ts";
import { RecvArena } from "../io/mmsg.ts";
import { SendBatcher } from "../io/unix_dgram.ts";
import {
  Direction,
  type FrameObserver,
  type SharedEngineState,
  sharedEngineState,
  SwitchEngine,
} from "../switch/engine.ts";
import { McastSnooping } from "../switch/mcast_snooping.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { FrameRing } from "./frame_ring.ts";
import { smallFrames } from "./priority.ts";
import { warmUp } from "./switch_warmup.ts";
import {
  BPDU,
  CLIENT_MARK,
  CONTROL_ROOM,
  CTL_POSTED,
  CTL_SERVING,
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
} from "./switch_layout.ts";
import { announceLoaded } from "./worker_loaded.ts";

/**
 * The kept-warm turn's stand-in (`#dryTurn`): a 60-byte unicast frame between two locally administered
 * addresses (last bytes set per direction), of a type no one speaks.
 */
const STAND_IN = new Uint8Array(60);
STAND_IN.set([2, 0x76, 0x64, 0x65, 0, 0, 2, 0x76, 0x64, 0x65, 0, 0, 0x88, 0xb5]);
/** A SNOOP_QUERIER record's payload. */
const ONE = new Uint8Array([1]);
const ZERO = new Uint8Array([0]);
const BATCH = 64;
/**
 * The receive batch while warming: the warm-up's socketpairs carry a few frames a round, and a batch
 * they fill makes the loop receive again and meet EAGAIN, the path every stream takes. Compiled
 * without it, the first stream threw the optimized receive loop away and compiled it again (twice
 * 30-50 ms of a compiler thread, the frames meanwhile forwarded by slower code).
 */
const WARM_BATCH = 2;
/** The warm-up's throwaway ring from the main thread: empty, only its drain and sleep run. */
const WARM_RING_BYTES = 4096;
const CLOCK_MONOTONIC = 1;
const MAX_EVENTS = 64;
/** Slot size: one byte more than the largest frame, so oversize shows as MSG_TRUNC. */
const SLOT = VDE_MAX_FRAME + 6;
/** A tap read buffer larger than any frame, so an oversize frame is seen whole and dropped. */
const TAP_BUFFER = 65536;
/** Frames taken from ringIn before the fds get their turn. */
const RING_BUDGET = 1024;
/**
 * After a wait that found work without sleeping (its start time is what
 * `#lastWork` keeps, so a wait that slept never starts a poll), poll without
 * blocking for this long before blocking again. A stream keeps it going; a
 * lone frame, such as a ping, does not, even when it came within the window
 * (a reply right behind its request): polling after every wake-up was
 * measured to slow pings on two cores, the poller taking the core the plugs
 * need. Why a stream needs it: a sender held by the kernel's 10-datagram queue refills it
 * within microseconds, and a wake-up per two or three frames cost more than
 * the frames (64 B forwarding at 0.6x the main thread's without it). Kept
 * short: on two cores a longer poll (0.2 ms was measured) takes the CPU that
 * taps' receive paths and their TCP endpoints need, and slowed a TCP flow
 * between two switch-owned taps to a third in some runs. Not after a turn
 * of jumbo frames (above MTU 1500 on average, `smallFrames`): a slirp's TCP
 * at MTU 65520 sends a 9 KB frame about every 10 microseconds, each built in
 * turn, so the poll caught them one to five at a time and spent the core
 * the guest's plug and the endpoints need. Measured behind our switch,
 * `vde slirp --mtu 65520` to a guest behind Debian's `vde_plug`, 17
 * alternating pairs on a shared machine: host->guest faster in 14, the
 * switch's CPU per MB lower in 16 (README, Threads); guest->host the same
 * rate.
 */
const SPIN_MS = 0.03;
/**
 * While the fds gave a frame within the last `keepWarmMs` of the start message (keep_warm.ts: 150 ms
 * unless $VDE_KEEP_WARM_MS says otherwise), the wait times out after KEEP_WARM_MS
 * (counted in the control block's CTL_WARM_WAITS), and the turn that follows runs the ring, the
 * wait and the clock again with nothing to do. A wake-up after 10 ms asleep on a shared machine
 * finds V8's code and data cold: traced (`RIG_TRACE=1` of scripts/ping_rig.ts), the thread spent
 * 20 µs from its wait to `recvmmsg` and 34 to `sendmmsg` for a ping's frame; kept warm, 4 and 11.
 * An empty turn costs about 17 µs of CPU (5 of them user time), about 1.5% of a core while a ping
 * every 10 ms keeps the window open; past it the thread waits a whole tick again, so an idle switch
 * pays nothing. An empty turn also forwards a stand-in frame that goes nowhere (`#dryTurn`): kept warm
 * without it, a lone frame still took ~7 µs from `recvmmsg` to `sendmmsg`, 2-3 back to back.
 */
const KEEP_WARM_MS = 1;
/** The engine's clock ticks once a second (aging works in whole seconds). */
const TICK_MS = 1000;
/**
 * While an aging pass is in progress (`engine.aging`) it ticks every millisecond instead, each tick
 * looking at a slice of the MAC table (10-20 µs), so a pass of a full table is over in about 8 ms and
 * no frame waits behind a whole one; an idle switch between passes keeps the 1 s cadence.
 */
const AGING_TICK_MS = 1;
/**
 * While a client mark waits for room in ringOut (`#lostMark`), the longest wait between tries: the
 * main thread drains the ring, but nothing else may wake this thread (an idle switch sends no
 * record), and meanwhile a capture started names the port's old client. 100 wakes a second at most,
 * only while a mark waits.
 */
const MARK_RETRY_MS = 10;

/**
 * Frames held for a socket whose peer's queue is full (net.unix.max_dgram_qlen, 10 datagrams by
 * default) before new ones are dropped. vde_switch holds them too (its packet queue); dropped at
 * once, a burst from a fast sender (the slirp's TCP, 9 KB frames at MTU 65520) towards a reader that
 * writes each frame into a tap (`vde_plug`) lost its tail, and the sender had to keep its window
 * below what that queue holds.
 */
const HOLD_FRAMES = 256;
/** A held slot's size for frames up to this long. */
const SMALL_HOLD_SLOT = 2048;

/** One fd of a port. */
interface PortFd {
  fd: number;
  port: number;
  tap: boolean;
  /** Batcher slots of the frames staged for this socket, in order. */
  staged: Int32Array;
  /** The staged frames still in the receive arena (lent, not copied), by staging index; null for copies. */
  lent: (Uint8Array | null)[];
  count: number;
  /** Copies of frames the peer could not take yet, oldest at `heldHead` (slots allocated on first use). */
  held: Uint8Array[];
  /** Each slot's address, for sending it without another copy. */
  heldAddress: Float64Array;
  heldLength: Int32Array;
  heldHead: number;
  heldCount: number;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SwitchStart | PostedCommand>) => void) | null;
  postMessage(message: SwitchReply): void;
};

class SwitchLoop {
  readonly #c = libc();
  /** The start message's fds, copied: the hot loop reads its own fields, not a cloned message. */
  readonly #wakeFd: number;
  readonly #notifyFd: number;
  readonly #control: Int32Array;
  /** SwitchStart.pendingInputFd: read during the warm-up only; the main thread closes it after. */
  readonly #pendingInputFd: number;
  readonly #pendingEvent = new Uint8Array(EPOLL_EVENT_SIZE);
  /** From the main thread; during warm-up a throwaway twin, so the real one's frames wait. */
  #ringIn: FrameRing;
  readonly #ringOut: FrameRing;
  /** The forwarding engine; during warm-up a throwaway twin on memory no other thread reads. */
  engine: SwitchEngine;
  /** The engine's options, for warm-up's twin. */
  readonly #options: SwitchStart["options"];
  readonly #epfd: number;
  readonly #arena = new RecvArena(BATCH, SLOT);
  /** Frames a recvmmsg asks for: BATCH, WARM_BATCH while warming. */
  #batch = BATCH;
  readonly #arenaBuffer = this.#arena.buffer;
  readonly #arenaAddress = this.#arena.address;
  /** Batcher slots of one `#release` call. */
  readonly #releaseSlots = new Int32Array(BATCH);
  readonly #tapBuf = new Uint8Array(TAP_BUFFER);
  /**
   * The last view handed to the engine per arena slot (and one for the tap buffer), reused while
   * the length repeats: a new subarray per frame was young garbage, a 0.2 ms scavenge every 50 ms
   * at 64 B, which a C sender's 10-datagram queue does not outlast. The engine keeps no frame.
   */
  readonly #views: Uint8Array[] = this.#arena.slots.slice();
  #tapView = this.#tapBuf;
  readonly #events = new Uint8Array(EPOLL_EVENT_SIZE * MAX_EVENTS);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #ctl = new Uint8Array(EPOLL_EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #eight = new Uint8Array(8);
  readonly #batcher = new SendBatcher();
  /** Socket ends with staged frames. */
  readonly #dirty: PortFd[] = [];
  /**
   * Port ends by fd (null where none): an array, not a Map, so a wake-up finds its port with one
   * load. A Map's lookup runs a hashing builtin, which a wake-up after another process ran finds
   * cold: timed between marker system calls in 3 alternating pairs, 1-2 µs against about 1.
   */
  readonly #byFd: (PortFd | null)[] = [];
  /** Port ends by port, for output (replaced, never edited in place, while a flood may walk it). */
  #byPort: (PortFd[] | undefined)[] = [];
  /** Main-thread endpoints per port: output also goes to ringOut. */
  #remote = new Int32Array(0);
  /** ringOut's unpublished write position while a burst is forwarded. */
  #outWrite = 0;
  #outPending = false;
  #handled = 0;
  /**
   * When the engine last ticked; a double from the start, and stored again on each warm-up round: a
   * field that turns from a small integer into a double, or is first stored after the warm-up,
   * throws the optimized forwarding path away (switch_warmup.ts).
   */
  #lastTick = -Infinity;
  /** When the last wait found something to do. */
  #lastWork = -Infinity;
  /** When a turn whose fds gave frames ended (read at the next turn's start). */
  #lastTraffic = -Infinity;
  /** How long after a turn with frames the wait stays short (KEEP_WARM_MS); 0: never. */
  readonly #keepWarmMs: number;
  /**
   * Frames and their bytes the fds gave since the last wait returned (what tells a lone frame from a
   * burst), and whether the last turn with frames brought jumbo ones.
   */
  #inFrames = 0;
  #inBytes = 0;
  #jumbo = false;
  /** struct timespec as 32-bit halves (seconds since boot fit the low half). */
  readonly #ts = new Int32Array(4);
  readonly #tsBytes = new Uint8Array(this.#ts.buffer);
  /** The engine's time zero; moved back during warm-up so the twin engine ages its MAC table (see `warm`). */
  #t0 = this.#clock();
  readonly #engineOutput = (port: number, frame: Uint8Array): void => this.#output(port, frame);
  readonly #fromRing = (tag: number, frame: Uint8Array) => {
    if ((tag & SEND) === 0) this.engine.input(tag, frame);
    else this.engine.sendControl(tag & PORT_MASK, frame);
  };
  /** Where a client mark's number is put for its record. */
  readonly #markBytes = new Uint8Array(4);
  readonly #markView = new DataView(this.#markBytes.buffer);
  /**
   * The newest client mark ringOut had no room for (0: none). It goes in before the next record of any
   * kind, or at the end of a turn, waits bounded by MARK_RETRY_MS meanwhile: dropped, the main thread
   * would name the port's frames after the client before the change until another change came (a mark
   * stands for every one before it).
   */
  #lostMark = 0;
  /** The engine's number of the last frame the observer copied. */
  #observedSeq = -1;
  /**
   * The stand-in's twin engine (ports 1 and 2 active, on shared memory no other thread reads), warm-up's
   * twin too; null when the switch has too few ports for it (`#dryTurn` then does nothing).
   */
  #dryEngine: SwitchEngine | null = null;
  /** Port ends while a stand-in is forwarded: ports 1 and 2 reach one end no frame leaves by (fd -1). */
  readonly #dryByPort: (PortFd[] | undefined)[] = [];
  /** No main-thread endpoint while a stand-in is forwarded. */
  readonly #dryRemote = new Int32Array(4);
  /** The stand-ins (host 1 to host 2 and back) in the arena's last two slots, as a received frame is. */
  readonly #standIn: Uint8Array[] = [];
  #dryCount = 0;

  constructor(start: SwitchStart) {
    this.#wakeFd = start.wakeFd;
    this.#notifyFd = start.notifyFd;
    this.#keepWarmMs = start.keepWarmMs;
    this.#pendingInputFd = start.pendingInputFd;
    this.#control = new Int32Array(start.control);
    this.#ringIn = FrameRing.attach(start.ringIn);
    this.#ringOut = FrameRing.attach(start.ringOut);
    this.#options = start.options;
    this.engine = this.#newEngine(start.state);
    this.#remote = new Int32Array(this.engine.numPorts);
    this.#epfd = start.epollFd;
    this.#watch(C.EPOLL_CTL_ADD, start.wakeFd);
    this.#eight[0] = 1;
    if (this.engine.numPorts >= 4) {
      this.#dryEngine = this.#newEngine(sharedEngineState(this.#options.maxMacs));
      this.#dryEngine.activatePort(1);
      this.#dryEngine.activatePort(2);
      const nowhere = [this.#newEnd(1, -1, "dgram")];
      this.#dryByPort[1] = this.#dryByPort[2] = nowhere;
      for (let i = 1; i <= 2; i++) {
        this.#standIn.push(this.#arena.slots[BATCH - i]!.subarray(0, STAND_IN.length));
      }
    }
  }

  /**
   * One construction site for the real engine and warm-up's twin, so V8 sees the same shapes in
   * both, and one output function: the engine's call to it stays the target V8 learnt.
   */
  #newEngine(state: SharedEngineState): SwitchEngine {
    return new SwitchEngine({
      ...this.#options,
      shared: { state, writer: true },
      // Said whether or not anyone listens to events: it is the log line a storm's user needs.
      onLoopSuspected: (loop) => scope.postMessage({ loop }),
      onOversize: (port, length) => scope.postMessage({ oversize: { port, length } }),
      onShort: (port, length) => scope.postMessage({ short: { port, length } }),
      onVlanDropped: (vlanDropped) => scope.postMessage({ vlanDropped }),
    }, this.#engineOutput);
  }

  get ok(): boolean {
    return this.#epfd >= 0;
  }

  /**
   * Says, before the first turn that may read a real frame, that commands now wait for this thread.
   * Stored before `run` reads the posted count: a main thread that read 0 here after posting a
   * command knows this thread will see that command, and apply it, before any frame (its console
   * answers the change at once, SwitchThread.settledSince).
   */
  serve(): void {
    Atomics.store(this.#control, CTL_SERVING, 1);
  }

  #watch(op: number, fd: number, events: number = C.EPOLLIN): number {
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    return this.#c.epoll_ctl(this.#epfd, op, fd, this.#ctl);
  }

  #output(port: number, frame: Uint8Array): void {
    const ends = this.#byPort[port];
    if (ends !== undefined) {
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i]!;
        if (!end.tap) {
          this.#stage(end, frame);
          continue;
        }
        // A full tap queue drops, as the kernel does.
        if (direct.write(end.fd, frame, frame.length) !== frame.length) this.engine.countDropOut(port);
      }
    }
    if (port < this.#remote.length && this.#remote[port]! > 0) this.#toMain(port, port, frame);
  }

  /** A capture's copy: to the main thread, which numbers the frames by the fresh ones. */
  readonly #observer: FrameObserver = (port, direction, frame, seq) => {
    const fresh = seq !== this.#observedSeq ? OBSERVED_FRESH : 0;
    this.#observedSeq = seq;
    this.#toMain(OBSERVED | fresh | (port << 1) | (direction === Direction.Out ? 1 : 0), port, frame);
  };

  /** A BPDU for the spanning tree machine on the main thread (not counted as a drop if the ring is full). */
  readonly #relayBpdu = (port: number, frame: Uint8Array) => this.#toMain(BPDU | port, -1, frame);

  /** A snooping machine whose IGMP/MLD reads (those that count) and ticks are copied to the main thread's copy. */
  #copyingSnoop(snoop: McastSnooping): McastSnooping {
    const tick = snoop.tick.bind(snoop);
    // Its time (a float64), then whether our querier runs here: a SNOOP_QUERIER record a full ring
    // dropped is made good by the next tick.
    const record = new Uint8Array(16);
    const time = new Float64Array(record.buffer, 0, 1);
    const tickBytes = record.subarray(0, 9);
    snoop.tick = (nowMs) => {
      time[0] = nowMs;
      record[8] = snoop.querier ? 1 : 0;
      this.#toMain(SNOOP_TICK, -1, tickBytes);
      return tick(nowMs);
    };
    const observe = snoop.observe.bind(snoop);
    const c = snoop.counters;
    snoop.observe = (port, vlan, frame) => {
      const before = c.counted;
      const ok = observe(port, vlan, frame);
      if (c.counted !== before) {
        this.#toMain(SNOOPED | (vlan << 16) | port, -1, frame);
      }
      return ok;
    };
    return snoop;
  }

  #stage(end: PortFd, frame: Uint8Array): void {
    // Behind held frames: in order, after them.
    if (end.heldCount > 0) {
      this.#hold(end, frame);
      return;
    }
    if (this.#batcher.free === 0) this.#flush();
    if (end.count === end.staged.length) this.#flushEnd(end);
    if (end.count === 0) this.#dirty.push(end);
    // A frame still in the receive arena is sent from there (each batch is flushed before the next
    // receive overwrites it); one the engine built (a tag added or removed), a tap's or a ring's is copied.
    const lent = frame.buffer === this.#arenaBuffer;
    end.lent[end.count] = lent ? frame : null;
    end.staged[end.count++] = lent
      ? this.#batcher.lend(this.#arenaAddress + frame.byteOffset, frame.length)
      : this.#batcher.stage(frame);
  }

  /** Keeps a copy of `frame` for `end`'s peer, which is full; drops it when the hold is full too. */
  #hold(end: PortFd, frame: Uint8Array): void {
    if (end.heldCount >= HOLD_FRAMES) {
      this.engine.countDropOut(end.port);
      return;
    }
    if (end.heldCount === 0) this.#watch(C.EPOLL_CTL_MOD, end.fd, C.EPOLLIN | C.EPOLLOUT);
    const at = (end.heldHead + end.heldCount++) % HOLD_FRAMES;
    let slot = end.held[at];
    if (slot === undefined || slot.length < frame.length) {
      // Small frames (a flood of them towards a slow reader) get small slots; a jumbo one a full one.
      end.held[at] = slot = new Uint8Array(frame.length <= SMALL_HOLD_SLOT ? SMALL_HOLD_SLOT : VDE_MAX_FRAME);
      end.heldAddress[at] = Number(addressOf(slot));
    }
    slot.set(frame);
    end.heldLength[at] = frame.length;
  }

  /** The peer of `end` has room again: sends what is held, oldest first, until it is full again. */
  #release(end: PortFd): void {
    const batcher = this.#batcher;
    const slots = this.#releaseSlots;
    while (end.heldCount > 0) {
      if (batcher.free === 0) this.#flush();
      const k = Math.min(end.heldCount, batcher.free, slots.length);
      for (let i = 0; i < k; i++) {
        const at = (end.heldHead + i) % HOLD_FRAMES;
        slots[i] = batcher.lend(end.heldAddress[at]!, end.heldLength[at]!);
      }
      const n = batcher.sendmmsg(end.fd, slots, k);
      if (n < 0) {
        if (-n === C.EAGAIN || -n === C.ENOBUFS) return;
        // A gone peer is noticed by its control connection; what it held is lost.
        for (; end.heldCount > 0; end.heldCount--) this.engine.countDropOut(end.port);
        break;
      }
      end.heldHead = (end.heldHead + n) % HOLD_FRAMES;
      end.heldCount -= n;
      if (n < k) return;
    }
    end.heldHead = 0;
    this.#watch(C.EPOLL_CTL_MOD, end.fd, C.EPOLLIN);
  }

  /** Sends every staged frame: one sendmmsg per socket. */
  #flush(): void {
    const dirty = this.#dirty;
    for (let i = 0; i < dirty.length; i++) this.#flushEnd(dirty[i]!);
    dirty.length = 0;
    this.#batcher.reset();
  }

  #flushEnd(end: PortFd): void {
    const count = end.count;
    if (count === 0) return;
    end.count = 0;
    const n = this.#batcher.sendmmsg(end.fd, end.staged, count);
    if (n === count) return;
    const err = n < 0 ? -n : C.EAGAIN;
    if (err !== C.EAGAIN && err !== C.ENOBUFS) {
      // A gone peer is noticed by its control connection.
      for (let i = n > 0 ? n : 0; i < count; i++) this.engine.countDropOut(end.port);
      return;
    }
    // What a full peer did not take waits for it (see HOLD_FRAMES).
    for (let i = n > 0 ? n : 0; i < count; i++) {
      this.#hold(end, end.lent[i] ?? this.#batcher.view(end.staged[i]!));
    }
  }

  /** Appends to ringOut; frames and capture copies leave the control reserve to BPDUs and snooping's copies. */
  #toMain(tag: number, port: number, frame: Uint8Array): void {
    if (this.#lostMark !== 0) this.#putMark(this.#lostMark);
    if (!this.#put(tag, frame)) this.engine.countDropOut(port);
  }

  /** Puts one record into ringOut (published with the burst); false: no room for it. */
  #put(tag: number, frame: Uint8Array): boolean {
    const ring = this.#ringOut;
    if (!this.#outPending) {
      this.#outWrite = ring.writePosition;
      this.#outPending = true;
    }
    const room = (tag & (BPDU | SNOOPED)) !== 0 ? CONTROL_ROOM : DATA_ROOM;
    if (ring.free() - ((this.#outWrite - ring.writePosition) | 0) < room) return false;
    this.#outWrite = ring.putTagged(tag, frame, this.#outWrite);
    return true;
  }

  /** Puts client mark `mark` among the copies, or keeps it to try again if the ring is full (`#lostMark`). */
  #putMark(mark: number): void {
    this.#markView.setUint32(0, mark, true);
    this.#lostMark = this.#put(CLIENT_MARK, this.#markBytes) ? 0 : mark;
  }

  /** Makes the frames of this burst visible to the main thread, waking it if it sleeps. */
  #publish(): void {
    if (this.#dirty.length > 0) this.#flush();
    if (!this.#outPending) return;
    this.#outPending = false;
    if (this.#ringOut.publish(this.#outWrite)) direct.write(this.#notifyFd, this.#eight, 8);
  }

  /**
   * Runs until a command is waiting (returns false) or a stop (returns true); warming runs one turn
   * a call (`turns`), so this loop is compiled before the first real frame. Entered once per command,
   * it was never warmed: each wake-up ran it interpreted until V8 compiled it on the stack, seconds
   * into real traffic.
   */
  run(turns = -1): boolean {
    const control = this.#control;
    for (; turns !== 0; turns--) {
      if (Atomics.load(control, CTL_STOP) !== 0) return true;
      if (Atomics.load(control, CTL_POSTED) !== this.#handled) return false;
      this.turn();
    }
    return false;
  }

  /**
   * One wait and what it found: frames from the main thread, then every
   * ready fd. Blocks up to a tick when there is nothing to do.
   */
  turn(): void {
    // What is published now, then whether a command came first: if so it is applied before these
    // frames, once those put before it are handled (`apply`). Read in this order, a frame put after a
    // command can only be seen with that command's count.
    const until = this.#ringIn.writePosition;
    if (Atomics.load(this.#control, CTL_POSTED) !== this.#handled) return;
    let more = this.#ringIn.drainTagged(this.#fromRing, RING_BUDGET, until) === RING_BUDGET;
    this.#publish();
    // Declared asleep before waiting: a main thread that adds frames after this wakes us.
    if (!more) more = !this.#ringIn.sleep();
    this.#serveFds(more);
  }

  /** Waits (not when `more` work is known) and drains every ready fd. */
  #serveFds(more: boolean): void {
    const now = this.#clock();
    // The last turn's frames, timed by this turn's clock: that turn read its own before a wait that
    // may have slept a whole tick.
    this.#lastTraffic = this.#inFrames > 0 ? now : this.#lastTraffic;
    if (now - this.#lastWork < SPIN_MS && !this.#jumbo) more = true;
    const tickMs = this.engine.aging ? AGING_TICK_MS : TICK_MS;
    const before = this.#lastWork;
    const idleMs = this.#lostMark !== 0 ? Math.min(tickMs, MARK_RETRY_MS) : tickMs;
    // A choice, not a branch (as `#lastWork` below): no code the warm-up never ran (switch_warmup.ts).
    const warm = !more && now - this.#lastTraffic < this.#keepWarmMs;
    const waitMs = more ? 0 : warm ? Math.min(idleMs, KEEP_WARM_MS) : idleMs;
    this.#control[CTL_WARM_WAITS]! += warm ? 1 : 0;
    const n = direct.epollWait(this.#epfd, this.#events, MAX_EVENTS, waitMs);
    if (n > 0) this.#lastWork = now;
    // The loop detector's time for this turn's moves (the engine ticks a second apart). Read before the
    // wait, so early by the wait after an idle spell (once); a storm's turns never wait.
    this.engine.stamp(now - this.#t0);
    this.#inFrames = 0;
    this.#inBytes = 0;
    // Commands first (a port added or removed): ready fds are reported again by the next wait.
    if (Atomics.load(this.#control, CTL_POSTED) !== this.#handled) return;
    for (let i = 0; i < n; i++) {
      const fd = this.#eventsView.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
      if (fd === this.#wakeFd) {
        direct.read(fd, this.#tapBuf, 8);
        continue;
      }
      const end = fd < this.#byFd.length ? this.#byFd[fd]! : null;
      if (end === null) continue;
      if (end.tap) this.#drainTap(end);
      else {
        const events = this.#eventsView.getUint32(i * EPOLL_EVENT_SIZE, true);
        if ((events & C.EPOLLOUT) !== 0 && end.heldCount > 0) this.#release(end);
        if ((events & ~C.EPOLLOUT) !== 0) this.#drainSocket(end);
      }
    }
    if (this.#inFrames > 0) this.#jumbo = !smallFrames(this.#inBytes, this.#inFrames);
    // A mark still waiting goes in once the main thread made room, with no record to carry it.
    if (this.#lostMark !== 0) this.#putMark(this.#lostMark);
    this.#publish();
    this.#dryTurn(n === 0 && warm);
    // A wait that blocked and found one frame (a ping, or its reply a few µs after the request)
    // starts no poll: C's switch goes back to sleep there, and polling after it took the core the
    // receiving plug and ping needed (about 3 empty waits per frame). A burst, a poll that found
    // work, or the wake eventfd (the main thread's ring) polls as before. Written as one store
    // every turn runs: a branch warm-up never took would be compiled without type feedback and
    // throw this function's optimized code away the first time a real lone frame took it.
    this.#lastWork = n === 1 && this.#inFrames === 1 && !more ? before : this.#lastWork;
    if (now - this.#lastTick >= tickMs) {
      this.#lastTick = now;
      this.engine.tick(now - this.#t0);
    }
  }

  /**
   * A kept-warm turn that found nothing (`on`) forwards a stand-in frame through the frame's own path:
   * the engine's decision (on the twin, `#dryEngine`), staging in the send batch and `sendmmsg`, to an
   * end whose fd is -1, so nothing leaves (EBADF), and no address, counter or frame of the real
   * switch is touched. Traced kept warm with empty turns only, a lone frame still took ~7 µs from
   * `recvmmsg` to `sendmmsg`, against 2-3 when frames come back to back: code the empty turn never
   * ran had gone cold. Called every turn (the test inside), and from warm-up with `on`, so the
   * optimized turn has seen both ways.
   */
  #dryTurn(on: boolean): void {
    const twin = this.#dryEngine;
    if (!on || twin === null) return;
    const real = this.engine;
    const byPort = this.#byPort;
    const remote = this.#remote;
    this.engine = twin;
    this.#byPort = this.#dryByPort;
    this.#remote = this.#dryRemote;
    try {
      // A real batch of BATCH frames overwrote the stand-ins' slots: written again, 60 bytes each.
      const host = this.#dryCount++ & 1;
      const frame = this.#standIn[host]!;
      frame.set(STAND_IN);
      frame[5] = 2 - host;
      frame[11] = host + 1;
      twin.input(host + 1, frame);
      this.#flush();
    } catch {
      // Never out of the forwarding loop: without the stand-in, a lone frame is only colder.
      this.#dryEngine = null;
    } finally {
      this.engine = real;
      this.#byPort = byPort;
      this.#remote = remote;
    }
  }

  /**
   * Compiles the forwarding path before the first real frame (switch_warmup.ts), on a twin engine.
   * Not on the real one: its MAC table and counters are memory the main thread reads while this
   * runs (a client attached meanwhile, /metrics, the console), and it showed thousands of
   * throwaway frames on port 1 and switch-wide until reset. The twin is built at the same site
   * with shared memory of its own, made as the real one's is (same sizes, same kind of arrays), so
   * the code V8 optimizes for it is the code the real one runs.
   */
  warm(): void {
    if (this.engine.numPorts < 4) return;
    const real = this.engine;
    const realRing = this.#ringIn;
    const handled = this.#handled;
    const t0 = this.#t0;
    this.engine = this.#dryEngine ?? this.#newEngine(sharedEngineState(this.#options.maxMacs));
    // Frames from the main thread (which may be for ports a command has yet to set up) wait in the
    // real ring, which is not declared asleep meanwhile, so no one wakes us for them.
    this.#ringIn = FrameRing.create(WARM_RING_BYTES);
    this.#batch = WARM_BATCH;
    let round = 0;
    let looks = 0;
    try {
      warmUp({
        attach: (port, fd, kind) => {
          this.engine.activatePort(port);
          this.#addFd(port, fd, kind);
        },
        turn: () => {
          // Commands wait until warming is done; the fds are served even with commands posted.
          this.#handled = Atomics.load(this.#control, CTL_POSTED);
          // The engine ticks every round, so its clock fields take their final shape here.
          this.#lastTick = -Infinity;
          // Now and then its clock jumps past the MAC table's aging interval and entries' lifetime, so
          // aging, expiry and learning anew run here too: compiled without them, the forwarding path
          // (which inlines the tick) was thrown away at the first aging, 2 s after the start, and an
          // address learnt anew threw the table's code away.
          if ((round & 127) === 0) {
            this.#t0 -= (this.engine.expireSeconds + this.engine.gcIntervalSeconds + 1) * 1000;
          }
          // Now and then the wake eventfd is ready too, as when a command or a ring frame comes.
          if ((++round & 7) === 0) direct.write(this.#wakeFd, this.#eight, 8);
          // The whole turn, as a wake-up runs it (ring, wait, fds): the frames written before it
          // make the wait return at once. Warmed through `#serveFds` alone, the ring and the wait
          // ran unoptimized between pings, hundreds of them, until V8 compiled them.
          this.run(1);
          // The stand-in's turn, so it is compiled with the loop before a kept-warm wait first runs it.
          this.#dryTurn((round & 1) === 0);
        },
        detach: (_port, fd) => this.#removeFd(fd),
        // A port's frames waiting (a client's fd readable, or a main-thread link's frames in the real
        // ring) end it; an idle port (a tap not up yet) does not. A stop too: a switch stopped as it
        // starts (a Ctrl-C) had its stop wait out the warming, past its owner's 2 s bound under
        // VDE_TEST_WARMUP_MS. The fds are looked at every 32nd round, a system call each.
        ends: () =>
          Atomics.load(this.#control, CTL_STOP) !== 0 || !realRing.empty ||
          ((looks++ & 31) === 0 && this.#pendingInputFd >= 0 &&
            direct.epollWait(this.#pendingInputFd, this.#pendingEvent, 1, 0) > 0),
      });
    } finally {
      this.engine = real;
      this.#ringIn = realRing;
      this.#t0 = t0;
      this.#handled = handled;
      this.#batch = BATCH;
      // Its throwaway frames are no traffic: counted, they read as thousands of short waits before the
      // first real frame, and the window they opened kept an idle switch warm for its first 150 ms.
      this.#lastTraffic = -Infinity;
      this.#inFrames = 0;
      Atomics.store(this.#control, CTL_WARM_WAITS, 0);
    }
  }

  /**
   * CLOCK_MONOTONIC in ms, read every turn: one fast FFI call into the vDSO. `performance.now()`
   * goes through an op and a brand check, and cost the thread about 15% more CPU per wake-up.
   */
  #clock(): number {
    this.#c.clock_gettime(CLOCK_MONOTONIC, this.#tsBytes);
    return this.#ts[0]! * 1000 + this.#ts[2]! / 1e6;
  }

  #drainSocket(end: PortFd): void {
    const arena = this.#arena;
    const engine = this.engine;
    const batch = this.#batch;
    for (;;) {
      const n = direct.recvmmsg(end.fd, arena.mmsg, batch, C.MSG_DONTWAIT);
      if (n < 0) {
        const e = errno();
        if (e === C.EINTR) continue;
        if (e !== C.EAGAIN) this.#failed(end, e);
        return;
      }
      this.#inFrames += n;
      for (let i = 0; i < n; i++) {
        const len = arena.length(i);
        this.#inBytes += len;
        // An oversize datagram (cut to the slot, one byte past the largest frame) reaches the engine as
        // the whole slot, which it counts and tells as oversize.
        const want = arena.truncated(i) || len > VDE_MAX_FRAME ? SLOT : len;
        let view = this.#views[i]!;
        if (view.length !== want) this.#views[i] = view = arena.slots[i]!.subarray(0, want);
        engine.input(end.port, view);
      }
      this.#flush();
      if (n < batch) return;
    }
  }

  #drainTap(end: PortFd): void {
    const buf = this.#tapBuf;
    for (let i = 0; i < BATCH; i++) {
      const n = direct.read(end.fd, buf, TAP_BUFFER);
      if (n < 0) {
        const e = errno();
        if (e !== C.EAGAIN && e !== C.EINTR) this.#failed(end, e);
        return;
      }
      if (n === 0) {
        this.#failed(end, 0);
        return;
      }
      this.#inFrames++;
      this.#inBytes += n;
      // An oversize frame (an MTU above 9216) reaches the engine whole, which counts and tells it as oversize.
      if (this.#tapView.length !== n) this.#tapView = buf.subarray(0, n);
      this.engine.input(end.port, this.#tapView);
      // The first frame's share for sockets leaves before the next read, so the read that finds the
      // tap empty (EAGAIN), which ends every drain, follows a lone frame (a ping) instead of delaying it.
      if (i === 0 && this.#dirty.length > 0) this.#flush();
    }
  }

  #failed(end: PortFd, err: number): void {
    this.#watch(C.EPOLL_CTL_DEL, end.fd);
    this.#byFd[end.fd] = null;
    scope.postMessage({ failed: end.fd, errno: err });
  }

  /**
   * Applies one command after the frames the main thread put before it; the
   * main thread has validated it on its own copy of the engine.
   */
  apply({ cmd, fence }: PostedCommand): void {
    this.#ringIn.drainTagged(this.#fromRing, Infinity, fence);
    this.#publish();
    this.#applyNow(cmd);
  }

  #applyNow(cmd: SwitchCommand): void {
    this.#handled++;
    const engine = this.engine as unknown as Record<string, unknown>;
    switch (cmd.op) {
      case "call": {
        const method = engine[cmd.method];
        if (typeof method === "function") method.apply(this.engine, cmd.args);
        if (cmd.method === "setNumPorts") this.#resizeRemote();
        break;
      }
      case "set":
        engine[cmd.prop] = cmd.value;
        break;
      case "macClear":
        this.engine.macTable.clear();
        break;
      case "addFd":
        this.#addFd(cmd.port, cmd.fd, cmd.kind);
        break;
      case "removeFd":
        this.#removeFd(cmd.fd);
        scope.postMessage({ released: cmd.fd });
        break;
      case "remote":
        if (cmd.port < this.#remote.length) this.#remote[cmd.port] = cmd.count;
        break;
      case "events":
        this.engine.onEvent = cmd.on ? (event) => postEvent(event) : undefined;
        break;
      case "observe":
        this.engine.observer = cmd.on ? this.#observer : null;
        break;
      case "stp":
        this.engine.relayStp(cmd.on ? this.#relayBpdu : null);
        break;
      case "snooping":
        this.engine.snooping = cmd.settings === null
          ? null
          : this.#copyingSnoop(new McastSnooping(cmd.settings.mac, cmd.settings.options));
        break;
      case "snoop": {
        const machine = this.engine.snooping;
        const was = machine?.querier;
        const snoop = machine as unknown as Record<string, (...args: unknown[]) => void> | null;
        snoop?.[cmd.method]?.apply(snoop, cmd.args);
        // The copy starts our querier here too, on the clock this machine had (SNOOP_QUERIER).
        if (machine && machine.querier !== was) this.#toMain(SNOOP_QUERIER, -1, machine.querier ? ONE : ZERO);
        break;
      }
      case "mark":
        this.#putMark(cmd.mark);
        break;
      case "sync":
        scope.postMessage({ applied: this.#handled });
        break;
    }
  }

  #resizeRemote(): void {
    const next = new Int32Array(this.engine.numPorts);
    next.set(this.#remote.subarray(0, Math.min(next.length, this.#remote.length)));
    this.#remote = next;
  }

  #addFd(port: number, fd: number, kind: PortFdKind): void {
    const end = this.#newEnd(port, fd, kind);
    if (this.#watch(C.EPOLL_CTL_ADD, fd) < 0) {
      scope.postMessage({ failed: fd, errno: errno() });
      return;
    }
    while (this.#byFd.length <= fd) this.#byFd.push(null);
    this.#byFd[fd] = end;
    const byPort = this.#byPort.slice();
    byPort[port] = [...(byPort[port] ?? []), end];
    this.#byPort = byPort;
    // Not drained here: the port may go active only with the next command, and epoll (level-triggered)
    // reports frames already waiting at the next wait.
  }

  /** One construction site for port ends (the stand-in's too), so they share one shape. */
  #newEnd(port: number, fd: number, kind: PortFdKind): PortFd {
    return {
      fd,
      port,
      tap: kind === "tap",
      staged: new Int32Array(BATCH * 2),
      lent: new Array(BATCH * 2).fill(null),
      count: 0,
      held: [],
      heldAddress: new Float64Array(HOLD_FRAMES),
      heldLength: new Int32Array(HOLD_FRAMES),
      heldHead: 0,
      heldCount: 0,
    };
  }

  #removeFd(fd: number): void {
    this.#flush();
    const end = fd < this.#byFd.length ? this.#byFd[fd]! : null;
    if (end !== null) {
      this.#watch(C.EPOLL_CTL_DEL, fd);
      this.#byFd[fd] = null;
      for (; end.heldCount > 0; end.heldCount--) this.engine.countDropOut(end.port);
    }
    const byPort = this.#byPort.slice();
    for (let p = 0; p < byPort.length; p++) {
      const ends = byPort[p];
      if (ends === undefined || !ends.some((e) => e.fd === fd)) continue;
      const rest = ends.filter((e) => e.fd !== fd);
      byPort[p] = rest.length > 0 ? rest : undefined;
    }
    this.#byPort = byPort;
  }

  close(): void {
    if (this.#epfd >= 0) this.#c.close(this.#epfd);
  }
}

// Errors (a thrown transport bug) are not cloneable: events go as their text fields.
function postEvent(event: { type: string }): void {
  if (!event.type.startsWith("mac-")) return;
  scope.postMessage({ event });
}

let loop: SwitchLoop | null = null;
/** Set once the loop has ended: commands still queued then are dropped, not taken for a start. */
let ended = false;

function runUntilCommandOrStop(): void {
  if (loop === null) return;
  let stopped = true;
  let error: string | undefined;
  try {
    stopped = loop.run();
  } catch (err) {
    // Said with the last word, where its owner names the switch and why in one line; thrown on, it would
    // add Deno's own report (its stack) to the log, and nothing more is learnt from it.
    error = err instanceof Error ? err.message : String(err);
  } finally {
    if (stopped) {
      loop.close();
      loop = null;
      ended = true;
      scope.postMessage(error === undefined ? { stopped: true } : { stopped: true, error });
    }
  }
}

scope.onmessage = (e) => {
  if (ended) return;
  if (loop === null) {
    const start = e.data as SwitchStart;
    // Normal priority, unlike the receive thread: a thread that polls while busy must not push
    // the other processes (often the very senders and receivers of its frames) off its core. A 0.1 ms
    // slice hint here and V8's helpers at SCHED_IDLE measured as noise (README, Not yet here; 140fa1f).
    loop = new SwitchLoop(start);
    if (loop.ok) {
      const began = performance.now();
      // The module's loaded word was this thread's first message, so "warmed" keeps the warmed code (worker_loaded.ts).
      loop.warm();
      scope.postMessage({ warmed: performance.now() - began });
    }
    if (!loop.ok) {
      loop = null;
      ended = true;
      scope.postMessage({ stopped: true });
      return;
    }
    loop.serve();
    runUntilCommandOrStop();
    return;
  }
  loop.apply(e.data as PostedCommand);
  runUntilCommandOrStop();
};

// Deno has loaded this thread: a prompt its load erased can be drawn again (worker_loaded.ts).
announceLoaded();
