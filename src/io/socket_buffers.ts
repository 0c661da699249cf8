/**
 * Kernel socket buffer sizes, asked for the same way by every socket kind
 * (unix datagram ports, UDP links).
 *
 * Theory of operation: a plain SO_SNDBUF/SO_RCVBUF is capped by
 * net.core.wmem_max/rmem_max; the *FORCE options pass the cap but need
 * CAP_NET_ADMIN. So the FORCE option is tried first: as root (the usual
 * case for a switch) it is the one call that gets the size asked for; its
 * EPERM then means "no privilege" and the plain option gets what the cap
 * allows. Both are best effort: a socket keeps working with whatever
 * buffer it has, so nothing here throws.
 */
import { C, libc } from "../../ffi/libc.ts";

/** Which of a socket's two buffers. */
export type BufferKind = "send" | "receive";

const OPTIONS = {
  send: { plain: C.SO_SNDBUF, force: C.SO_SNDBUFFORCE },
  receive: { plain: C.SO_RCVBUF, force: C.SO_RCVBUFFORCE },
} as const;

/**
 * Asks for a `kind` buffer of `bytes` on `fd` (best effort): beyond the
 * sysctl cap with CAP_NET_ADMIN, up to it without.
 */
export function setSocketBuffer(fd: number, kind: BufferKind, bytes: number): void {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, bytes, true);
  const { plain, force } = OPTIONS[kind];
  if (libc().setsockopt(fd, C.SOL_SOCKET, force, v, 4) === 0) return;
  libc().setsockopt(fd, C.SOL_SOCKET, plain, v, 4);
}

/**
 * The `kind` buffer's size in bytes as the kernel reports it (double what
 * was set: its bookkeeping overhead is included), or -1 when `fd` is no socket.
 */
export function socketBufferSize(fd: number, kind: BufferKind): number {
  const v = new Uint8Array(4);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 4, true);
  if (libc().getsockopt(fd, C.SOL_SOCKET, OPTIONS[kind].plain, v, len) < 0) return -1;
  return new DataView(v.buffer).getInt32(0, true);
}
