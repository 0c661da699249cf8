/**
 * The set of fds a data-plane thread blocks on: `poll` while it is small, an epoll set beyond.
 *
 * Theory of operation: an epoll set keeps a wait entry on every socket it holds for as long as the
 * socket is in it, so every datagram a client sends to a port socket, and every one the client
 * reads from it (the freed buffer is write space on our end), runs the socket's wake-up path in the
 * client's system call: the wait queue's lock with interrupts off and epoll's callback. `poll`
 * puts its entries on the sockets only while it sleeps in them, and a `poll` that finds work at
 * once, or one with a zero timeout (a spinning thread's), puts none: a client whose port is busy
 * then pays nothing for our waiting. Measured behind our switch with Debian's libvdeplug clients at
 * 1500 B, those two wake-up paths took 5.6% and 4.7% of the clients' CPU against 2.5% and 1.5%
 * behind the floor (loadgen's `poll` forwarder): about 75 ns of the 1,200 a frame costs them.
 * `poll` walks every fd on each call, so past POLL_MAX fds the set moves into an epoll set (and
 * stays there), whose wait costs the same with thousands of ports.
 *
 * The events are poll's bits, which are epoll's for the ones used here (IN, OUT, ERR, HUP). After
 * `wait`, ready entries are read with `fd(i)` and `events(i)` for i below its result.
 */
import { C, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, libc } from "../../ffi/libc.ts";

/** Up to this many fds the set is polled; a switch with its default 32 ports stays below it. */
export const POLL_MAX = 64;
/** Ready entries one epoll wait reports at most. */
const MAX_EVENTS = 64;
/** struct pollfd (int fd; short events; short revents) as two i32 or four i16: its words. */
const POLLFD_WORDS = 2;

export class WaitSet {
  readonly #c = libc();
  /** The epoll set once the fds outgrew POLL_MAX, -1 before. */
  #epfd = -1;
  #count = 0;
  /** #count as poll's nfds_t, kept beside it: a BigInt made per wait would be garbage per wake-up. */
  #nfds = 0n;
  #pollfds = new Int32Array(POLLFD_WORDS * 8);
  #pollBytes = new Uint8Array(this.#pollfds.buffer);
  #pollShorts = new Int16Array(this.#pollfds.buffer);
  /** Ready fds and their events after a wait. */
  readonly #readyFd = new Int32Array(MAX_EVENTS);
  readonly #readyEvents = new Int32Array(MAX_EVENTS);
  readonly #events = new Uint8Array(EPOLL_EVENT_SIZE * MAX_EVENTS);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #ctl = new Uint8Array(EPOLL_EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);

  /** Whether the fds are in an epoll set (more than POLL_MAX were added). */
  get epoll(): boolean {
    return this.#epfd >= 0;
  }

  /** Watches `fd` for `events`; false (errno set) when the kernel refused it. */
  add(fd: number, events: number = C.EPOLLIN): boolean {
    if (this.#epfd < 0 && this.#count === POLL_MAX && !this.#toEpoll()) return false;
    if (this.#epfd >= 0) return this.#epollCtl(C.EPOLL_CTL_ADD, fd, events);
    if (POLLFD_WORDS * (this.#count + 1) > this.#pollfds.length) this.#grow();
    this.#pollfds[2 * this.#count] = fd;
    this.#pollShorts[4 * this.#count + 2] = events;
    this.#pollShorts[4 * this.#count + 3] = 0;
    this.#nfds = BigInt(++this.#count);
    return true;
  }

  /** Watches `fd`, already in the set, for `events` instead. */
  modify(fd: number, events: number): void {
    if (this.#epfd >= 0) {
      this.#epollCtl(C.EPOLL_CTL_MOD, fd, events);
      return;
    }
    const i = this.#indexOf(fd);
    if (i >= 0) this.#pollShorts[4 * i + 2] = events;
  }

  /** Stops watching `fd` (nothing when it is not in the set). */
  remove(fd: number): void {
    if (this.#epfd >= 0) {
      this.#epollCtl(C.EPOLL_CTL_DEL, fd, 0);
      return;
    }
    const i = this.#indexOf(fd);
    if (i < 0) return;
    // The last entry takes its place: the order of fds in a poll carries no meaning.
    const last = --this.#count;
    this.#nfds = BigInt(last);
    this.#pollfds[2 * i] = this.#pollfds[2 * last]!;
    this.#pollfds[2 * i + 1] = this.#pollfds[2 * last + 1]!;
  }

  /**
   * Waits up to `timeoutMs` (0: a look without sleeping) for some fd to be ready; the number of
   * ready entries (read with `fd` and `events`), or -1 with errno set.
   */
  wait(timeoutMs: number): number {
    if (this.#epfd >= 0) {
      const n = this.#c.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, timeoutMs);
      for (let i = 0; i < n; i++) {
        this.#readyEvents[i] = this.#eventsView.getUint32(i * EPOLL_EVENT_SIZE, true);
        this.#readyFd[i] = this.#eventsView.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
      }
      return n;
    }
    const found = this.#c.poll(this.#pollBytes, this.#nfds, timeoutMs);
    if (found <= 0) return found;
    const shorts = this.#pollShorts;
    let n = 0;
    for (let i = 0; i < this.#count && n < found; i++) {
      const revents = shorts[4 * i + 3]!;
      if (revents === 0) continue;
      this.#readyFd[n] = this.#pollfds[2 * i]!;
      this.#readyEvents[n++] = revents & 0xffff;
    }
    return n;
  }

  /** The fd of ready entry `i` of the last wait. */
  fd(i: number): number {
    return this.#readyFd[i]!;
  }

  /** What ready entry `i` of the last wait is ready for (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP bits). */
  events(i: number): number {
    return this.#readyEvents[i]!;
  }

  /** Closes the epoll set if there is one; the fds stay open (they are their owners'). */
  close(): void {
    if (this.#epfd >= 0) this.#c.close(this.#epfd);
    this.#epfd = -1;
    this.#count = 0;
    this.#nfds = 0n;
  }

  #indexOf(fd: number): number {
    for (let i = 0; i < this.#count; i++) if (this.#pollfds[2 * i] === fd) return i;
    return -1;
  }

  #grow(): void {
    const next = new Int32Array(this.#pollfds.length * 2);
    next.set(this.#pollfds);
    this.#pollfds = next;
    this.#pollBytes = new Uint8Array(next.buffer);
    this.#pollShorts = new Int16Array(next.buffer);
  }

  /** Moves every polled fd into a new epoll set. */
  #toEpoll(): boolean {
    const epfd = this.#c.epoll_create1(C.EPOLL_CLOEXEC);
    if (epfd < 0) return false;
    this.#epfd = epfd;
    for (let i = 0; i < this.#count; i++) {
      if (!this.#epollCtl(C.EPOLL_CTL_ADD, this.#pollfds[2 * i]!, this.#pollShorts[4 * i + 2]!)) {
        this.#c.close(epfd);
        this.#epfd = -1;
        return false;
      }
    }
    this.#count = 0;
    this.#nfds = 0n;
    return true;
  }

  #epollCtl(op: number, fd: number, events: number): boolean {
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    return this.#c.epoll_ctl(this.#epfd, op, fd, this.#ctl) === 0;
  }
}
