/**
 * Which process serves a unix stream socket, for a console that must wait
 * for its far side to exit after `shutdown`.
 *
 * A switch's `showinfo` names its pid, but a wirefilter's (ours and
 * Debian's alike, which keep one layout) names none. The kernel knows for
 * every listener: a connection's SO_PEERCRED on the client's side holds the
 * pid that called listen(), recorded then and unforgeable, and translated
 * into this pid namespace (0 when the listener's is not visible from here,
 * as a container's parent is not). So one short connection of its own, made
 * and closed at once, asks the kernel rather than the program; the program
 * sees a console that came and went.
 *
 * Where even that connection would be too much (a console naming what
 * serves a directory with no console, a vdeplug4-style node), the holder is
 * found from /proc: the socket's inode in /proc/net/unix, and the process
 * holding a descriptor of it.
 */
import { C, check, libc } from "../../ffi/libc.ts";
import { peerCred } from "../io/unix_stream.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../wire/sockaddr_un.ts";
import { openFds } from "./processes.ts";

/**
 * The pid of the process listening on the unix stream socket `path`, or
 * undefined when none can be had (nothing listens, its backlog is full, or
 * it runs in a pid namespace not visible from here).
 */
export function listenerPid(path: string): number | undefined {
  const c = libc();
  let fd = -1;
  try {
    fd = check("socket", c.socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0));
    // Non-blocking: a unix stream connect completes at once or fails (EAGAIN on a full backlog).
    check("connect", c.connect(fd, buildSockaddrUn(path), SOCKADDR_UN_LEN));
    const pid = peerCred(fd).pid;
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) c.close(fd);
  }
}

/** /proc/net/unix's flag of a listening socket (__SO_ACCEPTCON). */
const ACCEPTING = 0x10000;

/**
 * A socket /proc/net/unix lists at a path: its inode, whether it listens,
 * and, for one bound through a held directory (`/proc/self/fd/N/NAME`: the
 * kernel keeps the name given to bind, and a switch binds its ctl and
 * ports so), N, the binding process's descriptor of the directory, which
 * must still name the path's directory for the row to be the path's.
 */
export interface BoundSocket {
  inode: string;
  listening: boolean;
  heldFd?: number;
}

/**
 * The sockets `procNetUnix` (the text of /proc/net/unix: `Num RefCount
 * Protocol Flags Type St Inode Path`) lists bound at `path` by its whole
 * name, or at a held directory's name for its last component (to be
 * checked: {@link holderOf}). Pure, for a test's text.
 */
export function boundSockets(procNetUnix: string, path: string): BoundSocket[] {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const found: BoundSocket[] = [];
  for (const line of procNetUnix.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const bound = f.slice(7).join(" ");
    const held = bound === path ? null : /^\/proc\/self\/fd\/(\d+)\/(.+)$/.exec(bound);
    if (bound !== path && held?.[2] !== name) continue;
    const socket: BoundSocket = { inode: f[6]!, listening: (parseInt(f[3]!, 16) & ACCEPTING) !== 0 };
    found.push(held === null ? socket : { ...socket, heldFd: Number(held[1]) });
  }
  return found;
}

/**
 * The process holding one of `sockets` (bound at `path`), and which: one
 * bound through a held directory counts only where that process's
 * descriptor still names `path`'s directory. Reads every process's
 * descriptors: for an error's words or a test, never a data path.
 */
export function holderOf(
  sockets: readonly BoundSocket[],
  path: string,
  proc = "/proc",
): { pid: number; socket: BoundSocket } | undefined {
  const wanted = new Map(sockets.map((s) => [`socket:[${s.inode}]`, s]));
  if (wanted.size === 0) return undefined;
  let dir: string | undefined;
  const slash = path.lastIndexOf("/");
  try {
    dir = Deno.realPathSync(slash <= 0 ? "/" : path.slice(0, slash));
  } catch {
    // Gone: only a socket bound at the whole path can be its.
  }
  for (const { pid, path: fdPath } of openFds(proc)) {
    try {
      const socket = wanted.get(Deno.readLinkSync(fdPath));
      if (socket === undefined) continue;
      if (socket.heldFd === undefined || Deno.readLinkSync(`${proc}/${pid}/fd/${socket.heldFd}`) === dir) {
        return { pid, socket };
      }
    } catch {
      // Closed meanwhile.
    }
  }
  return undefined;
}

/**
 * The pid of a process holding the socket listening at unix path `path`,
 * found without connecting to it (a connection is a client to its server,
 * which may log it): its inode in /proc/net/unix, then the process whose
 * descriptor is that socket. Undefined when none is visible from here (another
 * user's process, to a user not root).
 */
export function socketHolderPid(path: string, proc = "/proc"): number | undefined {
  let table: string;
  try {
    table = Deno.readTextFileSync(`${proc}/net/unix`);
  } catch {
    return undefined;
  }
  return holderOf(boundSockets(table, path).filter((s) => s.listening), path, proc)?.pid;
}
