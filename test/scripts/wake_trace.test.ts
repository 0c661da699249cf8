/**
 * scripts/wake_trace.ts splits a thread's traced system calls into wake-ups, cold after a long wait
 * and warm after a short one, and times the user-space gap before each call.
 */
import assert from "node:assert/strict";
import { parseTrace, summarize, wakes } from "../../scripts/wake_trace.ts";

// A lone frame after 10 ms asleep (wait, receive, send, wait), then its reply 50 µs later.
const TRACE = `
 100.000000: raw_syscalls:sys_enter: NR 281 (18, 7f, 40, 3e8, 0, 8)
 100.010000:  raw_syscalls:sys_exit: NR 281 = 1
 100.010012: raw_syscalls:sys_enter: NR 299 (1b, 7f, 40, 40, 0, 0)
 100.010015:  raw_syscalls:sys_exit: NR 299 = 1
 100.010025: raw_syscalls:sys_enter: NR 307 (1d, 7f, 1, 4040, 0, 0)
 100.010027:     sched:sched_switch: prev_comm=worker-1 prev_pid=5 prev_prio=120 prev_state=R+ ==> next_comm=x
 100.010040:  raw_syscalls:sys_exit: NR 307 = 1
 100.010048: raw_syscalls:sys_enter: NR 281 (18, 7f, 40, 3e8, 0, 8)
 100.010098:  raw_syscalls:sys_exit: NR 281 = 1
 100.010099: raw_syscalls:sys_enter: NR 299 (1d, 7f, 40, 40, 0, 0)
 100.010100:  raw_syscalls:sys_exit: NR 299 = 1
 100.010102: raw_syscalls:sys_enter: NR 307 (1b, 7f, 1, 4040, 0, 0)
 100.010103:  raw_syscalls:sys_exit: NR 307 = 1
 100.010104: raw_syscalls:sys_enter: NR 281 (18, 7f, 40, 3e8, 0, 8)
`;

Deno.test("wake_trace times the user-space gaps of a cold wake-up and of a warm one", () => {
  const found = wakes(parseTrace(TRACE));
  assert.equal(found.length, 2);
  const [cold, warm] = found;
  assert.deepEqual(cold!.calls, ["recvmmsg", "sendmmsg", "epoll_pwait"]);
  assert.deepEqual(cold!.gaps.map(Math.round), [12, 10, 8]);
  assert.equal(cold!.cold, true);
  assert.equal(cold!.preempted, true);
  assert.equal(warm!.cold, false);
  assert.deepEqual(warm!.gaps.map(Math.round), [1, 2, 1]);
  assert.deepEqual(summarize(found), [
    "cold x1 (1 preempted), user µs 30.0: 12.0 -> recvmmsg, 10.0 -> sendmmsg, 8.0 -> epoll_pwait",
    "warm x1 (0 preempted), user µs 4.0: 1.0 -> recvmmsg, 2.0 -> sendmmsg, 1.0 -> epoll_pwait",
  ]);
});

Deno.test("wake_trace skips lines that are not its events and a wake-up cut off by the trace's end", () => {
  const text =
    "garbage\n 1.000000: raw_syscalls:sys_exit: NR 281 = 1\n 1.000010: raw_syscalls:sys_enter: NR 299 (0)\n";
  assert.deepEqual(wakes(parseTrace(text)), []);
});
