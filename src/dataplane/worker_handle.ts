/**
 * The main thread's hold on a data-plane Worker whose loop blocks in a
 * synchronous `epoll_wait` (the receive, switch, plug and slirp threads):
 * the Worker itself, started from its file or the bundle's copy, and the
 * wake eventfd in its epoll set.
 *
 * Such a loop takes no messages while it runs, so what the main thread
 * asks goes through shared memory plus a write to the eventfd. Stopping is
 * the same for each: the owner raises its stop flag, then `stop` wakes the
 * thread, waits (bounded) for its last word, and only then terminates the
 * Worker and closes the eventfd: the worker may be inside a system call on
 * it until it has spoken. One that never spoke keeps its fds: closing a
 * number a thread may still write to lets it write into whatever file gets
 * that number next; a few leaked fds in a process that is stopping cost
 * nothing. The same holds for every fd lent to the worker (a port's socket,
 * a tap): its owner closes it only once `released` resolves, which it never
 * does for a worker that did not answer.
 *
 * The bound is for a loop that does not answer, so it counts from when the
 * worker's code runs (its loaded word, worker_loaded.ts), not from the
 * stop: a stop can come before that (a link lends its fd to a plug thread
 * just after it started its receive thread), and Deno's load of a
 * worker's graph, type check included under `deno test`, took seconds on a
 * loaded machine. Counted from the stop, such a worker was terminated
 * before it ran a line, and what was lent to it never came back. Until it
 * has loaded a worker cannot answer anyway; the wait for that has a bound
 * of its own (LOAD_TIMEOUT_MS) and ends at once if the load fails. A worker
 * whose load failed never ran a line, so nothing lent to it can be in use:
 * its fds are released as an answer's are, though it did not answer.
 *
 * A worker that ran and then failed (an uncaught error: Deno ends it then)
 * runs no code any more either, and the error event says so at once: a
 * stop that finds it so, or sees it so while waiting, returns at once as
 * for an answer, and releases its fds (a stop waited out its bound for it).
 *
 * A user who signals a stopping process again (a second Ctrl-C) does not
 * want to wait out that load bound: `hurryStops` ends every wait for a load
 * at once, in this thread's handles, and such a worker is terminated
 * unanswered (its fds leaked, as above: the process is on its way out).
 */
import { C, check, direct, libc } from "../../ffi/libc.ts";
import { watchLoaded } from "./worker_loaded.ts";
import { type WorkerName, workerUrl } from "./worker_url.ts";

/**
 * How long `stop` waits for a worker's code to run before its own bound starts: a load that slow
 * is a hung one (the test helpers give the first worker of a loaded test process a minute too).
 */
const LOAD_TIMEOUT_MS = 60_000;

/** Resolved by `hurryStops`: no stop waits for a worker's load any longer. */
const hurried = Promise.withResolvers<void>();

/** Ends, now and for every later stop, the wait for workers still loading (a second stop signal). */
export function hurryStops(): void {
  hurried.resolve();
}

export class WorkerHandle {
  readonly worker: Worker;
  /** Eventfd in the worker's epoll set; closed by `stop`. */
  readonly wakeFd: number;
  /** Resolves once the worker's code runs (Deno's load of it, and what that drew on the terminal, over). */
  readonly loaded: Promise<void>;
  /** The eventfd increment, made once (a wake-up may come with every /metrics scrape). */
  readonly #one = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0);
  readonly #released = Promise.withResolvers<void>();
  /** Resolves when the worker reports an error: it ended (one while loading means its code never ran). */
  readonly #failed = Promise.withResolvers<void>();
  #ran = false;
  #loadFailed = false;
  /**
   * Resolves once `stop` found that the worker answered: none of its system
   * calls can touch an fd lent to it any more, which may then be closed.
   * Never resolves when it did not answer: such fds stay open for good.
   */
  readonly released: Promise<void> = this.#released.promise;

  /** Starts worker `name` from `file` (see workerUrl). */
  constructor(name: WorkerName, file: URL) {
    this.wakeFd = check("eventfd", libc().eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK));
    this.worker = new Worker(workerUrl(name, file), { type: "module" });
    this.loaded = watchLoaded(this.worker);
    this.loaded.then(() => this.#ran = true, () => {});
    // Not the owner's handler (which may cancel the default): a worker that failed to load never runs.
    this.worker.addEventListener("error", () => {
      if (!this.#ran) this.#loadFailed = true;
      this.#failed.resolve();
    }, { once: true });
  }

  /** Makes the worker's `epoll_wait` return. */
  wake(): void {
    direct.write(this.wakeFd, this.#one, 8);
  }

  /**
   * Wakes the worker (its stop flag raised) and waits for `ended` (its last
   * word) at most `timeoutMs` from when its code runs (a worker still
   * loading takes its stop as it starts); the Worker is terminated after
   * either, the eventfd closed only if it answered. A worker that ran and
   * then failed (its error event) counts as one that answered: it ended.
   * Call once.
   *
   * @returns whether the worker answered in time or had ended (what it said stays in `ended`)
   */
  async stop(ended: Promise<unknown>, timeoutMs: number): Promise<boolean> {
    this.wake();
    const timers: ReturnType<typeof setTimeout>[] = [];
    const after = (ms: number) =>
      new Promise<false>((resolve) => timers.push(setTimeout(() => resolve(false), ms)));
    const answer = ended.then(() => true);
    let answered = false;
    try {
      const running = await Promise.race([
        this.loaded.then(() => null),
        answer,
        // Failed loading: no answer will come. Failed once it ran: it ended, as good as an answer.
        this.#failed.promise.then(() => this.#ran),
        // Only a load is cut short: a worker that runs still gets its bound to answer.
        hurried.promise.then(() => this.#ran ? null : false),
        after(LOAD_TIMEOUT_MS),
      ]);
      // Its error event, before the stop or during the wait: it ended, and runs nothing more.
      const died = this.#failed.promise.then(() => true);
      answered = running ?? await Promise.race([answer, died, after(timeoutMs)]);
      return answered;
    } finally {
      for (const timer of timers) clearTimeout(timer);
      this.worker.terminate();
      // A worker that did not answer may still be inside a system call, or make one more before
      // termination reaches it: its eventfd stays open (leaked) so its number is never reused under it.
      if (answered || this.#loadFailed) {
        libc().close(this.wakeFd);
        this.#released.resolve();
      }
    }
  }
}
