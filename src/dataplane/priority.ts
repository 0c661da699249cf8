/**
 * Scheduling priority for the data-plane threads (receive and plug threads).
 */
import { libc } from "../../ffi/libc.ts";

const PRIO_PROCESS = 0;
const SCHED_RR = 2;

/**
 * Makes the calling thread the first to run when frames arrive. The kernel holds
 * only about 100 frames for us (the C switch's send buffer), a millisecond
 * at 1 Gbit/s: on a busy machine a thread that waits a millisecond for a
 * core loses frames. Measured, 50 MB through slirp behind the C switch on
 * two loaded cores: 2,311 frames lost at normal priority, 400-800 at nice
 * -20, none with SCHED_RR. Only a thread that never writes to a tap asks
 * for SCHED_RR (`realtime`): a tap write runs the kernel's receive path,
 * whose overflow goes to ksoftirqd, a normal thread that a busy real-time
 * thread would starve (stalling TCP for seconds). The others take nice -20.
 * The threads block as soon as there is nothing to move (an empty socket, a
 * full ring, a full peer). Without the privilege (CAP_SYS_NICE, or
 * RLIMIT_RTPRIO / RLIMIT_NICE) a thread runs at nice -20 if allowed, else
 * normally.
 */
export function raisePriority(realtime: boolean): void {
  const c = libc();
  const tid = c.gettid();
  const param = new Uint8Array(4); // struct sched_param { int sched_priority; }
  param[0] = 1;
  if (realtime && c.sched_setscheduler(tid, SCHED_RR, param) === 0) return;
  // PRIO_PROCESS with a thread id sets that thread's nice value only.
  c.setpriority(PRIO_PROCESS, tid, -20);
}
