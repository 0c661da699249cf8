/**
 * A unix socket only its owner may connect to, whatever the umask: a
 * rootless lab's `NODE.outside`, which the lab takes as its process outside
 * (the first connection is the node), in a directory made 0711 once a
 * switch lets others in, whose names a guess finds; or one of a mode given
 * (a switch's capture socket, `--capture-mode`), never wider meanwhile.
 *
 * Theory of operation. bind() gives the socket file 0777 less the umask,
 * and a chmod after it leaves a moment in which another user could connect
 * first. The process-wide umask cannot be narrowed for the bind alone: it
 * is one for every thread (Linux's fs_struct, shared by Deno's I/O threads
 * and its Workers, a switch's data-plane thread among them), so a file any
 * of them made meanwhile would come narrowed (a log 0600), and two
 * narrowings crossing on two threads could leave one bind under the wide
 * umask and the process under the narrow one for good. So the socket is bound in a directory of its own made mode 700 in
 * the same directory (link(2) and rename(2) stay on one file system), given
 * its mode (and owner) there, where nobody else can reach it yet, and
 * renamed onto its name, where it is whole from its first moment; the
 * directory is then removed. Without `replace` it is linked there instead,
 * which fails on a name taken, as a bind there would. One staging step
 * (bindPrivately) serves every such socket: listenPrivate is it with
 * Deno.listen as the bind, and closes its listener when the name cannot be
 * put in place; a datagram socket (a port's, ptp://) binds by libc.
 *
 * The kernel keeps the name a socket was bound at as its address, whatever
 * link(2) or rename(2) do with the file after (tried: getsockname and
 * `ss -x` name the staging path once the socket is at its name), and the
 * bind is made through the held directory (below), so `ss -x` shows
 * /proc/self/fd/N/s for these sockets, not DIR/capture or a port's name.
 * Clients connect by the real name, and nothing in vde reads the kernel's. Binding at the real name under a narrowed mode has no safe
 * way here: not the umask (above); an fchmod of the socket before its bind
 * (Linux takes the mode for the file from the socket's inode, less the
 * umask) works for sockets made by libc (a port's, ptp://), not for
 * Deno.listen's (capture, a lab's NODE.outside), and an owner or a mode
 * the umask cut still needs a chown or chmod by name after the bind, which
 * another user's symlink swapped in there would lead elsewhere. (A port's
 * socket on a data-plane thread is renamed onto its name in any case, from
 * `.NNN.F.new`, once the thread forwards for it.)
 *
 * The staging directory's name is random (40 bits), made anew (mkdir fails
 * on a name taken: another is drawn), so nobody who may write the shared
 * directory (a group's, `vde switch --mode 660 --group G`) can make our
 * binds fail by making the names first: a numbered `.0`-`.99` could all be
 * taken by one member. Once made it is held by a descriptor and everything
 * after is done through it (fchmodat, fchownat, linkat, renameat,
 * unlinkat), never by its name: in a directory others may write without the
 * sticky bit (a C vde_switch's 2770 directory, ptp:// in a directory of a
 * user's choosing) they could rename ours away and put a directory of theirs
 * there, with a symlink `s` in it, for root's chmod by name to follow. The
 * bind too: by name, it followed a link put there in place of ours (made
 * root's socket `s` in any directory the link named, /etc or /root) and the
 * socket was never ours to place; through /proc/self/fd/N/s it is made in
 * the very directory held, wherever its name went, and placed from there.
 * A process killed mid-bind leaves its staging directory; a switch that
 * reclaims a dead one's directory removes those of its user
 * (removeStaleStaging), held and judged by descriptor as they were made.
 */
import { C, cstr, errno, type FdStat, fstatOf, libc, strerror } from "../../ffi/libc.ts";
import { stillNamed } from "./paths.ts";

/**
 * Listens on unix socket `path`, mode `mode` (0600) from the start; `replace` (the default) takes the
 * name whatever is there, else a name taken fails (AlreadyExists).
 *
 * @throws Deno's error when the socket cannot be bound or put at `path`
 */
export function listenPrivate(path: string, mode = 0o600, replace = true): Deno.UnixListener {
  let listener: Deno.UnixListener | undefined;
  try {
    bindPrivately(path, mode, (staged) => {
      listener = Deno.listen({ transport: "unix", path: staged });
    }, { replace });
  } catch (err) {
    // Bound, but not put at its name: nobody can reach it, and nobody will.
    listener?.close();
    throw err;
  }
  return listener!;
}

/** Who a socket file is given to before it appears at its name (chown's; root alone may give a uid). */
export interface SocketOwner {
  uid?: number;
  gid?: number;
}

/** How bindPrivately puts a socket at its name. */
export interface PrivateBindOptions extends SocketOwner {
  /** Take the name whatever is there (rename), instead of failing on one taken (link). */
  replace?: boolean;
}

/**
 * Puts a socket file at `path` whose mode is `mode` from its first moment:
 * `bind(staged)` binds it in a private directory, where it is given its
 * owner and mode, and it is then linked onto `path`, which never replaces
 * one there (a name taken in the meantime is AlreadyExists, as bind's
 * EADDRINUSE), or with `replace` renamed there. The owner (`uid`, `gid`),
 * when given, is the file's from that moment too.
 *
 * @throws what `bind` throws, or Deno's error when the name cannot be put at `path`
 */
export function bindPrivately(
  path: string,
  mode: number,
  bind: (staged: string) => void,
  options: PrivateBindOptions = {},
): void {
  const staging = Staging.beside(path);
  try {
    bind(staging.socketPath);
    staging.bound = true;
    staging.give(mode, options);
    staging.place(path, options.replace === true);
  } finally {
    staging.remove();
  }
}

/** The socket's name in its staging directory. */
const SOCKET = cstr("s");
/** Names drawn before giving up: each is new with odds of 1 in 2^40 against whoever guesses. */
const DRAWS = 16;
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A new private directory (mode 700) beside a socket's name, held by its descriptor until `remove`. */
class Staging {
  /**
   * Whether `s` in it is ours to unlink: our bind made it, or a sweep found a socket there. A bind that
   * failed on an `s` already there (EADDRINUSE: another directory of ours renamed in as it was made, which
   * only a user who may write the parent could do) leaves that file as it is.
   */
  bound = false;

  constructor(
    readonly path: string,
    readonly fd: number,
    readonly dev: bigint,
    readonly ino: bigint,
  ) {}

  /** Made in the directory of `path`, under a random name (`.` and 8 letters or digits). */
  static beside(path: string): Staging {
    const cut = path.lastIndexOf("/");
    const dir = cut < 0 ? "." : path.slice(0, cut);
    for (let draw = 1;; draw++) {
      const name = `${dir}/.${randomName()}`;
      try {
        Deno.mkdirSync(name, { mode: 0o700 });
      } catch (err) {
        if (err instanceof Deno.errors.AlreadyExists && draw < DRAWS) continue;
        throw err;
      }
      return Staging.#hold(name);
    }
  }

  static #hold(name: string): Staging {
    const c = libc();
    // O_PATH: a directory the umask made 0000 opens so too (the *at calls take such a descriptor).
    const fd = c.open(cstr(name), C.O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
    if (fd < 0) {
      const err = fileError("open", name);
      rmdirQuietly(name);
      throw err;
    }
    const st = fstatOf(fd);
    // Swapped between our mkdir and our open (a directory others may write without the sticky bit): not ours,
    // or another directory of our user's renamed in with group or others' bits (mkdir's 0700 never has them,
    // whatever the umask), which the chmod below would narrow, the bind fill, and the removal take away.
    if (!isStagingDir(st)) {
      c.close(fd);
      throw new Error(`${name}: replaced by another directory as it was made`);
    }
    // mkdir's mode is cut by the umask too: under 0277 or 0777 the directory came 0500 or 0000 and the
    // bind in it failed (EACCES) for any user but root. Only the owner's bits are given back.
    // Through the very directory held (fchmod takes no O_PATH descriptor; its /proc name does).
    try {
      Deno.chmodSync(`/proc/self/fd/${fd}`, 0o700);
    } catch (err) {
      c.close(fd);
      rmdirQuietly(name);
      throw err;
    }
    return new Staging(name, fd, st.dev, st.ino);
  }

  /**
   * Where the socket is bound: in the very directory held, through its descriptor (/proc/self/fd/N/s),
   * whatever its name leads to now; short enough for a socket's address whatever the directory's path.
   */
  get socketPath(): string {
    return `/proc/self/fd/${this.fd}/s`;
  }

  /** Gives the bound socket its owner (before its mode: chown may clear bits) and mode, in the held directory. */
  give(mode: number, owner?: SocketOwner): void {
    const c = libc();
    if (owner?.uid !== undefined || owner?.gid !== undefined) {
      const none = 0xffffffff; // chown's -1: unchanged
      const r = c.fchownat(this.fd, SOCKET, owner.uid ?? none, owner.gid ?? none, C.AT_SYMLINK_NOFOLLOW);
      if (r < 0) throw fileError("chown", `${this.path}/s`);
    }
    if (c.fchmodat(this.fd, SOCKET, mode, 0) < 0) throw fileError("chmod", `${this.path}/s`);
  }

  /** Puts the socket at `path`: renamed over whatever is there (`replace`), else linked (AlreadyExists if taken). */
  place(path: string, replace: boolean): void {
    const c = libc();
    const r = replace
      ? c.renameat(this.fd, SOCKET, C.AT_FDCWD, cstr(path))
      : c.linkat(this.fd, SOCKET, C.AT_FDCWD, cstr(path), 0);
    if (r < 0) throw fileError(replace ? "rename" : "link", path);
  }

  /** Unlinks the staged name (if bound) and removes the directory, while its name still holds it. */
  remove(): void {
    const c = libc();
    if (this.bound) c.unlinkat(this.fd, SOCKET, 0);
    c.close(this.fd);
    if (stillNamed(this.path, this) !== undefined) rmdirQuietly(this.path);
  }
}

/** A staging directory's name (Staging.beside). */
const STAGING_NAME = /^\.[a-z2-7]{8}$/;

/**
 * Removes the staging directories of ours in `dir` (and a socket `s` in each) that a process killed
 * mid-bind (SIGKILL) left, for a caller who knows nobody binds there now (a switch that just reclaimed a
 * dead one's `ctl`); returns how many. Each is held and judged by its descriptor first: another user's
 * (a group member's in a shared directory), or anything else by that name, is left.
 */
export function removeStaleStaging(dir: string): number {
  const c = libc();
  let removed = 0;
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isDirectory || !STAGING_NAME.test(entry.name)) continue;
    const path = `${dir}/${entry.name}`;
    const fd = c.open(cstr(path), C.O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
    if (fd < 0) continue;
    const st = fstatOf(fd);
    if (!isStagingDir(st)) {
      c.close(fd);
      continue;
    }
    const stale = new Staging(path, fd, st.dev, st.ino);
    // A socket only: what else is there was never bound by a Staging (its directory renamed in by a user).
    stale.bound = isSocketAt(`/proc/self/fd/${fd}/s`);
    stale.remove();
    if (stillNamed(path, st) === undefined) removed++;
  }
  return removed;
}

/** Whether a directory held (its fstat) may be one Staging made: ours, and without group or others' bits. */
function isStagingDir(st: FdStat | null): st is FdStat {
  return st !== null && st.uid === libc().geteuid() && (st.mode & 0o077) === 0;
}

/** Whether `path` itself (not followed) is a socket. */
function isSocketAt(path: string): boolean {
  try {
    return Deno.lstatSync(path).isSocket === true;
  } catch {
    return false;
  }
}

/** 8 letters or digits (40 bits) from the system's random source. */
function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let name = "";
  for (const b of bytes) name += ALPHABET[b & 31];
  return name;
}

function rmdirQuietly(path: string): void {
  libc().rmdir(cstr(path));
}

/**
 * The failed call's errno as Deno's error of its kind and in its words (`Why (os error N): call 'path'`):
 * callers tell AlreadyExists from the rest, and ptp:// words the why without our staging name.
 */
function fileError(call: string, path: string): Error {
  const code = errno();
  const message = `${strerror(code)} (os error ${code}): ${call} '${path}'`;
  if (code === C.EEXIST) return new Deno.errors.AlreadyExists(message);
  if (code === C.ENOENT) return new Deno.errors.NotFound(message);
  if (code === C.EACCES || code === C.EPERM) return new Deno.errors.PermissionDenied(message);
  return new Error(message);
}
