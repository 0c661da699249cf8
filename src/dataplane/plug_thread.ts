/**
 * A plug thread, seen from the main thread: `plug(a, b)` hands both fds
 * here when both links can lend theirs (a vde:// socket, a tap), and frames
 * then go from one to the other on a Worker (plug_worker.ts) without ever
 * reaching the main thread.
 *
 * Shutdown order: `stop()` sets the stop flag and writes the wake eventfd;
 * the worker leaves `epoll_wait`, closes its epoll set and posts "stopped".
 * `released` resolves only then, and the links close their fds only after
 * it (they were lent with that promise), so no system call of the worker
 * outlives an fd it uses; a worker that does not answer within the bound
 * is terminated, and `released` never resolves: its fds stay open. `ended`
 * resolves when the thread stopped, with the reason when the cable ended
 * by itself (a tap removed, a peer gone).
 *
 * The thread has no log: what it drops (a frame longer than a VDE frame from
 * a tap whose MTU is too high, a runt, sends that fail) it counts, and posts
 * the first of each kind on each end here (a PlugDropped), where it is said
 * with the line a link on the main thread says for the same drop.
 */
import {
  counterIndex,
  PLUG_SHARED_BYTES,
  PLUG_STOP,
  PLUG_WARM_WAITS,
  type PlugDropped,
  type PlugEnd,
  type PlugReply,
  type PlugStart,
} from "./plug_layout.ts";
import { logOfKind, runtLine } from "../link/link.ts";
import { oversizeLine } from "../link/oversize_line.ts";
import { keepWarmMs } from "./keep_warm.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** How long `stop()` waits for the worker to leave its loop before terminating it. */
const STOP_TIMEOUT_MS = 2000;

/** Counters of one direction of a plug thread. */
export interface PlugFlow {
  frames: number;
  bytes: number;
  drops: number;
}

/** Forwards between two fds on a thread of its own. */
export class PlugThread {
  readonly #thread: WorkerHandle;
  readonly #shared = new SharedArrayBuffer(PLUG_SHARED_BYTES);
  readonly #control = new Int32Array(this.#shared, 0, 4);
  readonly #counters = new Float64Array(this.#shared, 16);
  /** Resolves once the worker has stopped using the fds: with a reason if the cable ended by itself. */
  readonly ended: Promise<string | null>;
  #stopping: Promise<void> | null = null;

  /**
   * `file`: the worker's code (tests give a stand-in); `say`: where the thread's drops are said, as
   * the kind of line (for its limit per minute) and the line.
   */
  constructor(
    a: PlugEnd,
    b: PlugEnd,
    file = new URL("./plug_worker.ts", import.meta.url),
    say: (kind: string, line: string) => void = logOfKind,
  ) {
    const thread = this.#thread = new WorkerHandle("plug_worker", file);
    this.ended = new Promise((resolve) => {
      thread.worker.onmessage = (e: MessageEvent<PlugReply>) => {
        const reply = e.data;
        if ("dropped" in reply) say(reply.dropped, plugDropLine(reply, reply.end === "a" ? a : b));
        else resolve(reply.reason);
      };
      // A worker that died (its load failed, or it threw) ended the cable, said as its reason. Left
      // unhandled, its error event reached this thread as an uncaught error and ended the whole process.
      thread.worker.onerror = (e) => {
        e.preventDefault();
        resolve(`plug thread failed: ${e.message}`);
      };
    });
    const start: PlugStart = { a, b, wakeFd: thread.wakeFd, shared: this.#shared, keepWarmMs: keepWarmMs() };
    thread.worker.postMessage(start);
  }

  /** What went from a to b (`ab`) or from b to a (`ba`) so far. */
  flow(direction: "ab" | "ba"): PlugFlow {
    const i = counterIndex(direction);
    return { frames: this.#counters[i]!, bytes: this.#counters[i + 1]!, drops: this.#counters[i + 2]! };
  }

  /** Short waits the thread has taken to stay warm after traffic (plug_worker.ts): they stop once it is idle. */
  get warmWaits(): number {
    return Atomics.load(this.#control, PLUG_WARM_WAITS);
  }

  /**
   * Resolves once the stopped worker can no longer use the fds, which may
   * then be closed; never when it did not answer its stop (see WorkerHandle).
   */
  get released(): Promise<void> {
    return this.#thread.released;
  }

  /** Stops the thread; resolves once it has answered or was terminated for not answering (see `released`). */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    Atomics.store(this.#control, PLUG_STOP, 1);
    await this.#thread.stop(this.ended, STOP_TIMEOUT_MS);
  }
}

/** The line a plug thread's drop on `end` is said with: the words a link on the main thread uses. */
export function plugDropLine(drop: PlugDropped, end: PlugEnd): string {
  switch (drop.dropped) {
    case "oversize":
      // A tap's end is named "tap NAME", as its link's description.
      return oversizeLine(
        end.name,
        drop.value,
        end.kind === "tap" ? end.name.replace(/^tap /, "") : null,
        "dropped",
      );
    case "runt":
      return runtLine(end.name, drop.value);
    case "send":
      // As the link's own send says it (dgram_link.ts, tap_link.ts).
      return `${end.kind === "tap" ? "write" : "send"} to ${end.name} failed: errno ${drop.value}`;
  }
}

/** A link that can hand its fd to a plug thread. */
export interface FdLender {
  /** True once the link has ended (its fd may be closed: nothing to lend). */
  readonly isClosed: boolean;
  /**
   * Stops handling the fd on the main thread (no more reading, sending
   * drops) and lends it; the link closes it only after `returned` resolves.
   */
  lendFd(returned: Promise<unknown>): Promise<PlugEnd>;
}

/** Whether `link` can lend its fd to a plug thread. */
export function canLendFd(link: object): link is FdLender {
  return typeof (link as Partial<FdLender>).lendFd === "function";
}
