/**
 * Scheduling priority for the data-plane threads: `raisePriority` once at
 * start (the receive thread), a `RealtimeGovernor` for a thread that may be
 * saturated for long, a `DemandGovernor` for one that needs real-time only
 * while a lossy sender streams to it (the plug and slirp threads), and
 * `raiseNice` before it for the slirp thread, whose real-time wake-ups cost
 * most.
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
 * normally.
 *
 * @returns true when the thread now runs SCHED_RR
 */
export function raisePriority(): boolean {
  raiseNice();
  return setRealtime(true);
}

/** Makes the calling thread nice -20 (if allowed), in the ordinary class. */
export function raiseNice(): void {
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
/** How long real-time is kept after the last sign of bulk. */
const HOLD_MS = 200;

/** The calls a `DemandGovernor` makes (replaced in tests). */
export interface DemandSched {
  /** SCHED_RR at nice -20 (see `raisePriority`); true when in the real-time class. */
  raise: () => boolean;
  setRealtime: (on: boolean) => boolean;
  /** Back to the ordinary class at the thread's own nice value. */
  lower: () => void;
}

function ordinarySched(): DemandSched {
  const tid = libc().gettid();
  const nice = libc().getpriority(PRIO_PROCESS, tid);
  return {
    raise: raisePriority,
    setRealtime,
    lower: () => {
      setRealtime(false);
      libc().setpriority(PRIO_PROCESS, tid, nice);
    },
  };
}

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
  #windowStart: number;
  #bytes = 0;
  #lastBulk = -Infinity;
  /** Bytes sent to the lossy peer in this window, and when a window last had a stream's worth. */
  #sentBytes = 0;
  #lastSentBulk = -Infinity;

  constructor(now: () => number, sched: DemandSched = ordinarySched()) {
    this.#now = now;
    this.#sched = sched;
    this.#windowStart = now();
  }

  /** True while the thread runs under its real-time governor. */
  get realtime(): boolean {
    return this.#realtime !== null;
  }

  /** What one wake-up drained from lossy sources. */
  drained(bytes: number, frames: number): void {
    this.#bytes += bytes;
    if (bytes >= LATE_BYTES) this.#bulk(this.#now());
    else if (frames >= LATE_FRAMES) {
      const now = this.#now();
      if (now - this.#lastSentBulk > HOLD_MS) this.#bulk(now);
    }
  }

  /** What one wake-up sent to the lossy peer. */
  sent(bytes: number): void {
    this.#sentBytes += bytes;
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
    this.#lastBulk = now;
    if (this.#realtime === null) {
      this.#realtime = new RealtimeGovernor(this.#now, {
        raise: this.#sched.raise,
        setRealtime: this.#sched.setRealtime,
      });
    }
  }

  #check(): void {
    const now = this.#now();
    const elapsed = now - this.#windowStart;
    if (elapsed < WINDOW_MS) return;
    if (this.#bytes >= BULK_BYTES_PER_MS * elapsed) this.#bulk(now);
    if (this.#sentBytes >= BULK_BYTES_PER_MS * elapsed) this.#lastSentBulk = now;
    this.#bytes = 0;
    this.#sentBytes = 0;
    this.#windowStart = now;
    if (this.#realtime !== null && now - this.#lastBulk > HOLD_MS) {
      this.#realtime = null;
      this.#sched.lower();
    }
  }
}
