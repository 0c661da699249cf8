/**
 * A unix stream server on raw fds that knows who its clients are, and the
 * one safe way to connect to a path a client names.
 *
 * Why not Deno.listen: a Deno.Conn hides its fd, and the kernel's answer to
 * "who is on the other end" (SO_PEERCRED: the pid, uid and gid of the
 * process that connected, fixed at connect time and unforgeable) needs it.
 * The switch's ctl socket decides port ownership from that answer.
 *
 * Theory of operation: the listening fd is non-blocking and watched by the
 * main thread's poller; its dispatch accepts every waiting client, reads the
 * client's credentials once (they cannot change) and hands the fd over as a
 * `StreamConn` (stream_conn.ts), which reads and writes on demand through
 * the same poller. A client the listener cannot take (no credentials, a
 * full fd table) is reported and the listener keeps serving; out of
 * descriptors, it stops watching for a pause and says so once a shortage.
 *
 * `openOwnedPath` opens a path with O_PATH|O_NOFOLLOW and reports what the
 * fd is; connecting through `/proc/self/fd/N` then reaches exactly the inode
 * that was checked, so a client cannot swap the file between check and use.
 */
import { C, check, cstr, errno, fstatOf, libc, SysError } from "../../ffi/libc.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../wire/sockaddr_un.ts";
import { poller, type PollHandler } from "./poller.ts";
import { StreamConn, type StreamConnOptions } from "./stream_conn.ts";

/** How long a listener waits before accepting again after accept failed for want of descriptors or memory. */
export const ACCEPT_RETRY_MS = 100;

/**
 * A shortage of descriptors ends after this long without a failed accept: the accepts its freed ports let
 * through in between (the switch's own descriptors come and go) do not make each failure a new one to say.
 */
const SHORTAGE_GAP_MS = 10_000;

/** The credentials of the process at the other end of a unix socket. */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** SO_PEERCRED: struct ucred { pid_t pid; uid_t uid; gid_t gid; }. */
export function peerCred(fd: number): PeerCred {
  const v = new Uint8Array(12);
  const len = new Uint8Array(4);
  const dv = new DataView(v.buffer);
  new DataView(len.buffer).setUint32(0, 12, true);
  check("getsockopt(SO_PEERCRED)", libc().getsockopt(fd, C.SOL_SOCKET, C.SO_PEERCRED, v, len));
  return { pid: dv.getInt32(0, true), uid: dv.getUint32(4, true), gid: dv.getUint32(8, true) };
}

/**
 * A listening unix stream socket; each accepted connection goes to its
 * handler as a `StreamConn` together with the peer's credentials.
 */
export class UnixStreamListener {
  #fd: number;
  readonly path: string;
  #watch: PollHandler;
  /** Set while accepting is paused after a failed accept. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** When an accept last failed (ms): the first failure of a shortage is said, the rest of it is not. */
  #lastFailure = -Infinity;

  /**
   * Binds and listens on `path` (which must not exist); each accepted
   * connection goes to `onConnection`, which owns it from then on.
   * `beforeListen` runs between the two, to give the socket file its mode
   * and group: bind() makes it 0777 less the umask (all of it under umask
   * 000), but a socket not yet listening refuses every connect
   * (ECONNREFUSED), so nobody gets in before it has them. Where it throws,
   * the socket is closed and its file removed. Throws SysError.
   */
  constructor(
    path: string,
    onConnection: (conn: StreamConn, peer: PeerCred) => void,
    onError: (err: Error) => void,
    connOptions: StreamConnOptions = {},
    beforeListen?: () => void,
  ) {
    const c = libc();
    const fd = check("socket", c.socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0));
    try {
      check("bind", c.bind(fd, buildSockaddrUn(path), SOCKADDR_UN_LEN));
    } catch (err) {
      c.close(fd);
      throw err;
    }
    try {
      beforeListen?.();
      check("listen", c.listen(fd, 128));
    } catch (err) {
      c.close(fd);
      try {
        Deno.removeSync(path);
      } catch { /* gone */ }
      throw err;
    }
    this.#fd = fd;
    this.path = path;
    this.#watch = {
      onReadable: () => {
        while (this.#fd >= 0) {
          const accepted = c.accept4(this.#fd, null, null, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
          if (accepted < 0) {
            const e = errno();
            if (e === C.EAGAIN || e === C.EINTR) return;
            // A client that gave up in the backlog: it is gone, the next one may be taken.
            if (e === C.ECONNABORTED) continue;
            // A full fd table (EMFILE, ENFILE) or no memory: the client stays in the backlog and the fd
            // readable, so watching on would spin (it did: 400,000 log lines in seconds at ulimit -n 64).
            // Said once a shortage, and tried again after a pause, until a client leaves room.
            const now = Date.now();
            if (now - this.#lastFailure >= SHORTAGE_GAP_MS) onError(new SysError("accept4", e));
            this.#lastFailure = now;
            this.#pause();
            return;
          }
          let peer: PeerCred;
          let conn: StreamConn;
          try {
            // Read at accept time: the credentials are the connecting process's, fixed by the kernel.
            peer = peerCred(accepted);
            conn = new StreamConn(accepted, connOptions);
          } catch (err) {
            c.close(accepted);
            onError(err as Error);
            continue;
          }
          onConnection(conn, peer);
        }
      },
    };
    poller().add(fd, this.#watch);
  }

  /** Stops watching the fd for ACCEPT_RETRY_MS, then watches it again (a client waiting is taken then). */
  #pause(): void {
    if (this.#retry !== undefined) return;
    poller().remove(this.#fd);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#fd >= 0) poller().add(this.#fd, this.#watch);
    }, ACCEPT_RETRY_MS);
  }

  /** Stops listening (the path is left for the caller to remove). Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    else poller().remove(this.#fd);
    libc().close(this.#fd);
    this.#fd = -1;
  }
}

/** What `openOwnedPath` found at a path. */
export interface OpenedPath {
  /** An O_PATH fd of the file itself (never a symlink's target); close it with `closeFd`. */
  fd: number;
  /** The same file, as a path that cannot be redirected: `/proc/self/fd/N`. */
  procPath: string;
  uid: number;
  isSocket: boolean;
  isSymlink: boolean;
  /** Whether the owner may write it (the mode's owner-write bit). */
  ownerWritable: boolean;
}

/**
 * Opens `path` without following a final symlink and reports its owner and
 * type. Throws SysError (ENOENT when it does not exist).
 */
export function openOwnedPath(path: string): OpenedPath {
  const c = libc();
  const fd = check("open", c.open(cstr(path), C.O_PATH | C.O_NOFOLLOW | C.O_CLOEXEC, 0));
  const st = fstatOf(fd);
  if (st === null) {
    const e = errno();
    c.close(fd);
    throw new SysError("fstat", e);
  }
  const mode = st.mode;
  return {
    fd,
    procPath: `/proc/self/fd/${fd}`,
    uid: st.uid,
    isSocket: (mode & C.S_IFMT) === C.S_IFSOCK,
    isSymlink: (mode & C.S_IFMT) === C.S_IFLNK,
    ownerWritable: (mode & 0o200) !== 0,
  };
}

/** What `openFollowedPath` found: an O_PATH fd of the file a path leads to, and its owner. */
export interface FollowedPath {
  /** Close it with `closeFd`. */
  fd: number;
  /** The same file as a path that cannot be redirected (`/proc/self/fd/N`): connect through it. */
  procPath: string;
  uid: number;
}

/**
 * Opens the file `path` leads to, a final symlink followed as a connect follows it, and reports its owner:
 * connected to through `procPath`, the file judged is the one connected to, whatever the names on the way
 * hold by then. Null when it cannot be opened (nothing there: the caller says why).
 */
export function openFollowedPath(path: string): FollowedPath | null {
  const c = libc();
  const fd = c.open(cstr(path), C.O_PATH | C.O_CLOEXEC, 0);
  if (fd < 0) return null;
  const st = fstatOf(fd);
  return { fd, procPath: `/proc/self/fd/${fd}`, uid: st?.uid ?? -1 };
}

/** Closes an fd from `openOwnedPath` or `openFollowedPath`. */
export function closeFd(fd: number): void {
  libc().close(fd);
}
