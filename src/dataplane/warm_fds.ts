/**
 * How the warm-ups (switch_warmup.ts, plug_warmup.ts) open and close their
 * stand-in fds: libc's calls, or a test's wrapper around them that records
 * which fd numbers one warm-up opened and closed.
 *
 * Why injectable: a test that counted /proc/self/fd before and after a
 * warm-up failed now and then in a batch run, where other threads of the
 * same process (workers of earlier tests winding down, Deno's own runtime)
 * open and close fds of their own meanwhile. The warm-up's own fds are the
 * ones to account for.
 */
import { C, datagramPair, libc } from "../../ffi/libc.ts";

/** The fd calls a warm-up makes. */
export interface WarmFds {
  /** A connected pair of non-blocking, close-on-exec unix datagram sockets, or null. */
  pair(): [number, number] | null;
  /** A non-blocking, close-on-exec eventfd, or a negative number. */
  eventfd(): number;
  /** Closes `fd`; 0, or -1 when it was not open. */
  close(fd: number): number;
}

/** The real calls. */
export const LIBC_FDS: WarmFds = {
  pair: datagramPair,
  eventfd: () => libc().eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK),
  close: (fd) => libc().close(fd),
};
