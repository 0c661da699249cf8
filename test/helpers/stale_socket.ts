/**
 * What a switch killed with SIGKILL leaves behind: unix sockets bound at
 * their paths and served by nobody, so a connect is refused. Made with a
 * socket that binds and closes at once (the path stays, as after a kill).
 */
import { C, check, libc } from "../../ffi/libc.ts";
import { buildSockaddrUn, SOCKADDR_UN_LEN } from "../../src/wire/sockaddr_un.ts";

/** Binds a unix stream socket at each of `paths` and closes it, leaving the socket files unserved. */
export function bindUnservedSockets(...paths: string[]): void {
  const c = libc();
  for (const path of paths) {
    const fd = check("socket", c.socket(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0));
    try {
      check("bind", c.bind(fd, buildSockaddrUn(path), SOCKADDR_UN_LEN));
    } finally {
      c.close(fd);
    }
  }
}
