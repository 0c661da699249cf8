/**
 * Scheduling priority for the data-plane threads (receive, plug and slirp
 * threads): `raisePriority` once at start, and a `RealtimeGovernor` for a
 * thread that may be saturated for long (the plug and slirp threads).
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
  // PRIO_PROCESS with a thread id sets that thread's nice value only.
  libc().setpriority(PRIO_PROCESS, libc().gettid(), -20);
  return setRealtime(true);
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
