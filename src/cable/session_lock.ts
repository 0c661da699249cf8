/**
 * One connecting process per cable session on a host. A listener hands a
 * session to its newest connection (that is how a restarted or moved cable
 * takes over at once), so two live `vde cable connect` of one session, the
 * same command run twice, take the cable from each other, back and forth,
 * for as long as both run: each reconnects as soon as it is replaced, and
 * neither carries frames for long.
 *
 * Theory of operation. The lock is a unix stream socket named after the
 * session id, in a directory the caller picks: next to the switch's sockets
 * when it may, so that two users who share a switch share its sessions'
 * locks too (their two `--session office` of one switch are one session,
 * and would fight as one user's two commands do), else in the user's
 * runtime directory. Holding it is listening on it, mode 666 (in a shared
 * directory another user must be able to ask); the holder answers each
 * connection with its pid and closes it. A
 * second process finds the name bound, connects, and reads who holds it; a
 * name nobody listens on any more (a holder killed with SIGKILL) refuses
 * the connection, and is removed and taken (only while it is still the
 * file found dead: two takers must not both remove and bind). A holder
 * that is stopping gives the name up within moments, so a restart right
 * after a stop waits that long before it calls the name held.
 *
 * The lock only keeps a user from fighting himself; it must never cost a
 * cable that connected before it existed. A directory this process cannot
 * write (another user's XDG_RUNTIME_DIR kept across `su`, a read-only
 * /tmp), a name too long for a unix socket, or a file in the way that is
 * no socket, one of another user's that we may not ask or remove (a sticky
 * switch directory): the lock is unavailable there, the caller tries its
 * next directory, and with none left the cable runs unlocked and the caller
 * says why once.
 */
import { hex } from "../wire/cable_handshake.ts";

/** How long a name found held is tried again: a holder that is stopping lets go within this. */
const WAIT_MS = 2_000;
/** Between two tries. */
const RETRY_MS = 100;

/** A held session lock; `release` gives it up. */
export interface SessionLock {
  release(): void;
}

/** The lock of another live process: its pid, as it answered, or 0 when it did not answer (stopped). */
export interface HeldElsewhere {
  heldBy: number;
}

/** No lock could be had here (not writable, name too long, in the way): why, in one line. */
export interface Unavailable {
  unavailable: string;
}

/** The lock's socket path for session `id` under directory `dir`. */
export function sessionLockPath(dir: string, id: Uint8Array): string {
  return `${dir}/cable-${hex(id)}.lock`;
}

/** Listens on `path` and answers each caller with this process's pid. */
function hold(path: string): SessionLock {
  const listener = Deno.listen({ transport: "unix", path });
  try {
    // Only a pid is ever said on it; whoever may enter the directory is to be able to ask.
    Deno.chmodSync(path, 0o666);
  } catch { /* asked by its own user only */ }
  (async () => {
    try {
      for await (const conn of listener) {
        conn.write(new TextEncoder().encode(`${Deno.pid}\n`)).catch(() => {}).finally(() => conn.close());
      }
    } catch { /* closed */ }
  })();
  return {
    release() {
      try {
        listener.close();
      } catch { /* closed already */ }
      try {
        Deno.removeSync(path);
      } catch { /* gone already */ }
    },
  };
}

/** How long a holder is given to answer: one stopped (Ctrl-Z, SIGSTOP) accepts in the kernel but never writes. */
const ANSWER_MS = 500;

/**
 * The pid the holder of `path` answers with; undefined when nobody listens
 * there, 0 when something listens but does not say who (a stopped holder),
 * "denied" when it is another user's we may not connect to (in the moment
 * between its bind and its chmod, or left by an older version).
 */
async function holderOf(path: string): Promise<number | undefined | "denied"> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (err) {
    return err instanceof Deno.errors.PermissionDenied ? "denied" : undefined;
  }
  // Closing the connection ends a read the holder never answers.
  const timer = setTimeout(() => conn.close(), ANSWER_MS);
  try {
    const buf = new Uint8Array(32);
    const n = await conn.read(buf);
    const pid = Number(new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** Which file `path` is now (inode and change time), or undefined when there is none. */
export function fileIdentity(path: string): string | undefined {
  try {
    const st = Deno.lstatSync(path);
    return `${st.ino}:${st.ctime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/**
 * Removes `path` if it is still the file `seen` (its identity when found
 * dead). Two processes that find one dead holder's name both try to take
 * it over: the first removes it and binds its own, and the second, whose
 * check came before that bind, must not remove the new live name too, or
 * both would hold the lock. Whether it removed the file.
 */
export function removeIfStill(path: string, seen: string | undefined): boolean {
  if (seen === undefined || fileIdentity(path) !== seen) return false;
  try {
    Deno.removeSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of session `id` in directory `dir` (made when missing), or
 * says which live process holds it, once it has held it for `waitMs`. A
 * name nobody answers on is taken over.
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
  let tookOver = false;
  for (;;) {
    try {
      return hold(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse)) {
        return { unavailable: `cannot listen on ${path}: ${(err as Error).message}` };
      }
    }
    const seen = fileIdentity(path);
    const pid = await holderOf(path);
    // Not to be taken for dead: its holder may be alive; elsewhere it may be had.
    if (pid === "denied") return { unavailable: `${path} is another user's that this one may not ask` };
    if (pid === undefined) {
      // Left by a holder that died without removing it; something that stays there is no lock of ours.
      if (tookOver) return { unavailable: `${path} is in the way and cannot be taken over` };
      tookOver = true;
      // Not removed when another process took it over meanwhile: the next try finds that one's answer.
      removeIfStill(path, seen);
      continue;
    }
    if (Date.now() >= deadline) return { heldBy: pid };
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
}
