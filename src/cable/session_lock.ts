/**
 * One connecting process per cable session on a host. A listener hands a
 * session to its newest connection (that is how a restarted or moved cable
 * takes over at once), so two live `vde cable connect` of one session, the
 * same command run twice, take the cable from each other, back and forth,
 * for as long as both run: each reconnects as soon as it is replaced, and
 * neither carries frames for long.
 *
 * Theory of operation. The lock is an flock on a file named after the
 * session id (os/file_lock.ts), in a directory the caller picks: next to
 * the switch's sockets when it may, so that two users who share a switch
 * share its sessions' locks too (their two `--session office` of one switch
 * are one session, and would fight as one user's two commands do), else in
 * the user's runtime directory. The kernel drops it with its holder's last
 * fd, however the holder ends, so one killed with SIGKILL leaves nothing
 * to take over: the next taker, of any user who may read the file, simply
 * locks it (the file of another user in a sticky directory, which nobody
 * else may remove, included). The holder's pid, for the refusal, is read
 * from /proc/locks; a stopped holder (Ctrl-Z) still holds. A holder that is
 * stopping lets go within moments, so a restart right after a stop waits
 * that long before it calls the lock held.
 *
 * The lock only keeps a user from fighting himself; it must never cost a
 * cable that connected before it existed. A directory this process cannot
 * write (another user's XDG_RUNTIME_DIR kept across `su`, a read-only
 * /tmp), or a file in the way that is no lock (a symlink, a socket, one of
 * another user's that we may not read): the lock is unavailable there, the
 * caller tries its next directory, and with none left the cable runs
 * unlocked and the caller says why once.
 */
import { hex } from "../wire/cable_handshake.ts";
import { tryLockFile } from "../os/file_lock.ts";
import type { FileIdentity } from "../os/paths.ts";

/** How long a lock found held is tried again: a holder that is stopping lets go within this. */
const WAIT_MS = 2_000;
/** Between two tries. */
const RETRY_MS = 100;

/** A held session lock; `release` gives it up. */
export interface SessionLock {
  /** The directory its file is in, as it was locked (file_lock.ts); none for a lock not had. */
  readonly directory?: FileIdentity;
  release(): void;
}

/** The lock of another live process: its pid, or 0 when /proc/locks does not show it (another pid namespace). */
export interface HeldElsewhere {
  heldBy: number;
}

/** No lock could be had here (not writable, in the way): why, in one line. */
export interface Unavailable {
  unavailable: string;
}

/** The lock file's path for session `id` under directory `dir`. */
export function sessionLockPath(dir: string, id: Uint8Array): string {
  return `${dir}/cable-${hex(id)}.lock`;
}

/** Whether `name` is a session lock's file name (one a killed holder may leave in a switch's directory). */
export function isSessionLockName(name: string): boolean {
  return /^cable-[0-9a-f]+\.lock$/.test(name);
}

/**
 * Takes the lock of session `id` in directory `dir` (made when missing), or
 * says which live process holds it, once it has held it for `waitMs`.
 */
export async function lockSession(
  dir: string,
  id: Uint8Array,
  waitMs = WAIT_MS,
): Promise<SessionLock | HeldElsewhere | Unavailable> {
  const path = sessionLockPath(dir, id);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (err) {
    return { unavailable: `cannot make ${dir}: ${(err as Error).message}` };
  }
  const deadline = Date.now() + waitMs;
  for (;;) {
    const lock = tryLockFile(path);
    if ("held" in lock) return lock.held;
    if ("unavailable" in lock) return lock;
    if (Date.now() >= deadline) return { heldBy: lock.busy };
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}
