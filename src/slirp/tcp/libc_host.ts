/**
 * The TCP engine's host sockets through libc: non-blocking fds in the
 * calling thread's poller (io/poller.ts), with nothing of Deno's runtime
 * between the kernel and the engine. The slirp thread (slirp_worker.ts)
 * uses it so that one `epoll_wait` covers the switch's socket and every
 * host socket; it also works in the main thread's poller.
 *
 * Theory of operation. A connection is registered once, edge-triggered,
 * and never modified or deleted (closing the fd takes it out of the set):
 * it remembers what the last edge and the last call said (`#canRead`,
 * `#canWrite`), so a read with nothing waiting or a write into a full
 * buffer costs no system call, and a connection costs one epoll_ctl in
 * all where level-triggered interest cost up to four (add, arm, drop,
 * delete). EPOLLOUT joins the mask only when a write first meets a full
 * buffer or fills it (a short write; a connect in progress has it from
 * the start); Linux signals write room only after such a write, so it
 * brings no other wake-ups.
 * Every call first tries the system call when it may succeed: a read that
 * finds data, a write the kernel takes, all settle their promise at once;
 * otherwise the promise settles from the edge that brings the news. The
 * synchronous `tryRead`, `tryWrite` and `tryCloseWrite` let the engine
 * go on in the same round instead of one promise reaction later (the
 * shutdown after a guest's last data used to leave after the round's
 * frames); the callback forms `readThen`, `writeThen` and the listener's
 * `watch` do the same for what must wait for an edge: a client, its data
 * or its end of stream is taken in the round that brings it, and the SYN
 * or FIN it makes leaves with that round's frames, with no promise, no
 * microtask and no settling pass between (measured through a forward, 5
 * alternating pairs: 12-20% less CPU per connection on the slirp thread in
 * four of them).
 * The guest's last bytes before its FIN, when both come in one round, are
 * written with MSG_MORE and the half-close right after sets FIN on that
 * segment: a forward's client gets its data and end of stream in one
 * segment and wakes once, not twice (libslirp sends two).
 *
 * Errors are Deno's error classes with the errno name in `code`, as
 * `Deno.connect` and `Deno.listen` throw them, so the engine tells a
 * refusal, a reset or an unreachable network apart the same way for either
 * implementation. `settledCount()` counts every promise settled here, so a
 * thread that runs microtasks by awaiting (the slirp thread) can tell when
 * the chain of reactions a round started has run out.
 */
import { C, direct, errno, libc, strerror, takeSocketError } from "../../../ffi/libc.ts";
import { poller } from "../../io/poller.ts";
import { decodeSockaddr, encodeSockaddrInto, SOCKADDR_MAX } from "../../io/sockaddr.ts";
import { formatIp, parseIpText } from "../../wire/ip_address.ts";
import type { HostConn, HostListener, HostNet, HostPeer } from "./host.ts";

const EPIPE = 32;
const ECONNABORTED = 103;
const ECONNRESET = 104;
const ETIMEDOUT = 110;
const EINPROGRESS = 115;
const SO_KEEPALIVE = 9;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const SHUT_WR = 1;
/** epoll: edge-triggered (1 << 31 as epoll_event's u32 holds it). */
const EPOLLET = 0x80000000;
/** A connection's steady masks: input edges; output edges too once a write met a full buffer. */
const EDGE_IN = C.EPOLLIN | EPOLLET;
const EDGE_IN_OUT = C.EPOLLIN | C.EPOLLOUT | EPOLLET;
/** Pending connections the kernel holds for a forward (Linux caps it at somaxconn). */
const BACKLOG = 1024;

/** Each errno Deno's sockets name, with the error class they throw for it. */
const HOST_ERRORS: Record<number, [string, new (message: string) => Error]> = {
  [C.ECONNREFUSED]: ["ECONNREFUSED", Deno.errors.ConnectionRefused],
  [ECONNRESET]: ["ECONNRESET", Deno.errors.ConnectionReset],
  [EPIPE]: ["EPIPE", Deno.errors.BrokenPipe],
  [ECONNABORTED]: ["ECONNABORTED", Deno.errors.ConnectionAborted],
  [C.ENOTCONN]: ["ENOTCONN", Deno.errors.NotConnected],
  [ETIMEDOUT]: ["ETIMEDOUT", Deno.errors.TimedOut],
  [C.EADDRINUSE]: ["EADDRINUSE", Deno.errors.AddrInUse],
  [C.EADDRNOTAVAIL]: ["EADDRNOTAVAIL", Deno.errors.AddrNotAvailable],
  [C.EACCES]: ["EACCES", Deno.errors.PermissionDenied],
  [C.EPERM]: ["EPERM", Deno.errors.PermissionDenied],
  [C.ENETUNREACH]: ["ENETUNREACH", Error],
  [C.EHOSTUNREACH]: ["EHOSTUNREACH", Error],
};

/** The error Deno's sockets would throw for `e`, with the errno name in `code`. */
function hostError(call: string, e: number): Error {
  const text = `${call}: ${strerror(e)} (os error ${e})`;
  const known = HOST_ERRORS[e];
  if (known === undefined) return new Error(text);
  const err = new known[1](text);
  Object.defineProperty(err, "code", { value: known[0] });
  return err;
}

function closedError(): Error {
  return new Deno.errors.BadResource("the socket is closed");
}

let settled = 0;

/** Promises settled by this module so far (see the header). */
export function settledCount(): number {
  return settled;
}

function resolved<T>(value: T): Promise<T> {
  settled++;
  return Promise.resolve(value);
}

function rejected<T>(err: Error): Promise<T> {
  settled++;
  return Promise.reject(err);
}

/**
 * A failure found at the call of a callback form, reported a microtask
 * later as a rejected promise would be: the caller may be in the middle of
 * the state change that made the call (a connection being established).
 */
function later(failed: (err: Error) => void, err: Error): void {
  settled++;
  queueMicrotask(() => failed(err));
}

/** One operation waiting for the poller. */
interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

function waiter<T>(): { promise: Promise<T>; w: Waiter<T> } {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  return {
    promise,
    w: {
      resolve: (v) => {
        settled++;
        resolve(v);
      },
      reject: (e) => {
        settled++;
        reject(e);
      },
    },
  };
}

const one = new Uint8Array([1, 0, 0, 0]);

function setIntOption(fd: number, level: number, name: number): void {
  libc().setsockopt(fd, level, name, one, 4);
}

/** A connected stream socket, edge-triggered in the poller (see the header). */
class LibcConn implements HostConn {
  readonly #fd: number;
  #closed = false;
  /** No edge since a read found nothing: a read now would only say EAGAIN. */
  #canRead = false;
  /** The socket took the last write whole or no write met a full buffer yet. */
  #canWrite: boolean;
  /** EPOLLOUT is in the registered mask (from the start for a connect, after the first full buffer otherwise). */
  #outArmed: boolean;
  /** An error a synchronous call met, for the promise-based call that follows it. */
  #error = 0;
  #reading: Waiter<number | null> | null = null;
  #readInto: Uint8Array | null = null;
  #writing: Waiter<number> | null = null;
  #writeFrom: Uint8Array | null = null;
  /** Set while a non-blocking connect is in progress. */
  connecting: Waiter<HostConn> | null = null;

  /** @param connecting a connect is in progress: writable only once it completes */
  constructor(fd: number, connecting = false) {
    this.#fd = fd;
    this.#canWrite = !connecting;
    this.#outArmed = connecting;
    poller().add(fd, this, connecting ? EDGE_IN_OUT : EDGE_IN);
  }

  tryRead(p: Uint8Array): number | null {
    if (this.#closed || !this.#canRead || this.#error !== 0) return -1;
    for (;;) {
      // Per segment: libc's syscall, not glibc's wrappers, cancellation points (ffi/libc.ts `direct`).
      const n = direct.read(this.#fd, p, p.length);
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === C.EINTR) continue;
      if (e === C.EAGAIN) this.#canRead = false;
      else this.#error = e;
      return -1;
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return rejected(closedError());
    if (this.#reading !== null) return rejected(new Deno.errors.Busy("a read is already pending"));
    const n = this.tryRead(p);
    if (n === null || n > 0) return resolved(n);
    if (this.#error !== 0) return rejected(hostError("read", this.#takeError()));
    const { promise, w } = waiter<number | null>();
    this.#reading = w;
    this.#readInto = p;
    return promise;
  }

  readThen(p: Uint8Array, done: (n: number | null) => void, failed: (err: Error) => void): void {
    if (this.#closed) return later(failed, closedError());
    if (this.#reading !== null) return later(failed, new Deno.errors.Busy("a read is already pending"));
    const n = this.tryRead(p);
    if (n === null || n > 0) return done(n);
    if (this.#error !== 0) return later(failed, hostError("read", this.#takeError()));
    this.#reading = { resolve: done, reject: failed };
    this.#readInto = p;
  }

  tryWrite(p: Uint8Array, last = false): number {
    if (this.#closed || !this.#canWrite || this.#error !== 0) return -1;
    // MSG_MORE holds a last partial segment back; the shutdown that follows sets FIN on it and sends it.
    const flags = last ? C.MSG_DONTWAIT | C.MSG_NOSIGNAL | C.MSG_MORE : C.MSG_DONTWAIT | C.MSG_NOSIGNAL;
    for (;;) {
      const n = direct.send(this.#fd, p, p.length, flags);
      if (n >= 0) {
        // A short write filled the buffer (Linux marks it so and signals the room it makes): the next
        // write waits for that edge instead of a send that could only say EAGAIN.
        if (n < p.length) this.#full();
        return n;
      }
      const e = errno();
      if (e === C.EINTR) continue;
      if (e === C.EAGAIN) this.#full();
      else this.#error = e;
      return -1;
    }
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return rejected(closedError());
    if (this.#writing !== null) return rejected(new Deno.errors.Busy("a write is already pending"));
    const n = this.tryWrite(p);
    if (n >= 0) return resolved(n);
    if (this.#error !== 0) return rejected(hostError("write", this.#takeError()));
    const { promise, w } = waiter<number>();
    this.#writing = w;
    this.#writeFrom = p;
    return promise;
  }

  writeThen(p: Uint8Array, done: (n: number) => void, failed: (err: Error) => void): void {
    if (this.#closed) return later(failed, closedError());
    if (this.#writing !== null) return later(failed, new Deno.errors.Busy("a write is already pending"));
    const n = this.tryWrite(p);
    if (n >= 0) return done(n);
    if (this.#error !== 0) return later(failed, hostError("write", this.#takeError()));
    this.#writing = { resolve: done, reject: failed };
    this.#writeFrom = p;
  }

  tryCloseWrite(): boolean {
    if (this.#closed) return false;
    if (libc().shutdown(this.#fd, SHUT_WR) === 0) return true;
    this.#error = errno();
    return false;
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return rejected(closedError());
    if (this.#error === 0 && this.tryCloseWrite()) return resolved(undefined);
    return rejected(hostError("shutdown", this.#takeError()));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Closing the fd takes it out of the epoll set (nothing else holds its open file).
    poller().forget(this.#fd);
    libc().close(this.#fd);
    const r = this.#reading;
    const w = this.#writing;
    const c = this.connecting;
    // An Error captures a stack, which costs more than the rest of a close: only when someone waits.
    if (r === null && w === null && c === null) return;
    const err = closedError();
    this.#reading = this.#writing = this.connecting = null;
    this.#readInto = this.#writeFrom = null;
    r?.reject(err);
    w?.reject(err);
    c?.reject(err);
  }

  #takeError(): number {
    const e = this.#error;
    this.#error = 0;
    return e;
  }

  /** The send buffer is full: the next EPOLLOUT edge says when it has room. */
  #full(): void {
    this.#canWrite = false;
    if (this.#outArmed) return;
    this.#outArmed = true;
    // Arming re-checks readiness: room made meanwhile is reported on the next wait.
    poller().setMask(this.#fd, EDGE_IN_OUT);
  }

  // PollHandler: edges only, so each event is news (see the header).

  onReadable(events: number): void {
    this.#canRead = true;
    if (this.#reading !== null) this.#retryRead();
    // An error or hang-up ends a pending write or connect too: let them see it.
    if ((events & (C.EPOLLERR | C.EPOLLHUP)) !== 0 && !this.#closed) this.onWritable();
  }

  onWritable(): void {
    this.#canWrite = true;
    if (this.connecting !== null) {
      const c = this.connecting;
      this.connecting = null;
      const e = takeSocketError(this.#fd);
      if (e === 0) c.resolve(this);
      else {
        c.reject(hostError("connect", Math.abs(e)));
        this.close();
      }
      return;
    }
    const w = this.#writing;
    const p = this.#writeFrom;
    if (w === null || p === null) return;
    const n = this.tryWrite(p);
    if (n < 0 && this.#error === 0) return;
    this.#writing = null;
    this.#writeFrom = null;
    if (n >= 0) w.resolve(n);
    else w.reject(hostError("write", this.#takeError()));
  }

  #retryRead(): void {
    const r = this.#reading!;
    const n = this.tryRead(this.#readInto!);
    if (n === -1 && this.#error === 0) return;
    this.#reading = null;
    this.#readInto = null;
    if (n !== -1) r.resolve(n);
    else r.reject(hostError("read", this.#takeError()));
  }
}

const peerName = new Uint8Array(SOCKADDR_MAX);
const peerNameLen = new Uint32Array(1);
const peerNamePtr = Deno.UnsafePointer.of(peerName);
const peerNameLenPtr = Deno.UnsafePointer.of(peerNameLen);
/** The address bytes of `peerName` as either family (lent to `watch`'s taker, never kept). */
const peerAddr4 = peerName.subarray(4, 8);
const peerAddr6 = peerName.subarray(8, 24);

const ANY4 = new Uint8Array(4);
/** sizeof(struct sockaddr_in6); a sockaddr_in is 16. */
const SOCKADDR_IN6_LEN = 28;

/** An accepted client's address: bytes for the engine, text only when something prints it. */
class LibcPeer implements HostPeer {
  #hostname: string | null = null;
  constructor(readonly addr: Uint8Array, readonly port: number) {}
  get hostname(): string {
    this.#hostname ??= formatIp(this.addr);
    return this.#hostname;
  }
}

/**
 * A listening socket, level-triggered: each event takes one client (as
 * libslirp does), so a lone client costs one accept4 and no EAGAIN; a
 * second one waiting is reported by the next wait. A `watch`ed listener
 * hands the client over from the poller's round; `accept` waits on a
 * promise instead. Accepted clients come back non-blocking, with
 * TCP_NODELAY and keep-alive on.
 */
/** How long a listener waits before accepting again after accept failed (out of descriptors). */
const ACCEPT_RETRY_MS = 100;

class LibcListener implements HostListener {
  readonly #fd: number;
  readonly port: number;
  #closed = false;
  /** Interest is dropped while nobody waits, so a waiting client cannot spin the loop. */
  #watching = true;
  #waiting: Waiter<{ conn: HostConn; remote: HostPeer }> | null = null;
  #take: ((conn: HostConn, addr: Uint8Array, port: number) => void) | null = null;
  #failed: ((err: Error) => void) | null = null;
  /** Set while accepting pauses after a failed accept. */
  #retry: ReturnType<typeof setTimeout> | undefined;

  constructor(fd: number, port: number) {
    this.#fd = fd;
    this.port = port;
    poller().add(fd, { onReadable: () => this.#ready() }, C.EPOLLIN);
  }

  accept(): Promise<{ conn: HostConn; remote: HostPeer }> {
    if (this.#closed) return rejected(closedError());
    if (this.#waiting !== null || this.#take !== null) {
      return rejected(new Deno.errors.Busy("an accept is already pending"));
    }
    const { promise, w } = waiter<{ conn: HostConn; remote: HostPeer }>();
    this.#waiting = w;
    this.#watch();
    return promise;
  }

  watch(take: (conn: HostConn, addr: Uint8Array, port: number) => void, failed: (err: Error) => void): void {
    if (this.#closed || this.#waiting !== null) throw new Deno.errors.Busy("the listener is taken");
    this.#take = take;
    this.#failed = failed;
    this.#watch();
  }

  /** Drops read interest for ACCEPT_RETRY_MS after a failed accept, then watches again if anyone still waits. */
  #pause(): void {
    if (this.#retry !== undefined) return;
    this.#watching = false;
    poller().setReadInterest(this.#fd, false);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed && (this.#take !== null || this.#waiting !== null)) this.#watch();
    }, ACCEPT_RETRY_MS);
  }

  #watch(): void {
    if (this.#retry !== undefined) return;
    if (this.#watching) return;
    this.#watching = true;
    poller().setReadInterest(this.#fd, true);
  }

  /** A client's fd, -1 when none waits, or the error accept4 failed with; its address is in `peerName`. */
  #tryAccept(): number | Error {
    for (;;) {
      peerNameLen[0] = SOCKADDR_MAX;
      const fd = libc().accept4(this.#fd, peerNamePtr, peerNameLenPtr, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      // TCP_NODELAY and SO_KEEPALIVE come from the listener (Linux copies them to accepted sockets).
      if (fd >= 0) return fd;
      const e = errno();
      // A client that reset before we took it: take the next one.
      if (e === ECONNABORTED || e === C.EINTR) continue;
      return e === C.EAGAIN ? -1 : hostError("accept", e);
    }
  }

  #ready(): void {
    const take = this.#take;
    const w = this.#waiting;
    if (take === null && w === null) {
      this.#watching = false;
      poller().setReadInterest(this.#fd, false);
      return;
    }
    const got = this.#tryAccept();
    if (got === -1) return;
    // Out of descriptors (EMFILE) the client stays queued and the socket readable: watched on, each round
    // failed again (a core at 40%, a forward's slirp idle under ulimit -n 48). A pause, then a new try.
    if (got instanceof Error) this.#pause();
    if (take !== null) {
      if (got instanceof Error) this.#failed!(got);
      else {
        // The address stays in `peerName`, lent for the call: most clients are shown as the gateway anyway.
        const v6 = peerNameLen[0]! >= SOCKADDR_IN6_LEN;
        take(new LibcConn(got), v6 ? peerAddr6 : peerAddr4, (peerName[2]! << 8) | peerName[3]!);
      }
      return;
    }
    this.#waiting = null;
    if (got instanceof Error) w!.reject(got);
    else {
      const peer = decodeSockaddr(peerName, peerNameLen[0]);
      const remote = peer.ok ? new LibcPeer(peer.value.addr, peer.value.port) : new LibcPeer(ANY4, 0);
      w!.resolve({ conn: new LibcConn(got), remote });
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#take = null;
    this.#failed = null;
    clearTimeout(this.#retry);
    poller().remove(this.#fd);
    libc().close(this.#fd);
    const w = this.#waiting;
    this.#waiting = null;
    w?.reject(closedError());
  }
}

const addrBuf = new Uint8Array(SOCKADDR_MAX);

/** A sockaddr for `hostname` (an address literal) in `addrBuf`; its length and family. */
function socketAddress(hostname: string, port: number): { len: number; family: 4 | 6 } {
  const p = parseIpText(hostname);
  if (!p.ok) throw new Error(`${hostname} is not an IP address`);
  const family = p.value.length === 4 ? 4 : 6;
  return { len: encodeSockaddrInto(addrBuf, family, p.value, 0, port), family };
}

function streamSocket(family: 4 | 6): number {
  const fd = libc().socket(
    family === 4 ? C.AF_INET : C.AF_INET6,
    C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
    0,
  );
  if (fd < 0) throw hostError("socket", errno());
  return fd;
}

/** The host's TCP through libc, in the calling thread's poller. */
export const libcHostNet: HostNet = {
  connect(hostname, port, signal) {
    if (signal.aborted) return rejected(new DOMException("connect aborted", "AbortError"));
    let fd: number;
    let len: number;
    try {
      const a = socketAddress(hostname, port);
      len = a.len;
      fd = streamSocket(a.family);
    } catch (e) {
      return rejected(e as Error);
    }
    setIntOption(fd, IPPROTO_TCP, TCP_NODELAY);
    setIntOption(fd, C.SOL_SOCKET, SO_KEEPALIVE);
    if (libc().connect(fd, addrBuf, len) < 0) {
      const e = errno();
      if (e !== EINPROGRESS && e !== C.EINTR) {
        libc().close(fd);
        return rejected(hostError("connect", e));
      }
    } else {
      return resolved<HostConn>(new LibcConn(fd));
    }
    const conn = new LibcConn(fd, true);
    const { promise, w } = waiter<HostConn>();
    const onAbort = () => {
      if (conn.connecting === null) return;
      const c = conn.connecting;
      conn.connecting = null;
      conn.close();
      c.reject(new DOMException("connect aborted", "AbortError"));
    };
    // Settled from the poller: the listener goes with it (no `finally`, which would add a hop).
    conn.connecting = {
      resolve: (v) => {
        signal.removeEventListener("abort", onAbort);
        w.resolve(v);
      },
      reject: (e) => {
        signal.removeEventListener("abort", onAbort);
        w.reject(e);
      },
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return promise;
  },

  listen(hostname, port) {
    const a = socketAddress(hostname, port);
    const fd = streamSocket(a.family);
    const c = libc();
    setIntOption(fd, C.SOL_SOCKET, C.SO_REUSEADDR);
    setIntOption(fd, IPPROTO_TCP, TCP_NODELAY);
    setIntOption(fd, C.SOL_SOCKET, SO_KEEPALIVE);
    if (c.bind(fd, addrBuf, a.len) < 0 || c.listen(fd, BACKLOG) < 0) {
      const e = errno();
      c.close(fd);
      throw hostError("listen", e);
    }
    const name = new Uint8Array(SOCKADDR_MAX);
    const nameLen = new Uint32Array([SOCKADDR_MAX]);
    c.getsockname(fd, name, new Uint8Array(nameLen.buffer));
    return new LibcListener(fd, (name[2]! << 8) | name[3]!);
  },
};
