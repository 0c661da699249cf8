/**
 * What to say when a process runs out of file descriptors: the kernel's
 * "Too many open files" names no limit and no way out, and a switch on a
 * machine with `ulimit -n 64` refused every client past its tenth with just
 * that.
 *
 * Theory of operation: EMFILE (the process's own table) and ENFILE (the
 * system's) are recognised whichever layer reported them, our FFI's
 * SysError or Deno's "(os error 24)". The limit that counts is the hard one:
 * Deno raises its soft limit to the hard one as it starts, so the advice is
 * to start the program under a higher `ulimit -n` (which sets both).
 */
import { libc, SysError } from "../../ffi/libc.ts";

const EMFILE = 24;
const ENFILE = 23;

/** The errno `err` carries when it is a run-out of descriptors (EMFILE or ENFILE), else undefined. */
function descriptorErrno(err: unknown): number | undefined {
  if (err instanceof SysError) return err.code === EMFILE || err.code === ENFILE ? err.code : undefined;
  const m = err instanceof Error ? /\(os error (23|24)\)/.exec(err.message) : null;
  return m === null ? undefined : Number(m[1]);
}

/** Whether `err` says the process (EMFILE) or the system (ENFILE) has no descriptor left. */
export function outOfDescriptors(err: unknown): boolean {
  return descriptorErrno(err) !== undefined;
}

/** What a port takes of the switch's descriptors (its ctl connection, its data socket), for the advice. */
export const SWITCH_PER_PORT = "2 a port";

/** RLIMIT_NOFILE, the same number on every Linux architecture. */
const RLIMIT_NOFILE = 7;

/**
 * This process's open-file limit (the soft one, which Deno raised to the hard one), or undefined. Asked of
 * the kernel, not read from /proc/self/limits: when it is spent, there is no descriptor left to read with.
 */
export function openFileLimit(): number | undefined {
  const rlimit = new BigUint64Array(2);
  if (libc().getrlimit(RLIMIT_NOFILE, rlimit) !== 0) return undefined;
  const soft = rlimit[0]!;
  return soft > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(soft);
}

/**
 * What to do about `err` when it is a run-out of descriptors, for `who` ("the switch") that takes `perClient`
 * of them a client; undefined for any other error. `limit` is the process's open-file limit (read when absent).
 */
export function descriptorAdvice(
  err: unknown,
  who: string,
  perClient: string,
  limit = openFileLimit(),
): string | undefined {
  const code = descriptorErrno(err);
  if (code === undefined) return undefined;
  if (code === ENFILE) {
    return `the system's file table is full: close some programs or raise sysctl fs.file-max`;
  }
  const at = limit === undefined ? "" : ` (${limit}, ${perClient})`;
  return `${who}'s open-file limit${at} is spent: start it under a higher one (ulimit -n ${
    suggestedLimit(limit)
  })`;
}

/**
 * `descriptorAdvice` short enough for a switch's refusal (108 bytes a client sees), for `who` ("the switch"):
 * the ulimit for its own table, fs.file-max for the system's, which no ulimit raises; undefined for any other
 * error.
 */
export function shortDescriptorAdvice(
  err: unknown,
  who: string,
  limit = openFileLimit(),
): string | undefined {
  const code = descriptorErrno(err);
  if (code === undefined) return undefined;
  if (code === ENFILE) return "the system's file table is full: raise sysctl fs.file-max";
  return `${who} is out of descriptors: start it under ulimit -n ${suggestedLimit(limit)}`;
}

/** The open-file limit to suggest over `limit`: four times it, a power of two, at least 4096. */
export function suggestedLimit(limit = openFileLimit()): number {
  return Math.max(4096, 2 ** Math.ceil(Math.log2((limit ?? 1024) * 4)));
}
