/**
 * One process per connecting cable session on a host, whichever command
 * carries it: `vde cable connect ADDR --sock S`, `vde plug S tcp://ADDR`
 * and `vde switch -s S --cable tcp://ADDR` name one session (its id is made
 * of this host, the local switch and the listener's address, or
 * `session=NAME`), and the listener hands a session to its newest
 * connection, so any two of them running at once take the cable from each
 * other, back and forth, for as long as both run. Each takes the session's
 * lock (cable/session_lock.ts) before it connects, and a second is refused
 * naming the first.
 *
 * The lock goes next to the switch's sockets, where every user who may plug
 * a cable into it can ask; where that cannot be (another VNL, a directory
 * this user may enter but not write), in the user's runtime directory; and
 * where no lock can be had at all the cable runs unlocked, said once.
 */
import { lockSession, type SessionLock } from "../cable/session_lock.ts";
import { hex } from "../wire/cable_handshake.ts";
import { labsBaseDir } from "../lab/names.ts";
import { removeIdleDirectory } from "../os/held_dir.ts";
import { log } from "../log.ts";
import { splitVnl } from "./registry.ts";
import { parseVdeVnl, switchDir } from "./vde_link.ts";

/** The cable's session is carried by another process of this host: a second would fight it. */
export class CableHeld extends Error {
  constructor(readonly pid: number, readonly session: string) {
    super(
      `already runs on this host (${pid > 0 ? `pid ${pid}` : "a process of another pid namespace"}, ` +
        `session ${session}): a second one would take the cable from it, and it back, over and over`,
    );
  }
}

/**
 * The local end of a cable as its session id and lock know it: a switch
 * directory by its real path, so that `sw`, `./sw`, `vde:///tmp/sw` and
 * `/tmp/sw` (or a symlink to it) are one switch, one session; its
 * `[port=N]` kept. Any other VNL, or a path that names no directory
 * (opening it says why), as typed.
 */
export function localSwitch(sock: string): { name: string; dir?: string } {
  const { scheme, rest } = splitVnl(sock);
  if (scheme !== "vde") return { name: sock };
  try {
    const path = parseVdeVnl(rest).path;
    const dir = switchDir(path);
    return { name: `${dir}${rest.slice(path.length)}`, dir };
  } catch {
    return { name: sock };
  }
}

/**
 * Takes the lock of cable session `id` (tcp_link.ts `sessionIdFor`) from
 * `local` (see `localSwitch`): beside its switch's sockets, else in the
 * runtime directory, else none (said in the log, and the cable runs as
 * before there was a lock).
 *
 * @throws CableHeld naming the process that carries the session
 */
export async function lockCable(id: Uint8Array, local: { name: string; dir?: string }): Promise<SessionLock> {
  const why: string[] = [];
  for (const dir of local.dir === undefined ? [undefined] : [local.dir, undefined]) {
    let base: string;
    try {
      base = dir ?? labsBaseDir();
    } catch (err) {
      // Another user's /tmp/vde-UID: the cable must not cost its lock's directory.
      why.push((err as Error).message);
      break;
    }
    const lock = await lockSession(base, id);
    if ("release" in lock) {
      return dir === undefined
        ? lock
        : { directory: lock.directory, release: () => releaseBeside(lock, dir) };
    }
    if ("unavailable" in lock) {
      why.push(lock.unavailable);
      continue;
    }
    throw new CableHeld(lock.heldBy, hex(id).slice(0, 16));
  }
  // The lock guards against a second carrier of the cable; without it the cable still runs, as before.
  log("vde cable", `no session lock (${why.join("; ")}): a second connect of this cable is not refused`);
  return { release() {} };
}

/**
 * Gives up a lock held in the switch's directory `dir`, and removes that
 * directory when it is empty and its switch gone: a switch stopping while
 * the cable runs could not remove it for the lock in it, as it would have.
 * Not while a switch is starting in it (os/held_dir.ts): found without its
 * ctl a moment before the bind, it would have lost its directory. Only the
 * directory the lock was taken in: renamed away meanwhile (a parent others
 * may write without the sticky bit), an empty one another user put at its
 * name is theirs, and stays.
 */
function releaseBeside(lock: SessionLock, dir: string): void {
  lock.release();
  // Left when not empty (a client's file, a lock kept in a shared directory), served, or being served.
  removeIdleDirectory(dir, "ctl", undefined, lock.directory);
}
