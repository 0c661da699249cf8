/**
 * Where one thread's time goes per wake-up, in user space between its system
 * calls: a data-plane thread (ours or a C program's) while a command runs
 * (`ping -c 100 -i 0.01 ...`). Run as root:
 *   deno run -A scripts/wake_trace.ts TID -- ip netns exec a ping -c 100 -i 0.01 10.0.0.2
 *
 * Theory of operation: the machine this was written on has no hardware
 * counters (perf stat's cycles, instructions, cache-misses, iTLB-load-misses
 * read "not supported" in its VM), and perf's sampling profile lands in the
 * kernel where interrupts are enabled again. What can be timed is the gap
 * between system calls: `perf record` of the raw_syscalls tracepoints of
 * thread TID (each entry and exit time-stamped by the kernel, no ptrace
 * stop as strace makes), and sched_switch to see preemption. Each wake-up
 * is a wait's return (epoll_pwait, poll, epoll_wait) and what follows until
 * the next wait; it is cold when that wait slept more than COLD_US (another
 * process ran meanwhile and took the caches and TLBs), warm otherwise (a
 * ping's reply right behind its request). Per kind of wake-up it prints the
 * medians of the user-space gaps in the order the calls came (wait ->
 * first call, call -> call, ..., last -> next wait), keyed by the calls'
 * names, so a thread that makes C's calls (wait, receive, send) and spends
 * longer between them shows which stretch of code is slow, and one that
 * makes more calls shows them. A gap holds the code that ran, plus any
 * preemption (counted in the output).
 */

/** A wait that slept longer than this (µs) starts a cold wake-up. */
export const COLD_US = 1000;

/** System call names by x86_64 number, for the calls a data-plane thread makes. */
const NAMES: Record<number, string> = {
  0: "read",
  1: "write",
  7: "poll",
  44: "sendto",
  45: "recvfrom",
  46: "sendmsg",
  47: "recvmsg",
  202: "futex",
  228: "clock_gettime",
  232: "epoll_wait",
  281: "epoll_pwait",
  299: "recvmmsg",
  307: "sendmmsg",
};
const WAITS = new Set(["poll", "epoll_wait", "epoll_pwait"]);

/** One traced event: a system call's entry or exit, or the thread switched out. */
export interface TraceEvent {
  us: number;
  kind: "enter" | "exit" | "switch";
  call: string;
}

/** Parses `perf script -F time,event,trace` lines (other lines are skipped). */
export function parseTrace(text: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  const re = /([\d.]+):\s+(?:raw_syscalls:sys_(enter|exit): NR (\d+)|(sched:sched_switch))/;
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (m === null) continue;
    const us = Number(m[1]) * 1e6;
    if (m[4] !== undefined) events.push({ us, kind: "switch", call: "" });
    else {
      const nr = Number(m[3]);
      events.push({ us, kind: m[2] === "enter" ? "enter" : "exit", call: NAMES[nr] ?? `nr${nr}` });
    }
  }
  return events;
}

/** One wake-up: its calls between the wait's return and the next wait, and the user-space gaps. */
export interface Wake {
  cold: boolean;
  /** The calls made, the wait that ended it last ("recvmmsg sendmmsg epoll_pwait"). */
  calls: string[];
  /** µs in user space before each call of `calls`. */
  gaps: number[];
  preempted: boolean;
}

/** Splits events into wake-ups (only complete ones: a wait's return to the next wait's entry). */
export function wakes(events: TraceEvent[]): Wake[] {
  const out: Wake[] = [];
  let waitEntered = -1;
  let current: Wake | null = null;
  let lastExit = 0;
  for (const e of events) {
    if (e.kind === "switch") {
      if (current !== null) current.preempted = true;
      continue;
    }
    if (e.kind === "enter") {
      if (current !== null) {
        current.calls.push(e.call);
        current.gaps.push(e.us - lastExit);
        if (WAITS.has(e.call)) {
          out.push(current);
          current = null;
        }
      }
      if (WAITS.has(e.call)) waitEntered = e.us;
      continue;
    }
    lastExit = e.us;
    if (WAITS.has(e.call) && waitEntered >= 0) {
      current = { cold: e.us - waitEntered > COLD_US, calls: [], gaps: [], preempted: false };
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

/** Per kind (cold/warm) and sequence of calls, the count and the median gap before each call. */
export function summarize(all: Wake[]): string[] {
  const groups = new Map<string, Wake[]>();
  for (const w of all) {
    const key = `${w.cold ? "cold" : "warm"}: ${w.calls.join(" ")}`;
    const list = groups.get(key) ?? [];
    list.push(w);
    groups.set(key, list);
  }
  const lines: string[] = [];
  const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  for (const [key, list] of sorted.slice(0, 6)) {
    const calls = list[0]!.calls;
    const gaps = calls.map((call, i) => `${median(list.map((w) => w.gaps[i]!)).toFixed(1)} -> ${call}`);
    const total = median(list.map((w) => w.gaps.reduce((a, b) => a + b, 0)));
    const preempted = list.filter((w) => w.preempted).length;
    lines.push(
      `${key.split(":")[0]} x${list.length} (${preempted} preempted), user µs ${total.toFixed(1)}: ${
        gaps.join(", ")
      }`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const sep = Deno.args.indexOf("--");
  const tid = Deno.args[0];
  if (tid === undefined || !/^\d+$/.test(tid) || sep < 0 || sep === Deno.args.length - 1) {
    console.error("usage: deno run -A scripts/wake_trace.ts TID -- COMMAND [ARGS...]");
    Deno.exit(2);
  }
  const data = await Deno.makeTempFile({ prefix: "wake_trace", suffix: ".data" });
  try {
    const events = "raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch";
    const rec = await new Deno.Command("perf", {
      args: ["record", "-q", "-e", events, "-t", tid, "-o", data, "--", ...Deno.args.slice(sep + 1)],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!rec.success) throw new Error(`perf record failed (exit ${rec.code})`);
    const script = await new Deno.Command("perf", {
      args: ["script", "-i", data, "-F", "time,event,trace"],
      stdout: "piped",
      stderr: "null",
    }).output();
    for (const line of summarize(wakes(parseTrace(new TextDecoder().decode(script.stdout))))) {
      console.log(line);
    }
  } finally {
    await Deno.remove(data).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`wake_trace: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
