/**
 * The slirp thread, seen from the main thread: `vde slirp` lends the
 * switch's datagram socket here and the whole slirp (stack, TCP engine,
 * host sockets) runs on a Worker (slirp_worker.ts) that blocks in one
 * `epoll_wait`. The main thread keeps the control plane: the vde:// link's
 * control stream, signals, the log.
 *
 * Shutdown order: `stop()` sets the stop flag and writes the wake eventfd;
 * the worker leaves its loop, closes the stack (every host socket) and its
 * duplicate of the switch's socket, stops its poller and posts "stopped".
 * `stopped` resolves only then; the caller closes the switch's socket after
 * `released`, so no system call of the worker outlives an fd it uses (a
 * worker that never answers keeps the socket open for good). `ended`
 * resolves when the thread stopped, with the reason when the cable ended by
 * itself (the switch went away).
 */
import type { DgramLink } from "../link/dgram_link.ts";
import { type LinkStats, newLinkStats } from "../link/link.ts";
import { log } from "../log.ts";
import type { SlirpConfig } from "../slirp/config.ts";
import { SLIRP_METRICS, SLIRP_STOP, type SlirpReport, type SlirpStart } from "./slirp_layout.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** How long `stop()` waits for the worker to leave its loop before terminating it. */
const STOP_TIMEOUT_MS = 3000;

/** What the slirp thread said when it stopped. */
export interface SlirpThreadEnd {
  /** Set when the cable ended by itself (the switch went away). */
  reason: string | null;
  /** The switch link's counters on the thread (all 0 when it did not run). */
  link: LinkStats;
}

/**
 * The line `vde slirp` and `vde plug` log about the switch link when they
 * end, on a thread or not: with the switch's own per-port count, it tells
 * how many frames were lost between.
 */
export function switchLinkSummary(st: LinkStats): string {
  return `switch link: ${st.framesIn} frames in, ${st.framesOut} out, dropped ${st.dropsIn} in, ${st.dropsOut} out`;
}

/**
 * Why a slirp with `config` stays on the main thread, or null when it may
 * run on a thread of its own: `thread` false (`--no-thread`), or guest
 * forwards, which start commands and open unix sockets through Deno's API,
 * whose promises wait while the thread blocks in its own epoll_wait.
 */
export function slirpThreadRefusal(config: SlirpConfig, thread = true): string | null {
  if (!thread) return "--no-thread";
  if (config.guestForwards.length > 0) return "guest forwards";
  return null;
}

/** A slirp running on a thread of its own, on a lent datagram socket. */
export class SlirpThread {
  readonly #thread: WorkerHandle;
  readonly #shared = new SharedArrayBuffer(16);
  /** The stop flag and the metrics request counter, over `#shared`. */
  readonly #flags = new Int32Array(this.#shared);
  /** Resolves once the worker no longer uses the socket. */
  readonly ended: Promise<SlirpThreadEnd>;
  /** Resolves with the stack's one-line description once it runs; rejects with a one-line reason. */
  readonly ready: Promise<string>;
  /**
   * Resolves once the first gateway probe after plugging in was answered (the conflict line logged
   * before) or went unanswered, or the thread ended: a `--daemon` start returns then.
   */
  readonly probed: Promise<void>;
  #stopping: Promise<SlirpThreadEnd> | null = null;
  /** Callers waiting for the metrics the thread renders next (see `metrics`). */
  #metricsWaiters: PromiseWithResolvers<string>[] = [];
  /** The thread will answer no more requests (it ended, or its stop gave up waiting). */
  #gone = false;

  /**
   * Starts the thread on `fd` (the switch's socket, lent: it must stay open
   * until `released` resolves). `options.file` stands in another worker for
   * slirp_worker.ts (a test's that never answers).
   */
  constructor(
    config: SlirpConfig,
    fd: number,
    options: { resolvConf?: string; metricsName?: string; file?: URL } = {},
  ) {
    const thread = this.#thread = new WorkerHandle(
      "slirp_worker",
      options.file ?? new URL("./slirp_worker.ts", import.meta.url),
    );
    const ready = Promise.withResolvers<string>();
    const ended = Promise.withResolvers<SlirpThreadEnd>();
    const probed = Promise.withResolvers<void>();
    this.probed = probed.promise;
    this.ready = ready.promise;
    this.ended = ended.promise;
    // A request the thread will not answer any more fails rather than hangs.
    this.ended.then(() => {
      this.#goneNow();
      probed.resolve();
    });
    // Whoever waits on `ended` decides; an unobserved failure to start is reported by `ready`.
    this.ready.catch(() => {});
    thread.worker.onmessage = (e: MessageEvent<SlirpReport>) => {
      const m = e.data;
      if (m.type === "log") {
        const at = m.line.indexOf(": ");
        if (at > 0) log(m.line.slice(0, at), m.line.slice(at + 2), m.severity);
        else log("vde slirp", m.line, m.severity);
      } else if (m.type === "metrics") {
        for (const w of this.#metricsWaiters.splice(0)) w.resolve(m.text);
      } else if (m.type === "ready") ready.resolve(m.describe);
      else if (m.type === "probed") probed.resolve();
      else if (m.type === "failed") {
        ready.reject(new Error(m.message));
        ended.resolve({ reason: m.message, link: newLinkStats() });
      } else {
        ready.reject(new Error(m.reason ?? "the slirp thread stopped"));
        ended.resolve({ reason: m.reason, link: m.link });
      }
    };
    thread.worker.onerror = (e) => {
      e.preventDefault();
      const reason = `slirp thread failed: ${e.message}`;
      ready.reject(new Error(reason));
      ended.resolve({ reason, link: newLinkStats() });
    };
    const start: SlirpStart = {
      config,
      fd,
      wakeFd: thread.wakeFd,
      shared: this.#shared,
      resolvConf: options.resolvConf,
      metricsName: options.metricsName,
    };
    thread.worker.postMessage(start);
  }

  /**
   * The stack's Prometheus metrics, rendered by the thread after its current
   * round; rejects once the thread has stopped.
   */
  metrics(): Promise<string> {
    if (this.#stopping !== null || this.#gone) {
      return Promise.reject(new Error("the slirp thread has stopped"));
    }
    const waiter = Promise.withResolvers<string>();
    this.#metricsWaiters.push(waiter);
    Atomics.add(this.#flags, SLIRP_METRICS, 1);
    this.#thread.wake();
    return waiter.promise;
  }

  /**
   * Resolves once the stopped thread can no longer use the socket lent to it,
   * which may then be closed; never when it did not answer its stop (see
   * WorkerHandle).
   */
  get released(): Promise<void> {
    return this.#thread.released;
  }

  /** Stops the thread; resolves once it has answered or was terminated for not answering (see `released`). */
  stop(): Promise<SlirpThreadEnd> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<SlirpThreadEnd> {
    Atomics.store(this.#flags, SLIRP_STOP, 1);
    const answered = await this.#thread.stop(this.ended, STOP_TIMEOUT_MS);
    // A thread that did not stop in time never resolves `ended`: its waiters are failed here.
    this.#goneNow();
    return answered
      ? await this.ended
      : { reason: "the slirp thread did not stop in time", link: newLinkStats() };
  }

  /** No answer will come: every waiting metrics request fails rather than hangs. */
  #goneNow(): void {
    this.#gone = true;
    for (const w of this.#metricsWaiters.splice(0)) w.reject(new Error("the slirp thread has stopped"));
  }
}

/** How a slirp run by `runSlirpOnThread` ended. */
export interface SlirpThreadRun {
  /** Why it stopped (the switch went away, the thread stopped, or the caller's stop reason). */
  reason: string;
  end: SlirpThreadEnd;
}

/**
 * Runs a slirp on a thread of its own on `sw`'s socket (`vde slirp`, and
 * `vde plug` between vde:// and slirp://) until the switch goes away, the
 * thread stops or `stopped` resolves; `sw` is closed on return. `onReady`
 * gets the stack's one-line description once it runs, never when `stopped`
 * resolved first (the thread still loading: a caller on its way out calls
 * `hurryStops`, or the stop waits for that load).
 *
 * @throws the thread's one-line reason when the stack cannot start
 */
export async function runSlirpOnThread(
  sw: DgramLink,
  config: SlirpConfig,
  stopped: Promise<string>,
  onReady: (describe: string, thread: SlirpThread) => void | Promise<void>,
  options: { metricsName?: string } = {},
): Promise<SlirpThreadRun> {
  const released = Promise.withResolvers<void>();
  const lent = await sw.lendFd(released.promise);
  const thread = new SlirpThread(config, lent.fd, options);
  // The socket is closed only once the thread no longer uses it: never, when it did not answer its stop.
  void thread.released.then(released.resolve);
  const finish = async (reason: string): Promise<SlirpThreadRun> => {
    const end = await thread.stop();
    sw.close(reason);
    return { reason, end };
  };
  // A stop before the stack runs is taken then, not after its ready: Deno's load of the thread took seconds
  // on a busy machine (and its stop, unless hurried, waits up to a minute for a load). Stopped first, the
  // thread that was starting is stopped here as one that runs is, and `onReady` is never called.
  const started = await Promise.race([
    stopped.then((reason) => ({ reason })),
    thread.ready.then((described) => ({ described }), (err: unknown) => ({ err })),
  ]);
  if ("reason" in started) return await finish(started.reason);
  try {
    if ("err" in started) throw started.err;
    // Awaited: a ready that waits (a daemon's, for the gateway probe's answer, `thread.probed`) and then fails (a pid file
    // taken) fails the start here, in one line, not as an unhandled rejection.
    await onReady(started.described, thread);
  } catch (err) {
    await finish("the slirp could not start");
    throw err;
  }
  return await finish(
    await Promise.race([
      sw.closed,
      thread.ended.then((e) => e.reason ?? "the slirp thread stopped"),
      stopped,
    ]),
  );
}
