/**
 * The data-plane event loop: one epoll set for every data fd.
 *
 * Theory of operation: a blocking `epoll_wait` runs as a nonblocking FFI call
 * (on a helper thread), so the Deno event loop keeps serving the control
 * plane while nothing moves. When it returns, ready fds are dispatched
 * synchronously on the main thread; each handler drains its fd in batches.
 * While traffic keeps coming, the loop polls again synchronously with a zero
 * timeout, so the ~27 us thread hop is paid once per idle-to-busy transition,
 * not per batch. After 2 ms of busy polling it goes back to the nonblocking
 * wait, a real event-loop turn, so control sockets, stream links and timers
 * are not starved. (A setTimeout(0) yield was measured at 3.7 ms here: far
 * too slow for a data plane.) (Lingering in a blocking synchronous wait after a burst
 * was measured too: it cut tap-to-tap TCP throughput by a third and did not
 * shorten ping times, and spinning on a zero-timeout wait for 30 us after a
 * burst showed no gain on two cores, so the loop does neither.) At the end of every
 * round the `afterRound` hooks run: stream links use them to coalesce all
 * frames of a round into one write.
 *
 * An eventfd in the set wakes the blocked call for shutdown, so a pending FFI
 * call never keeps the process alive.
 *
 * Each registration carries a generation in the upper half of epoll's data
 * field. A handler may close an fd and open another that gets the same
 * number while events for the old one still wait in the round's batch: the
 * generation tells them apart, so a stale hang-up or readiness never reaches
 * the new owner (a console session cut off by a closed client's EPOLLHUP).
 *
 * A worker that owns a data path of its own (the slirp thread) makes its
 * poller a driven one (`useDrivenPoller`): no loop of its own; the owner
 * calls `turn`, a synchronous `epoll_wait` and one dispatch round, and
 * decides the timeout (its timers) and what runs between turns.
 */
import { C, check, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, errno, libc } from "../../ffi/libc.ts";

/** Called when an fd registered with the poller has events. */
export interface PollHandler {
  /** The fd is readable (or has an error or hangup to be read). */
  onReadable(events: number): void;
  /** The fd is writable again; only called while write interest is on. */
  onWritable?(): void;
}

const MAX_EVENTS = 64;
/** Longest stretch of synchronous polling before the event loop gets a turn. */
const BUSY_BUDGET_MS = 2;

/** One epoll set driving the handlers of many fds. */
export class Poller {
  readonly #epfd: number;
  readonly #wakeFd: number;
  readonly #events = new Uint8Array(EPOLL_EVENT_SIZE * MAX_EVENTS);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #ctl = new Uint8Array(EPOLL_EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #handlers: (PollHandler | undefined)[] = [];
  /** The epoll events each registered fd is watched for. */
  readonly #masks: number[] = [];
  /** The generation each registered fd's events carry (see the theory above). */
  readonly #gens: number[] = [];
  #nextGen = 1;
  readonly #afterRound = new Set<() => void>();
  #running = false;
  #dispatching = false;
  #stopped = false;
  #loop: Promise<void> | null = null;
  #count = 0;
  readonly #driven: boolean;

  /** @param driven the owner calls `turn` instead of the poller running its own loop */
  constructor(driven = false) {
    this.#driven = driven;
    const c = libc();
    this.#epfd = check("epoll_create1", c.epoll_create1(C.EPOLL_CLOEXEC));
    this.#wakeFd = check("eventfd", c.eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK));
    this.#ctlSet(C.EPOLL_CTL_ADD, this.#wakeFd, C.EPOLLIN);
  }

  /** True when the owner calls `turn` (the thread blocks in epoll_wait, so no promise settles while it waits). */
  get driven(): boolean {
    return this.#driven;
  }

  /** Number of fds registered (the wake fd not counted). */
  get size(): number {
    return this.#count;
  }

  /**
   * Watches `fd` for `events` (default: input) and starts the loop if it is
   * not running. A socket whose input another thread drains is added with 0:
   * here only for write interest, errors and hang-ups.
   */
  add(fd: number, handler: PollHandler, events: number = C.EPOLLIN): void {
    if (this.#stopped) throw new Error("poller is stopped");
    this.#gens[fd] = this.#nextGen;
    this.#nextGen = this.#nextGen === 0xffffffff ? 1 : this.#nextGen + 1;
    this.#ctlSet(C.EPOLL_CTL_ADD, fd, events);
    this.#handlers[fd] = handler;
    this.#masks[fd] = events;
    this.#count++;
    if (!this.#running && !this.#driven) this.#start();
  }

  /**
   * A driven poller's wait: blocks in `epoll_wait` for at most `timeoutMs`
   * (-1: until an fd is ready), calls `woke` (the owner reads its clock
   * there), then runs one dispatch round.
   *
   * @returns the number of ready fds (0 on timeout or EINTR)
   */
  turn(timeoutMs: number, woke?: () => void): number {
    if (this.#stopped) return 0;
    const n = libc().epoll_wait(this.#epfd, this.#events, MAX_EVENTS, timeoutMs);
    woke?.();
    if (n <= 0) return 0;
    this.#dispatch(n);
    return n;
  }

  /**
   * Turns interest in writability on or off for a registered fd: a sender
   * whose peer's queue is full waits for EPOLLOUT instead of spinning.
   */
  setWriteInterest(fd: number, on: boolean): void {
    this.#setInterest(fd, C.EPOLLOUT, on);
  }

  /**
   * Turns interest in readability on or off for a registered fd: a source
   * whose destination is backed up stops reading and leaves frames in its
   * own kernel queue (a tap's) instead of dropping them.
   */
  setReadInterest(fd: number, on: boolean): void {
    this.#setInterest(fd, C.EPOLLIN, on);
  }

  #setInterest(fd: number, bit: number, on: boolean): void {
    const old = this.#masks[fd];
    if (this.#handlers[fd] === undefined || old === undefined) return;
    const mask = on ? old | bit : old & ~bit;
    if (mask === old) return;
    this.#masks[fd] = mask;
    this.#ctlSet(C.EPOLL_CTL_MOD, fd, mask);
  }

  /** Replaces the events `fd` is watched for (an edge-triggered socket arming EPOLLOUT). */
  setMask(fd: number, events: number): void {
    if (this.#handlers[fd] === undefined || this.#masks[fd] === events) return;
    this.#masks[fd] = events;
    this.#ctlSet(C.EPOLL_CTL_MOD, fd, events);
  }

  /** Stops watching `fd`; call before closing it. */
  remove(fd: number): void {
    this.#drop(fd, true);
  }

  /**
   * Stops dispatching to `fd`, which the caller closes at once: the close
   * takes it out of the epoll set, so this saves the EPOLL_CTL_DEL. Only
   * for an fd whose open file nothing else holds (no dup, no fork).
   */
  forget(fd: number): void {
    this.#drop(fd, false);
  }

  #drop(fd: number, ctl: boolean): void {
    if (this.#handlers[fd] === undefined) return;
    this.#handlers[fd] = undefined;
    this.#count--;
    if (ctl) this.#ctlSet(C.EPOLL_CTL_DEL, fd, 0);
    // Let a blocked wait return so an idle process is not kept alive.
    if (this.#count === 0) this.#wake();
  }

  /** Runs `hook` after every dispatch round; returns a function that removes it. */
  afterRound(hook: () => void): () => void {
    this.#afterRound.add(hook);
    return () => this.#afterRound.delete(hook);
  }

  /** Stops the loop and closes the epoll set. Waits for the blocked call to return. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake();
    if (this.#loop) await this.#loop;
    libc().close(this.#wakeFd);
    libc().close(this.#epfd);
  }

  #wake(): void {
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wakeFd, one, 8);
  }

  #ctlSet(op: number, fd: number, events: number): void {
    this.#ctlView.setUint32(0, events, true);
    // The 64-bit data field as two halves: a BigInt per call would allocate.
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET + 4, fd === this.#wakeFd ? 0 : this.#gens[fd] ?? 0, true);
    check("epoll_ctl", libc().epoll_ctl(this.#epfd, op, fd, this.#ctl));
  }

  #start(): void {
    this.#running = true;
    this.#loop = this.#run().finally(() => (this.#running = false));
  }

  async #run(): Promise<void> {
    const c = libc();
    while (!this.#stopped) {
      // Nothing left to watch: stop the helper thread so the process can exit.
      if (this.#count === 0) return;
      let n = await c.epoll_wait_async(this.#epfd, this.#events, MAX_EVENTS, -1);
      const started = performance.now();
      while (n > 0 && !this.#stopped) {
        this.#dispatch(n);
        // Let timers and the control plane run: the nonblocking wait is a real
        // event-loop turn and returns at once when fds are ready. The budget is
        // checked before the next wait, never after it: a wait takes its events
        // out of the kernel, and an edge-triggered fd (the libc TCP sockets)
        // reports its edge only once, so events taken and not dispatched left
        // connections waiting forever for a connect or data already there.
        if (performance.now() - started > BUSY_BUDGET_MS) break;
        n = c.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, 0);
      }
      if (n < 0 && errno() !== C.EINTR && n !== -1) throw new Error("epoll_wait failed");
    }
  }

  /** True while handlers of a dispatch round run (the afterRound hooks will follow). */
  get dispatching(): boolean {
    return this.#dispatching;
  }

  #dispatch(n: number): void {
    this.#dispatching = true;
    const v = this.#eventsView;
    for (let i = 0; i < n; i++) {
      const off = i * EPOLL_EVENT_SIZE;
      const events = v.getUint32(off, true);
      const fd = v.getUint32(off + EPOLL_DATA_OFFSET, true);
      if (fd === this.#wakeFd) {
        const sink = new Uint8Array(8);
        libc().read(this.#wakeFd, sink, 8);
        continue;
      }
      const h = this.#handlers[fd];
      if (h === undefined || v.getUint32(off + EPOLL_DATA_OFFSET + 4, true) !== this.#gens[fd]) continue;
      try {
        if ((events & C.EPOLLOUT) !== 0) h.onWritable?.();
        if ((events & ~C.EPOLLOUT) !== 0) h.onReadable(events);
      } catch (err) {
        console.error(`vde: poll handler for fd ${fd} failed: ${err}`);
      }
    }
    this.#endRound();
  }

  /**
   * Runs `work` as a round of its own, outside an epoll wake-up (a receive
   * thread that woke the main thread directly): sends it makes are staged
   * and the afterRound hooks follow, exactly as after a dispatch.
   */
  round(work: () => void): void {
    if (this.#dispatching) {
      // Already inside a round: its hooks will run when it ends.
      work();
      return;
    }
    this.#dispatching = true;
    try {
      work();
    } catch (err) {
      console.error(`vde: round failed: ${err}`);
    }
    this.#endRound();
  }

  #endRound(): void {
    this.#dispatching = false;
    for (const hook of this.#afterRound) {
      try {
        hook();
      } catch (err) {
        console.error(`vde: after-round hook failed: ${err}`);
      }
    }
  }
}

let shared: Poller | null = null;

/** The process-wide poller (each Worker has its own), created on first use. */
export function poller(): Poller {
  if (shared === null) shared = new Poller();
  return shared;
}

/**
 * Makes this thread's poller a driven one (see `Poller.turn`); call before
 * anything uses `poller()`.
 */
export function useDrivenPoller(): Poller {
  if (shared !== null) throw new Error("this thread's poller exists already");
  shared = new Poller(true);
  return shared;
}
