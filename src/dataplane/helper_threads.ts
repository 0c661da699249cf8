/**
 * V8's helper threads run below the data plane: `SCHED_IDLE`.
 *
 * Theory of operation: a Deno process has a few threads V8 makes for its
 * own work ("V8 DefaultWorke" in /proc/PID/task/TID/comm: concurrent and
 * parallel GC, the optimizing compiler), shared by every isolate of the
 * process. They run at the process's priority, and a switch thread woken
 * for a frame while one of them held its core waited runnable up to the
 * scheduler's next tick (4 ms at HZ=250; traced with
 * scripts/ping_stall_trace.ts, up to 4.8 ms, once with the other core
 * idle). A `SCHED_IDLE` thread is preempted at once by any ordinary thread
 * that wakes on its core, so the helpers then take only what the data
 * plane leaves. They are demoted after the data-plane thread's warm-up,
 * whose code the compiler helpers optimize (starved, the warm-up would end
 * with its loop still in a lower tier), and V8 makes them lazily: a sweep
 * of /proc/self/task on a timer of the main thread demotes those that
 * appeared since (a directory of a few dozen names a second; a thread's
 * comm is read once). `HelperSweep` is the pure part (the reads and the
 * call are given); `holdHelperSweep` runs one per process for as long as
 * any data-plane thread holds it.
 */
import { libc } from "../../ffi/libc.ts";

/** Whether a thread named `comm` is one of V8's helpers (the kernel keeps 15 bytes of a name). */
export function isV8Helper(comm: string): boolean {
  return comm.startsWith("V8 ");
}

/** The reads and the call a sweep makes (replaced in tests). */
export interface SweepOs {
  /** The process's thread ids now. */
  tids(): number[];
  /** A thread's name, or null once it is gone. */
  comm(tid: number): string | null;
  /** Moves a thread to SCHED_IDLE; true when done. */
  demote(tid: number): boolean;
}

/** Demotes each helper thread once, looking at each thread's name once. */
export class HelperSweep {
  readonly #os: SweepOs;
  /** Threads already looked at (a helper demoted, or another thread left alone). */
  #seen = new Set<number>();
  /** Helpers demoted so far. */
  demoted = 0;

  constructor(os: SweepOs) {
    this.#os = os;
  }

  /** Looks at the threads not seen before; returns how many it demoted. */
  sweep(): number {
    const now = new Set<number>();
    let n = 0;
    for (const tid of this.#os.tids()) {
      now.add(tid);
      if (this.#seen.has(tid)) continue;
      const comm = this.#os.comm(tid);
      if (comm === null) {
        now.delete(tid);
        continue;
      }
      if (isV8Helper(comm) && this.#os.demote(tid)) n++;
    }
    // Threads gone are forgotten, so a reused id is looked at again.
    this.#seen = now;
    this.demoted += n;
    return n;
  }
}

const SCHED_IDLE = 5;
const param = new Uint8Array(4); // struct sched_param { int sched_priority; } (0)

/** The sweep's calls on this process. */
function procOs(): SweepOs {
  return {
    tids: () => {
      const tids: number[] = [];
      for (const e of Deno.readDirSync("/proc/self/task")) tids.push(Number(e.name));
      return tids;
    },
    comm: (tid) => {
      try {
        return Deno.readTextFileSync(`/proc/self/task/${tid}/comm`).trimEnd();
      } catch {
        return null;
      }
    },
    demote: (tid) => libc().sched_setscheduler(tid, SCHED_IDLE, param) === 0,
  };
}

/** How often the sweep looks for helpers V8 made since. */
export const SWEEP_MS = 1000;

let holders = 0;
let timer: ReturnType<typeof setInterval> | undefined;
let sweep: HelperSweep | null = null;

/**
 * Demotes V8's helper threads now and keeps demoting new ones every
 * SWEEP_MS until every holder let go (the returned function, idempotent).
 * The timer does not keep the process alive. Set `VDE_HELPERS_IDLE=0` to
 * leave them at the process's priority (measurements).
 */
export function holdHelperSweep(): () => void {
  if (Deno.env.get("VDE_HELPERS_IDLE") === "0") return () => {};
  if (holders++ === 0) {
    sweep ??= new HelperSweep(procOs());
    const run = () => {
      try {
        sweep!.sweep();
      } catch {
        // /proc unreadable (a sandbox): the helpers keep the process's priority, as before.
      }
    };
    run();
    const t = timer = setInterval(run, SWEEP_MS);
    Deno.unrefTimer(t);
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--holders === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
