/**
 * Scheduling priority for the data-plane threads: `raisePriority` once at
 * start (the receive thread), a `RealtimeGovernor` for a thread that may be
 * saturated for long, a `DemandGovernor` for one that needs real-time only
 * while a lossy sender streams to it (the plug and slirp threads; the slirp
 * thread runs at its own nice value between streams, sharing a core with
 * the switch: slirp_worker.ts, "Priority"), and a `DownloadYield` that
 * gives a raised thread's priority up while it streams a download to a
 * guest whose side is the bottleneck.
 */
import { libc } from "../../ffi/libc.ts";

const PRIO_PROCESS = 0;
const SCHED_OTHER = 0;
const SCHED_RR = 2;

/**
 * Makes the calling thread the first to run when frames arrive. The kernel holds
 * only about 100 frames for us (the C switch's send buffer), a millisecond
 * at 1 Gbit/s: on a busy machine a thread that waits a millisecond for a
 * core loses frames. Measured, 50 MB through slirp behind the C switch on
 * two loaded cores: 2,311 frames lost at normal priority, 400-800 at nice
 * -20, none with SCHED_RR. The thread takes nice -20 first (kept if it
 * leaves the real-time class, see `setRealtime`), then SCHED_RR. The
 * threads block as soon as there is nothing to move (an empty socket, a
 * full ring, a full peer). Without the privilege (CAP_SYS_NICE, or
 * RLIMIT_RTPRIO / RLIMIT_NICE) a thread runs at nice -20 if allowed, else
 * normally. A process started niced (above 0) is left as the user made it.
 *
 * @returns true when the thread now runs SCHED_RR
 */
export function raisePriority(): boolean {
  if (!mayRaise(currentNice())) return false;
  raiseNice();
  return setRealtime(true);
}

/**
 * Whether a thread at `nice` (its process's, inherited when it was made) may
 * raise itself: not when the user started vde with a lower priority (`nice
 * -n 10 vde ...`), which is a choice about this process, as for any other.
 */
export function mayRaise(nice: number): boolean {
  return nice <= 0;
}

/** Makes the calling thread nice -20 (if allowed), in the ordinary class. */
function raiseNice(): void {
  // PRIO_PROCESS with a thread id sets that thread's nice value only.
  libc().setpriority(PRIO_PROCESS, libc().gettid(), -20);
}

const param = new Uint8Array(4); // struct sched_param { int sched_priority; }

/**
 * Moves the calling thread into SCHED_RR (`on`) or back to the ordinary
 * class at the nice value it had. A thread that writes to taps leaves the
 * real-time class while it is saturated: a tap write runs the kernel's
 * receive path, whose overflow goes to ksoftirqd, a normal thread that a
 * real-time thread busy for long would starve.
 *
 * @returns true when the change was made
 */
export function setRealtime(on: boolean): boolean {
  param[0] = on ? 1 : 0;
  return libc().sched_setscheduler(libc().gettid(), on ? SCHED_RR : SCHED_OTHER, param) === 0;
}

/**
 * Work without a pause after which a thread leaves the real-time class
 * until it next finds nothing to do (a flood, not a burst): the ordinary
 * threads of its core (the switch, the guest, ksoftirqd) must not wait longer.
 */
const SATURATED_MS = 20;

/**
 * Real-time while the thread keeps up, an ordinary nice -20 thread while it
 * is saturated. The thread raises its priority by making one, then tells it
 * of each wait: `idle` before a wait that blocks (nothing to do: the next
 * burst is served real-time again), `woke` after it (the busy clock starts),
 * `busy` after a look that found work at once (after `SATURATED_MS` of
 * that, the thread leaves the real-time class).
 */
export class RealtimeGovernor {
  readonly #now: () => number;
  readonly #setRealtime: (on: boolean) => boolean;
  readonly #realtime: boolean;
  #demoted = false;
  #busySince: number;

  /**
   * Raises the calling thread's priority (see `raisePriority`) and starts
   * the busy clock; `now` is the thread's clock in ms, read only when needed.
   * `sched` replaces the system calls (tests).
   */
  constructor(
    now: () => number,
    sched: { raise: () => boolean; setRealtime: (on: boolean) => boolean } = {
      raise: raisePriority,
      setRealtime,
    },
  ) {
    this.#now = now;
    this.#setRealtime = sched.setRealtime;
    this.#realtime = sched.raise();
    this.#busySince = now();
  }

  /** Before a wait that blocks. */
  idle(): void {
    if (this.#demoted) this.#demoted = !this.#setRealtime(true);
  }

  /** After the blocking wait. */
  woke(): void {
    this.#busySince = this.#now();
  }

  /** After a look that found work without blocking. */
  busy(): void {
    if (this.#realtime && !this.#demoted && this.#now() - this.#busySince > SATURATED_MS) {
      this.#demoted = this.#setRealtime(false);
    }
  }
}

/** Length of the plug thread's rate window. */
const WINDOW_MS = 10;
/**
 * Lossy-source bytes per ms above which the thread goes real-time: 100
 * Mbit/s. Below it, a thread late by 10 ms leaves fewer than 90 full-size
 * frames (the C switch's send buffer) waiting. The acknowledgements of a
 * TCP flow going the other way stay far below (about 4 kB per ms at 1 Gbit/s).
 */
const BULK_BYTES_PER_MS = 12_500;
/** What one wake-up found waiting from a lossy source that already means we are late: go real-time at once. */
const LATE_BYTES = 64 * 1024;
const LATE_FRAMES = 128;
/** How long real-time is kept after the last sign of bulk (and a download's yield after its last window). */
const HOLD_MS = 200;

/** When the last sign of bulk was seen, kept for HOLD_MS. */
export class BulkHold {
  #lastSign = -Infinity;

  /** A sign of bulk at `now`. */
  sign(now: number): void {
    this.#lastSign = now;
  }

  /** Whether the last sign of bulk was within HOLD_MS of `now`. */
  held(now: number): boolean {
    return now - this.#lastSign <= HOLD_MS;
  }
}

/** What `RateWindow.roll` returns when the window has not ended. */
export const NOT_ENDED = -1;

/**
 * The governors' shared bookkeeping: a few byte counts summed over a
 * window of WINDOW_MS on the thread's clock, judged against
 * BULK_BYTES_PER_MS when the window ends, and (a BulkHold) when the last
 * sign of bulk was seen. Pure logic; no allocation per call.
 */
export class RateWindow extends BulkHold {
  /** The current window's sums and the last ended one's: two arrays that trade places at each roll. */
  #sums: Float64Array;
  #ended: Float64Array;
  #start: number;
  #elapsed = 0;

  /** `counters` sums, the first window starting at `now` (ms). */
  constructor(counters: number, now: number) {
    super();
    this.#sums = new Float64Array(counters);
    this.#ended = new Float64Array(counters);
    this.#start = now;
  }

  /** Adds `n` to counter `i` of the current window. */
  add(i: number, n: number): void {
    this.#sums[i]! += n;
  }

  /**
   * Ends the current window if WINDOW_MS have passed by `now` (a new one
   * starts). Returns NOT_ENDED, or when it did, a mask with bit i set for
   * each counter i that passed BULK_BYTES_PER_MS (`bulk(i)`); `sum` and
   * `bulk` then tell of it.
   *
   * The mask is what a plug thread between pings reads: such a thread rolls
   * at nearly every wake-up (pings 10 ms apart), where its warm-up's stream
   * rolled once per thousand wake-ups, so TurboFan, which inlines a call only
   * where warming made it often, left `bulk` out of the optimized wait and
   * it ran in the interpreter twice a ping (perf: 5% of the thread's CPU per
   * lone frame). `roll` itself runs at every wait and is inlined.
   */
  roll(now: number): number {
    const elapsed = now - this.#start;
    if (elapsed < WINDOW_MS) return NOT_ENDED;
    // The arrays trade places and the new window's is zeroed by a loop: `set` and `fill` are calls
    // into V8's runtime (a memmove) that TurboFan does not inline (perf: 6% of that thread's CPU).
    const ended = this.#ended;
    this.#ended = this.#sums;
    this.#sums = ended;
    const threshold = BULK_BYTES_PER_MS * elapsed;
    let mask = 0;
    for (let i = 0; i < ended.length; i++) {
      if (this.#ended[i]! >= threshold) mask |= 1 << i;
      ended[i] = 0;
    }
    this.#elapsed = elapsed;
    this.#start = now;
    return mask;
  }

  /** Counter `i` over the window that ended last. */
  sum(i: number): number {
    return this.#ended[i]!;
  }

  /** Whether counter `i` passed BULK_BYTES_PER_MS over the window that ended last. */
  bulk(i: number): boolean {
    return this.#ended[i]! >= BULK_BYTES_PER_MS * this.#elapsed;
  }
}

/** The calls a `DemandGovernor` makes (replaced in tests). */
export interface DemandSched {
  /** SCHED_RR at nice -20 (see `raisePriority`); true when in the real-time class. */
  raise: () => boolean;
  setRealtime: (on: boolean) => boolean;
  /** Back to the ordinary class at the thread's own nice value. */
  lower: () => void;
}

function ordinarySched(): DemandSched {
  const setNice = threadNice();
  const nice = currentNice();
  return {
    raise: raisePriority,
    setRealtime,
    lower: () => {
      setRealtime(false);
      setNice(nice);
    },
  };
}

/** The demand governor's counters. */
const DRAINED = 0;
const SENT = 1;

/**
 * Real-time only while a lossy sender (a C switch: a non-blocking send
 * that drops what its buffer cannot hold) streams to the thread, an
 * ordinary thread otherwise. Measured behind Debian's vde_switch, iperf3
 * through the plug: real-time all the time kept the flow towards the tap
 * free of loss (0-600 retransmits per 400 MB against vde_plug's 12,000-
 * 56,000), but in the other direction, where the switch sends only
 * acknowledgements, it cost 1.5x vde_plug's CPU per byte and more loss at
 * the far plug: a thread that preempts whoever runs at each frame takes
 * the core from the processes it feeds, where an ordinary one reads the
 * tap's queue in bursts. So the thread starts ordinary and goes real-time
 * when the lossy sources' bytes in a window pass BULK_BYTES_PER_MS, or one
 * wake-up finds a late-sized backlog; it goes back HOLD_MS after the last
 * such sign. While real-time, a `RealtimeGovernor` still demotes it when
 * saturated. The thread reports each wait as to a RealtimeGovernor, and
 * the lossy bytes and frames each wake-up drained (`drained`).
 *
 * A backlog of many small frames is not late while the thread streams to
 * the lossy peer itself (it reports what it sends there: `sent`): those
 * are the stream's acknowledgements, which pile up whenever the thread
 * waits a few ms for a core, and a thread made real-time by them took the
 * core from the far plug that its stream already overloads. Measured
 * behind Debian's vde_switch, iperf3 from the tap, 8 cycles alternating
 * with the code before on a loaded machine: the thread was real-time 5-70%
 * of the time before; now 1.25x the rate before (median), 1.00x vde_plug's
 * against 0.91x, 2.57 ms of CPU per MB against 2.96 (vde_plug 2.53).
 */
export class DemandGovernor {
  readonly #now: () => number;
  readonly #sched: DemandSched;
  #realtime: RealtimeGovernor | null = null;
  /** Lossy bytes drained (DRAINED), and sent to the lossy peer (SENT); its hold is bulk coming in. */
  readonly #window: RateWindow;
  /** When a window last had a stream's worth sent to the lossy peer. */
  readonly #sending = new BulkHold();

  constructor(now: () => number, sched: DemandSched = ordinarySched()) {
    this.#now = now;
    this.#sched = sched;
    this.#window = new RateWindow(2, now());
  }

  /** True while the thread runs under its real-time governor. */
  get realtime(): boolean {
    return this.#realtime !== null;
  }

  /** What one wake-up drained from lossy sources. */
  drained(bytes: number, frames: number): void {
    this.#window.add(DRAINED, bytes);
    if (bytes >= LATE_BYTES) this.#bulk(this.#now());
    else if (frames >= LATE_FRAMES) {
      const now = this.#now();
      if (!this.#sending.held(now)) this.#bulk(now);
    }
  }

  /** What one wake-up sent to the lossy peer. */
  sent(bytes: number): void {
    this.#window.add(SENT, bytes);
  }

  /** Before a wait that blocks. */
  idle(): void {
    this.#check();
    this.#realtime?.idle();
  }

  /** After the blocking wait. */
  woke(): void {
    this.#realtime?.woke();
  }

  /** After a look that found work without blocking. */
  busy(): void {
    this.#check();
    this.#realtime?.busy();
  }

  #bulk(now: number): void {
    this.#window.sign(now);
    if (this.#realtime === null) {
      this.#realtime = new RealtimeGovernor(this.#now, {
        raise: this.#sched.raise,
        setRealtime: this.#sched.setRealtime,
      });
    }
  }

  #check(): void {
    const now = this.#now();
    const w = this.#window;
    const bulk = w.roll(now);
    if (bulk === NOT_ENDED) return;
    if ((bulk & (1 << DRAINED)) !== 0) this.#bulk(now);
    if ((bulk & (1 << SENT)) !== 0) this.#sending.sign(now);
    if (this.#realtime !== null && !w.held(now)) {
      this.#realtime = null;
      this.#sched.lower();
    }
  }
}

/** Average frame size sent, bytes, at or below which a download yields: MTU 1500 frames (a tag included). */
const YIELD_FRAME_BYTES = 1522;
/**
 * The nice value a yielding thread takes: the one the guest side's processes have. Not above it:
 * at nice 5 during a download (a thread whose own value was 0), behind Debian's switch, the switch
 * and the guest's plug ran for every frame or two as it came (the switch slept 96-202 times per MB
 * against 32-39) and the download was slower, 1,109, 1,468 and 1,511 Mbit/s against 1,819, 1,694
 * and 1,658 (alternating single runs, slirpdl3).
 */
const YIELD_NICE = 0;

/** The download yield's counters. */
const OUT = 0;
const OUT_FRAMES = 1;
const IN = 2;

/**
 * Nice 0 while the thread streams MTU 1500 frames out and receives little
 * (a download towards a guest), its own nice value otherwise. Such a
 * download is clocked by the guest's acknowledgements, and what bounds it
 * is the guest side: behind Debian's vde_switch, the switch, the guest's
 * vde_plug and the guest's kernel together spend more CPU per byte than
 * the slirp, on the same two cores. A thread at nice -20 or real-time that
 * wakes for each batch of acknowledgements preempts whichever of them runs
 * on its core. Measured there, iperf3 host->guest after one guest->host
 * (two cores loaded by other work, 4 alternating rounds of 5 s): real-time
 * as before, Debian's switch was preempted 196-428 times per MB (22-194
 * forwarding libslirp's download in most rounds, which runs at nice 0) and
 * spent 1.7-2.4 ms of CPU per MB, the guest's vde_plug 1.9-2.6 and the
 * slirp thread 2.8-3.2, waking 144-196 times per MB; yielding, the switch
 * was preempted 48-130 times per MB and spent 1.2-2.0 ms, the plug
 * 1.7-2.1 and the slirp thread 2.0-2.9, taking more acknowledgements per
 * wake-up (17-36 per MB). The rate moved with the machine's load either
 * way (920, 992, 355, 563 Mbit/s against 687, 766, 754, 916), and the
 * guest's retransmits rose from 0-10 to 6-15 (libslirp's 5-12): a thread
 * late for its acknowledgements answers them with a bigger burst. Jumbo
 * frames (MTU 65520, behind our own switch) cost the guest side far less
 * per byte and the slirp is then the bottleneck: they keep the priority
 * (and count as bulk for the demand governor), as does an upload. The
 * thread reports each round's traffic (`round`); the demand governor's
 * real-time class takes precedence (it sets its own nice value).
 */
export class DownloadYield {
  readonly #now: () => number;
  readonly #setNice: (nice: number) => void;
  readonly #base: number;
  /** Bytes and frames sent, bytes received; its hold is the download's. */
  readonly #window: RateWindow;
  #yielded = false;

  /**
   * @param now the thread's clock, ms
   * @param base the thread's own nice value, taken back when the download ends
   * @param setNice sets the calling thread's nice value (replaced in tests)
   */
  constructor(now: () => number, base: number, setNice: (nice: number) => void = threadNice()) {
    this.#now = now;
    this.#base = base;
    this.#setNice = setNice;
    this.#window = new RateWindow(3, now());
  }

  /** True while the thread has given up its priority to a download. */
  get yielded(): boolean {
    return this.#yielded;
  }

  /**
   * One round's traffic with the switch: bytes and frames sent, bytes
   * received. `realtime`: the demand governor holds the thread (it set the
   * thread's priority; a yield is forgotten and taken again after it).
   */
  round(bytesOut: number, framesOut: number, bytesIn: number, realtime: boolean): void {
    const w = this.#window;
    w.add(OUT, bytesOut);
    w.add(OUT_FRAMES, framesOut);
    w.add(IN, bytesIn);
    if (realtime) this.#yielded = false;
    const now = this.#now();
    if (w.roll(now) === NOT_ENDED) return;
    const download = w.bulk(OUT) && !w.bulk(IN) && smallFrames(w.sum(OUT), w.sum(OUT_FRAMES));
    if (download) w.sign(now);
    if (this.#base >= YIELD_NICE || realtime) return;
    if (download && !this.#yielded) {
      this.#yielded = true;
      this.#setNice(YIELD_NICE);
    } else if (this.#yielded && !w.held(now)) {
      this.#yielded = false;
      this.#setNice(this.#base);
    }
  }
}

/**
 * Whether frames sent are MTU 1500 ones on average, whose download yields
 * (`DownloadYield`); jumbo ones count as bulk for the demand governor, and
 * the switch thread does not poll after a turn of them (switch_worker.ts, SPIN_MS).
 */
export function smallFrames(bytes: number, frames: number): boolean {
  return bytes <= YIELD_FRAME_BYTES * frames;
}

/** Sets the calling thread's nice value. */
function threadNice(): (nice: number) => void {
  const tid = libc().gettid();
  return (nice) => void libc().setpriority(PRIO_PROCESS, tid, nice);
}

/** The calling thread's nice value. */
export function currentNice(): number {
  return libc().getpriority(PRIO_PROCESS, libc().gettid());
}
