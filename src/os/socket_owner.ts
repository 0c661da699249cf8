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
import { processIds } from "./processes.ts";

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
 * The inodes of the sockets listening at `path` in `procNetUnix` (the text
 * of /proc/net/unix: `Num RefCount Protocol Flags Type St Inode Path`).
 * Pure, for a test's text.
 */
export function listeningInodes(procNetUnix: string, path: string): string[] {
  const found: string[] = [];
  for (const line of procNetUnix.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f.slice(7).join(" ") !== path) continue;
    if ((parseInt(f[3]!, 16) & ACCEPTING) !== 0) found.push(f[6]!);
  }
  return found;
}

/**
 * The pid of a process holding the socket listening at unix path `path`,
 * found without connecting to it (a connection is a client to its server,
 * which may log it): its inode in /proc/net/unix, then the process whose
 * descriptor is that socket. Undefined when none is visible from here (another
 * user's process, to a user not root). Reads every process's descriptors:
 * for an error's words, never a data path.
 */
export function socketHolderPid(path: string, proc = "/proc"): number | undefined {
  let table: string;
  try {
    table = Deno.readTextFileSync(`${proc}/net/unix`);
  } catch {
    return undefined;
  }
  const wanted = new Set(listeningInodes(table, path).map((i) => `socket:[${i}]`));
  if (wanted.size === 0) return undefined;
  for (const pid of processIds(proc)) {
    try {
      for (const fd of Deno.readDirSync(`${proc}/${pid}/fd`)) {
        try {
          if (wanted.has(Deno.readLinkSync(`${proc}/${pid}/fd/${fd.name}`))) return pid;
        } catch {
          // Closed meanwhile.
        }
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return undefined;
}
