/**
 * Real eventfds for the tests of wait loops (the poller, the data-plane threads' wait set): a
 * non-blocking eventfd is readable from its first signal until it is drained.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";

/** A new non-blocking eventfd; the caller closes it. */
export function eventFd(): number {
  const fd = libc().eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK);
  assert.ok(fd >= 0, "eventfd");
  return fd;
}

/** Adds one to `fd`'s count: it reads as readable. */
export function signal(fd: number): void {
  const one = new Uint8Array(8);
  one[0] = 1;
  assert.equal(libc().write(fd, one, 8), 8);
}
