/**
 * The TCP engine's host sockets through libc: non-blocking fds in the
 * calling thread's poller (io/poller.ts), with nothing of Deno's runtime
 * between the kernel and the engine. The slirp thread (slirp_worker.ts)
 * uses it so that one `epoll_wait` covers the switch's socket and every
 * host socket; it also works in the main thread's poller.
 *
 * Theory of operation. Every call first tries the system call at once: a
 * read that finds data, a write the kernel takes, an accept with a client
 * waiting all settle their promise immediately (the engine's `then` runs
 * as a microtask of the same round). Only EAGAIN registers interest
 * (EPOLLIN for a read or an accept, EPOLLOUT for a write or a connect in
 * progress) and settles the promise from the poller's handler. Read
 * interest stays on after it served a read, since the engine usually asks
 * again at once (two `epoll_ctl` calls saved per exchange); the first event
 * that finds nothing waiting drops it, so a connection whose data the
 * engine has no room for costs one wake-up, not one per round. A hang-up or error with nothing waiting takes the fd out of the
 * epoll set (epoll reports those whatever the mask, and level-triggered
 * they would wake the thread forever); the next call sees the error
 * directly.
 *
 * Errors are Deno's error classes with the errno name in `code`, as
 * `Deno.connect` and `Deno.listen` throw them, so the engine tells a
 * refusal, a reset or an unreachable network apart the same way for either
 * implementation. `settledCount()` counts every promise settled here, so a
 * thread that runs microtasks by awaiting (the slirp thread) can tell when
 * the chain of reactions a round started has run out.
 */
import { C, errno, libc, strerror, takeSocketError } from "../../../ffi/libc.ts";
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

/** A connected stream socket. */
class LibcConn implements HostConn {
  readonly #fd: number;
  #closed = false;
  /** In the poller's set; false after a hang-up with nothing waiting. */
  #watched = true;
  #reading: Waiter<number | null> | null = null;
  #readInto: Uint8Array | null = null;
  #writing: Waiter<number> | null = null;
  #writeFrom: Uint8Array | null = null;
  /** Set while a non-blocking connect is in progress. */
  connecting: Waiter<HostConn> | null = null;

  constructor(fd: number) {
    this.#fd = fd;
    poller().add(fd, this, 0);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return rejected(closedError());
    if (this.#reading !== null) return rejected(new Deno.errors.Busy("a read is already pending"));
    const n = libc().read(this.#fd, p, p.length);
    if (n > 0) return resolved(n);
    if (n === 0) return resolved(null);
    const e = errno();
    if (e !== C.EAGAIN && e !== C.EINTR) return rejected(hostError("read", e));
    const { promise, w } = waiter<number | null>();
    this.#reading = w;
    this.#readInto = p;
    this.#interest(C.EPOLLIN, true);
    return promise;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return rejected(closedError());
    if (this.#writing !== null) return rejected(new Deno.errors.Busy("a write is already pending"));
    const n = libc().send(this.#fd, p, p.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    if (n >= 0) return resolved(n);
    const e = errno();
    if (e !== C.EAGAIN && e !== C.EINTR) return rejected(hostError("write", e));
    const { promise, w } = waiter<number>();
    this.#writing = w;
    this.#writeFrom = p;
    this.#interest(C.EPOLLOUT, true);
    return promise;
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return rejected(closedError());
    if (libc().shutdown(this.#fd, SHUT_WR) < 0) return rejected(hostError("shutdown", errno()));
    return resolved(undefined);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watched) poller().remove(this.#fd);
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

  /** Arms or drops interest in `bit`; an fd taken out after a hang-up goes back in first. */
  #interest(bit: number, on: boolean): void {
    if (this.#closed) return;
    if (!this.#watched) {
      if (!on) return;
      this.#watched = true;
      poller().add(this.#fd, this, bit);
      return;
    }
    if (bit === C.EPOLLIN) poller().setReadInterest(this.#fd, on);
    else poller().setWriteInterest(this.#fd, on);
  }

  // PollHandler

  onReadable(events: number): void {
    const failed = (events & (C.EPOLLERR | C.EPOLLHUP)) !== 0;
    if (this.#reading !== null) this.#retryRead();
    else if (!failed) this.#interest(C.EPOLLIN, false);
    // An error or hang-up ends a pending write or connect too: let them see it.
    if (failed && (this.#writing !== null || this.connecting !== null)) this.onWritable();
    if (failed && !this.#closed && this.#reading === null && this.#writing === null && this.#watched) {
      this.#watched = false;
      poller().remove(this.#fd);
    }
  }

  onWritable(): void {
    if (this.connecting !== null) {
      const c = this.connecting;
      this.connecting = null;
      this.#interest(C.EPOLLOUT, false);
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
    if (w === null || p === null) {
      this.#interest(C.EPOLLOUT, false);
      return;
    }
    const n = libc().send(this.#fd, p, p.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    if (n < 0 && (errno() === C.EAGAIN || errno() === C.EINTR)) return;
    const e = n < 0 ? errno() : 0;
    this.#writing = null;
    this.#writeFrom = null;
    this.#interest(C.EPOLLOUT, false);
    if (n >= 0) w.resolve(n);
    else w.reject(hostError("write", e));
  }

  #retryRead(): void {
    const r = this.#reading!;
    const p = this.#readInto!;
    const n = libc().read(this.#fd, p, p.length);
    if (n < 0 && (errno() === C.EAGAIN || errno() === C.EINTR)) return;
    const e = n < 0 ? errno() : 0;
    this.#reading = null;
    this.#readInto = null;
    // Interest stays on: the engine usually reads again at once; an event with no read waiting drops it.
    if (n > 0) r.resolve(n);
    else if (n === 0) r.resolve(null);
    else r.reject(hostError("read", e));
  }
}

const peerName = new Uint8Array(SOCKADDR_MAX);
const peerNameLen = new Uint32Array(1);
const peerNamePtr = Deno.UnsafePointer.of(peerName);
const peerNameLenPtr = Deno.UnsafePointer.of(peerNameLen);

const ANY4 = new Uint8Array(4);

/** An accepted client's address: bytes for the engine, text only when something prints it. */
class LibcPeer implements HostPeer {
  #hostname: string | null = null;
  constructor(readonly addr: Uint8Array, readonly port: number) {}
  get hostname(): string {
    this.#hostname ??= formatIp(this.addr);
    return this.#hostname;
  }
}

/** A listening socket; accepted clients come back non-blocking, with TCP_NODELAY and keep-alive on. */
class LibcListener implements HostListener {
  readonly #fd: number;
  readonly port: number;
  #closed = false;
  #waiting: Waiter<{ conn: HostConn; remote: HostPeer }> | null = null;

  constructor(fd: number, port: number) {
    this.#fd = fd;
    this.port = port;
    poller().add(fd, { onReadable: () => this.#ready() }, 0);
  }

  accept(): Promise<{ conn: HostConn; remote: HostPeer }> {
    if (this.#closed) return rejected(closedError());
    if (this.#waiting !== null) return rejected(new Deno.errors.Busy("an accept is already pending"));
    const got = this.#tryAccept();
    if (got instanceof Error) return rejected(got);
    if (got !== null) return resolved(got);
    const { promise, w } = waiter<{ conn: HostConn; remote: HostPeer }>();
    this.#waiting = w;
    poller().setReadInterest(this.#fd, true);
    return promise;
  }

  /** A client, null when none waits, or the error accept4 failed with. */
  #tryAccept(): { conn: HostConn; remote: HostPeer } | Error | null {
    for (;;) {
      peerNameLen[0] = SOCKADDR_MAX;
      const fd = libc().accept4(this.#fd, peerNamePtr, peerNameLenPtr, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (fd >= 0) {
        // TCP_NODELAY and SO_KEEPALIVE come from the listener (Linux copies them to accepted sockets).
        const peer = decodeSockaddr(peerName, peerNameLen[0]);
        const remote = peer.ok ? new LibcPeer(peer.value.addr, peer.value.port) : new LibcPeer(ANY4, 0);
        return { conn: new LibcConn(fd), remote };
      }
      const e = errno();
      // A client that reset before we took it: take the next one.
      if (e === ECONNABORTED || e === C.EINTR) continue;
      return e === C.EAGAIN ? null : hostError("accept", e);
    }
  }

  #ready(): void {
    const w = this.#waiting;
    if (w === null) {
      poller().setReadInterest(this.#fd, false);
      return;
    }
    const got = this.#tryAccept();
    if (got === null) return;
    this.#waiting = null;
    // Interest stays on: the engine asks for the next client at once; an event with none waiting drops it.
    if (got instanceof Error) w.reject(got);
    else w.resolve(got);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
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
    const conn = new LibcConn(fd);
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
    poller().setWriteInterest(fd, true);
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
