/**
 * A receive thread for one datagram socket, seen from the main thread.
 *
 * Theory of operation: a Worker (rx_worker.ts) drains the socket into a
 * FrameRing as soon as frames arrive, whatever the main thread is doing, so
 * a sender that drops on a full queue (Debian's vde_switch) never finds ours
 * full while we run a GC, a TCP write or a console command. The ring holds
 * thousands of frames; the main thread delivers them from a handler on an
 * eventfd in the shared poller, so delivery is part of a poller round like
 * any other fd (sends staged in the round leave in one sendmmsg, stream
 * links coalesce, the busy budget applies). A round delivers at most
 * DELIVER_BUDGET frames; if more wait, the eventfd is re-armed so the next
 * round comes back for them after the other fds had their turn.
 *
 * Waking the main thread: a burst used to cross three threads (the worker
 * writes the eventfd, the poller's helper thread returns from epoll_wait,
 * its completion resumes the main thread), tens of µs a hop. Now the main
 * thread, once it found the ring empty, also parks on the ring's `sleeping`
 * word with Atomics.waitAsync, and the worker, after taking `sleeping` back,
 * first notifies that word and writes the eventfd only if no one was
 * parked: one hop, straight into the main thread's event loop. The wake-up
 * then runs as a poller round of its own (`poller().round`), so sends are
 * staged and the afterRound hooks (one sendmmsg per link, stream
 * coalescing, slirp's scheduling) follow as after an epoll wake-up.
 *
 * Why no wake-up is lost: the consumer stores `sleeping = 1` and sees the
 * ring empty (FrameRing.sleep), then parks. waitAsync checks the word and
 * registers the waiter in one step under the futex lock, and notify counts
 * registered waiters under the same lock. The producer clears the word
 * (compareExchange 1 -> 0) before it notifies. So either the waiter was
 * registered before the notify (the notify counts it and the promise
 * settles) or its check came after the clear (it sees 0, does not register,
 * parkAsync returns null, and the notify, finding no waiter, falls back to
 * the eventfd). Exactly one of the two paths carries each wake-up. A waiter
 * that was notified but whose promise has not run yet is harmless: the
 * consumer does not park twice, and if the eventfd path set `sleeping`
 * again meanwhile, the next clear finds no registered waiter and writes the
 * eventfd. Both paths run the same drain, which may find the ring empty.
 *
 * On a driven poller (the slirp thread, blocked in its own epoll_wait)
 * the consumer never parks: a notify would settle a promise no one runs
 * until the wait ends, so the worker always writes the eventfd, which is
 * in that same epoll set.
 *
 * On demand (`onDemand`): the owner reads the socket itself, and the
 * worker reads it only between `engage()` and `release()`, under the
 * handover protocol of read_handover.ts; `direct` says whether the owner
 * may read, and the sink's `reclaimed` says when it may again (after the
 * ring's last frame of the stretch was delivered).
 *
 * Shutdown order: `stop()` sets the ring's stop flag and writes the wake
 * eventfd; the worker leaves its loop, closes its epoll set and says
 * "stopped". Only then are the eventfds closed and `released` resolves,
 * and only then may the caller close the data socket: no system call of
 * the worker outlives an fd or buffer it uses. A worker that does not
 * answer within the bound is terminated; `stop()` resolves then too, but
 * `released` never does (see WorkerHandle).
 */
import { C, check, direct, libc } from "../../ffi/libc.ts";
import { poller } from "../io/poller.ts";
import { copyOutOfRing, FrameRing } from "./frame_ring.ts";
import { ReadHandover } from "./read_handover.ts";
import type { RxStart } from "./rx_worker.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { WorkerHandle } from "./worker_handle.ts";

/** Bytes of frame records a receive thread may hold: about 2,800 full-size frames, 60,000 small ones. */
export const RX_RING_BYTES = 4 << 20;
/** Frames delivered per poller round before other fds get their turn. */
const DELIVER_BUDGET = 1024;
/** How long `stop()` waits for the worker to leave its loop before terminating it. */
const STOP_TIMEOUT_MS = 2000;

/** What the receive thread hands to its owner. */
export interface RxSink {
  /** One frame, borrowed: valid during the call only. */
  frame(frame: Uint8Array): void;
  /** `count` more datagrams were dropped for being larger than a frame may be. */
  oversize(count: number): void;
  /** The socket failed (`receive failed: errno N`), or the thread died; no more frames will come. */
  failed(reason: string): void;
  /** On demand: `frames` were delivered from the ring in one go. */
  relayed?(frames: number): void;
  /** On demand: the worker let go of the socket and the ring is empty; the owner reads it again. */
  reclaimed?(): void;
}

/** Drains `fd` on a Worker and delivers its frames on the main thread. */
export class RxThread {
  readonly #ring = FrameRing.create(RX_RING_BYTES);
  readonly #thread: WorkerHandle;
  readonly #notifyFd: number;
  readonly #sink: RxSink;
  /** Frames are copied out of the shared area, so no consumer ever holds a view of shared memory. */
  readonly #scratch = new Uint8Array(VDE_MAX_FRAME);
  readonly #deliver = (frame: Uint8Array) => {
    const copy = copyOutOfRing(this.#scratch, frame);
    if (copy !== null) this.#sink.frame(copy);
  };
  readonly #eight = new Uint8Array(8);
  #stopping: Promise<void> | null = null;
  #oversizeSeen = 0;
  #failed = false;
  /** True while a parkAsync wait is pending. */
  #parked = false;
  /** Who reads the socket, when the owner reads it itself until it engages the worker. */
  readonly #handover: ReadHandover | null;
  readonly #ringEmpty = () => this.#ring.empty;

  /**
   * @param onDemand the owner reads `fd` until `engage()` (see read_handover.ts)
   * @param file the worker's code (tests give a stand-in)
   */
  constructor(fd: number, sink: RxSink, onDemand = false, file = new URL("./rx_worker.ts", import.meta.url)) {
    this.#sink = sink;
    const c = libc();
    this.#notifyFd = check("eventfd", c.eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK));
    poller().add(this.#notifyFd, { onReadable: () => this.#onNotify() });
    // The ring starts with its consumer asleep: park before the worker can publish.
    this.#park();
    this.#thread = new WorkerHandle("rx_worker", file);
    // A worker that died (its load failed, or it threw) ends its link with the reason. Left unhandled, its
    // error event reached this thread as an uncaught error and ended the whole process (a plug, a slirp, a
    // test module) for one link's thread.
    this.#thread.worker.onerror = (e) => {
      e.preventDefault();
      if (this.#stopping !== null || this.#failed) return;
      this.#failed = true;
      this.#sink.failed(`receive thread failed: ${e.message}`);
    };
    this.#handover = onDemand ? ReadHandover.create() : null;
    const start: RxStart = {
      sab: this.#ring.sab,
      fd,
      wakeFd: this.#thread.wakeFd,
      notifyFd: this.#notifyFd,
      handover: this.#handover?.sab,
    };
    this.#thread.worker.postMessage(start);
  }

  /** True while the owner may read the socket itself (always false unless on demand). */
  get direct(): boolean {
    return this.#handover?.mode === "direct";
  }

  /** On demand: true once the worker runs (always true otherwise). */
  get running(): boolean {
    return this.#handover?.rxRunning ?? true;
  }

  /** On demand: true when the owner may hand the socket over (it reads it, and the worker runs). */
  get canEngage(): boolean {
    return this.#stopping === null && this.#handover?.canEngage === true;
  }

  /** On demand: the worker reads the socket from now on; the owner has stopped watching it for input. */
  engage(): void {
    if (this.#stopping === null && this.#handover?.engage()) this.#thread.wake();
  }

  /** On demand: asks the worker to give the socket back (see the sink's `reclaimed`). */
  release(): void {
    if (this.#stopping === null && this.#handover?.release()) this.#thread.wake();
  }

  #onNotify(): void {
    direct.read(this.#notifyFd, this.#eight, 8);
    this.#drain();
  }

  /** Waits for the worker's notify on the ring's sleeping word, unless a wait is pending already. */
  #park(): void {
    if (this.#parked || this.#stopping !== null || poller().driven) return;
    const woken = this.#ring.parkAsync();
    // null: the worker cleared the word first and, finding no one parked, writes the eventfd.
    if (woken === null) return;
    this.#parked = true;
    woken.then(this.#onParkedWake);
  }

  readonly #onParkedWake = (): void => {
    this.#parked = false;
    poller().round(this.#drainRound);
  };

  readonly #drainRound = (): void => this.#drain();

  #drain(): void {
    if (this.#stopping !== null) return;
    const n = this.#ring.drain(this.#deliver, DELIVER_BUDGET);
    if (n > 0) this.#sink.relayed?.(n);
    const oversize = this.#ring.oversize;
    if (oversize !== this.#oversizeSeen) {
      this.#sink.oversize(oversize - this.#oversizeSeen);
      this.#oversizeSeen = oversize;
    }
    if (n === DELIVER_BUDGET || !this.#ring.sleep()) {
      // More waits: come back next round, after the other fds.
      this.#eight[0] = 1;
      direct.write(this.#notifyFd, this.#eight, 8);
      return;
    }
    const err = this.#ring.error;
    if (err !== 0 && !this.#failed) {
      this.#failed = true;
      this.#sink.failed(`receive failed: errno ${err}`);
      return;
    }
    // Seen after the ring was found empty: DIRECT then covers every frame the worker published.
    if (this.#handover?.reclaim(this.#ringEmpty)) this.#sink.reclaimed?.();
    this.#park();
  }

  /** Resolves once the stopped worker no longer uses the socket, which the caller may then close. */
  get released(): Promise<void> {
    return this.#thread.released;
  }

  /** Stops the worker; resolves once it answered or was terminated for not answering (see `released`). */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    poller().remove(this.#notifyFd);
    const stopped = new Promise((resolve) => this.#thread.worker.onmessage = resolve);
    this.#ring.requestStop();
    this.#ring.unpark();
    // Left open when the worker did not answer: it may still write to it (see WorkerHandle).
    if (await this.#thread.stop(stopped, STOP_TIMEOUT_MS)) libc().close(this.#notifyFd);
  }
}
