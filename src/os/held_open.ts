/**
 * Whether some process still has a file open: the question a lab's `exec`
 * asks of its output file once the shell is done (a server it left in the
 * background writes there on).
 *
 * Asked of the kernel in one call where it can answer: a write lease
 * (fcntl F_SETLEASE, F_WRLCK) is granted only while no other open file
 * description has the file open, for reading or writing, and refused with
 * EAGAIN otherwise; we take it and drop it at once. Only the file's owner may
 * take a lease (we create the file), and some file systems take none: then
 * every process's open files are looked through in /proc, as before, which
 * costs a read of each process's fd table.
 */
import { C, cstr, errno, libc } from "../../ffi/libc.ts";
import { openFds } from "./processes.ts";

/** Ignored unless handled: what a lease break signals instead of SIGIO, whose default ends the process. */
const SIGURG = 23;

/** Whether any process (this one too) has `path` open. */
export function heldOpen(path: string): boolean {
  const held = askTheKernel(path);
  return held ?? heldOpenPerProc(path);
}

/** The lease's answer, or undefined when the kernel gives none for this file. */
function askTheKernel(path: string): boolean | undefined {
  let fd: number;
  try {
    fd = libc().open(cstr(path), C.O_RDONLY | C.O_CLOEXEC, 0);
  } catch {
    return undefined; // no FFI here
  }
  if (fd < 0) return undefined;
  try {
    // Someone opening the file in the microseconds the lease is held breaks it with a signal to us.
    if (libc().fcntl(fd, C.F_SETSIG, SIGURG) !== 0) return undefined;
    if (libc().fcntl(fd, C.F_SETLEASE, C.F_WRLCK) === 0) return false;
    return errno() === C.EAGAIN ? true : undefined;
  } finally {
    // Closing drops the lease with the descriptor.
    libc().close(fd);
  }
}

/** The fallback: looks through every process's open files for `path`. */
export function heldOpenPerProc(file: string): boolean {
  const path = Deno.realPathSync(file);
  for (const fd of openFds()) {
    try {
      if (Deno.readLinkSync(fd.path) === path) return true;
    } catch { /* closed meanwhile */ }
  }
  return false;
}
