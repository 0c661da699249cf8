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
 */
import { C, check, libc } from "../../ffi/libc.ts";
import { peerCred } from "../io/unix_stream.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../wire/sockaddr_un.ts";

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
