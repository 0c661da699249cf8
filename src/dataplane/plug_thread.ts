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
 */
import {
  counterIndex,
  PLUG_SHARED_BYTES,
  PLUG_STOP,
  PLUG_WARM_WAITS,
  type PlugEnd,
  type PlugStart,
  type PlugStopped,
} from "./plug_layout.ts";
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

  /** `file`: the worker's code (tests give a stand-in). */
  constructor(a: PlugEnd, b: PlugEnd, file = new URL("./plug_worker.ts", import.meta.url)) {
    const thread = this.#thread = new WorkerHandle("plug_worker", file);
    this.ended = new Promise((resolve) => {
      thread.worker.onmessage = (e: MessageEvent<PlugStopped>) => resolve(e.data.reason);
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
