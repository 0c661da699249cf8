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
