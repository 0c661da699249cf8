/**
 * Scheduling priority for the data-plane threads (receive and plug threads).
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
 * leaves the real-time class, see `setRealtime`), then SCHED_RR when
 * `realtime`. The threads block as soon as there is nothing to move (an
 * empty socket, a full ring, a full peer). Without the privilege
 * (CAP_SYS_NICE, or RLIMIT_RTPRIO / RLIMIT_NICE) a thread runs at nice -20
 * if allowed, else normally.
 *
 * @returns true when the thread now runs SCHED_RR
 */
export function raisePriority(realtime: boolean): boolean {
  // PRIO_PROCESS with a thread id sets that thread's nice value only.
  libc().setpriority(PRIO_PROCESS, libc().gettid(), -20);
  return realtime && setRealtime(true);
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
