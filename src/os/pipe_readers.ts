/**
 * Whether a pipe or FIFO still has a reader, as the kernel judges it when a
 * write to it fails with EPIPE: some process, any, holds it open for reading.
 *
 * Theory of operation: a pipe is named by its device and inode, which
 * stat(2) of /proc/PID/fd/N gives for the file open there (the link is
 * followed). A process that still reads it is found by walking every
 * process's fds in /proc; the link's own mode (lstat) says how the fd was
 * opened (owner read for a read end). Processes whose fds we may not see
 * (another user's, for a user not root) are not counted: the caller falls
 * back to what a write to the pipe then says. Synchronous on purpose: no
 * pending read of the caller's runs while it looks, so nothing is pumped
 * past the moment the answer is for.
 *
 * A child's stdin is named from the child (`pipeOpenIn`), or, when the child
 * has already exited (`sh -c 'cmd & exit 0'` may end before its parent has
 * looked), from this process's side: the one pipe it holds for writing that
 * was not there before the spawn (`pipesWrittenHere`, `newPipeWrittenHere`).
 */
import { openFds } from "./processes.ts";

/** A pipe or FIFO: its device and inode. */
export interface PipeId {
  dev: number;
  ino: number;
}

/** The pipe or FIFO at `path` (a FIFO's name, or a /proc/PID/fd/N link, followed); undefined if gone. */
export function pipeAt(path: string): PipeId | undefined {
  try {
    const { dev, ino } = Deno.statSync(path);
    return ino === null ? undefined : { dev, ino };
  } catch {
    return undefined;
  }
}

/** `pipeAt` of fd `fd` of process `pid`. */
export function pipeOpenIn(pid: number, fd: number): PipeId | undefined {
  return pipeAt(`/proc/${pid}/fd/${fd}`);
}

/** Whether a process we can see holds `pipe` open for reading. */
export function pipeHasReader(pipe: PipeId): boolean {
  for (const { path } of openFds()) {
    const open = pipeAt(path);
    if (open === undefined || open.dev !== pipe.dev || open.ino !== pipe.ino) continue;
    try {
      if ((Deno.lstatSync(path).mode ?? 0) & 0o400) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** The pipes this process holds open for writing (`dev:ino`), taken before a spawn for `newPipeWrittenHere`. */
export function pipesWrittenHere(): Set<string> {
  const written = new Set<string>();
  for (const path of ownFds()) {
    const pipe = pipeAt(path);
    if (pipe !== undefined && writeEnd(path)) written.add(`${pipe.dev}:${pipe.ino}`);
  }
  return written;
}

/** The one pipe this process holds for writing that `before` lacks (a child's stdin); undefined if not one. */
export function newPipeWrittenHere(before: Set<string>): PipeId | undefined {
  let found: PipeId | undefined;
  for (const path of ownFds()) {
    const pipe = pipeAt(path);
    if (pipe === undefined || before.has(`${pipe.dev}:${pipe.ino}`) || !writeEnd(path)) continue;
    if (found !== undefined && (found.dev !== pipe.dev || found.ino !== pipe.ino)) return undefined;
    found = pipe;
  }
  return found;
}

/** This process's descriptors' /proc links that are pipes or FIFOs (not a pidfd, a file, a socket). */
function ownFds(): string[] {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].map((e) => `/proc/self/fd/${e.name}`).filter((path) => {
      try {
        return Deno.statSync(path).isFifo === true;
      } catch {
        return false;
      }
    });
  } catch {
    return [];
  }
}

/** Whether the descriptor at `path` (a /proc fd link) is open for writing. */
function writeEnd(path: string): boolean {
  try {
    return ((Deno.lstatSync(path).mode ?? 0) & 0o200) !== 0;
  } catch {
    return false;
  }
}
