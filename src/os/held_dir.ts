/**
 * A directory given its mode and group through a descriptor, not by name.
 * Made or found in a parent others may write without the sticky bit (a C
 * vde_switch's 2770 directory, a shared /tmp in a container), a directory
 * of ours can be renamed away by another user between our mkdir and our
 * chmod, and a symlink or a directory of theirs put in its place: chmod and
 * chown by name would then follow the symlink (root's switch giving /etc to
 * a group) or open their directory wide. So the name is opened once,
 * without following a final symlink (O_NOFOLLOW | O_DIRECTORY), the
 * descriptor is checked to be a directory of this user's, and fchown and
 * fchmod change that very directory whatever the name points at meanwhile.
 * A directory is made mode 700 first: until it is given its final mode
 * nobody else may enter it, whatever the umask. Its contents are read
 * through the descriptor too (`listing`), so what was checked to be empty
 * is what is then changed. One made and then given up (a start that
 * failed) is removed only while its name still holds that very directory
 * (its device and inode) and it is empty: rmdir, never unlink, so a file or
 * someone else's directory put in its place stays.
 *
 * A start and a removal of one directory (a switch starting on it while
 * another stops, or while a cable's end finds it unserved), and two starts
 * on it, are kept apart by an flock on the directory itself: a start holds
 * it exclusive from when the directory is there until its socket is bound
 * in it, so a second start finds the first's ctl served and says so, where
 * both took a dead switch's ctl as stale and the second's reclaim removed
 * the first's new ctl (or failed on its removal) and swept the first's
 * staging directory under its bind; a removal takes it exclusive without
 * waiting, and leaves the directory when it cannot (a start is under way)
 * or when the directory is served. A start that got
 * its lock on a directory a removal had just taken away finds the name no
 * longer holds it (`holdForStart`), and makes it again. Without the lock
 * the removal could come between the start's mkdir and its bind, and the
 * bind fail, or land in a directory someone else made at that name
 * meanwhile. A start waits no longer than another start can hold it
 * (START_WAIT_MS): a holder that keeps the lock (any user who may read the
 * directory can take it) only costs the start that wait and its guard.
 */
import { C, cstr, errno, fstatOf, libc, SysError } from "../../ffi/libc.ts";
import { exists, type FileIdentity, stillNamed } from "./paths.ts";

/** What was found at a name that should hold a directory. */
export type NotADirectory = "a symlink" | "not a directory";

/** Thrown by `holdDirectory` when the name holds no directory (or a symlink to one). */
export class NotADirectoryError extends Error {
  constructor(readonly path: string, readonly found: NotADirectory) {
    super(`${path} is ${found}`);
    this.name = "NotADirectoryError";
  }
}

/**
 * Thrown for a use of a pinned directory's entry once it is closed: its descriptor's number may be another
 * file's by then, so no path through it is given.
 */
export class HoldClosedError extends Error {
  constructor(readonly path: string, readonly entryName: string) {
    super(`${path} is no longer held: no ${entryName} in it is reached`);
    this.name = "HoldClosedError";
  }
}

/** Which directory a name held when it was made or opened: its device and inode. */
export type DirectoryIdentity = FileIdentity;

/** A directory open by descriptor until `close`. */
export interface HeldDirectory extends DirectoryIdentity {
  /** Its owner when it was opened. */
  readonly uid: number;
  /** A path to this very directory whatever its name holds now (/proc/self/fd/N), to read its entries. */
  readonly listing: string;
  /** Gives it group `gid` (before its mode: chown may clear the setgid bit). */
  chown(gid: number): void;
  chmod(mode: number): void;
  /** Takes its flock without waiting, exclusive (a start, a removal) or shared: whether it was had. */
  tryLock(exclusive: boolean): boolean;
  close(): void;
}

/**
 * How long a start waits for the directory's lock: a removal holds it for moments, another start until its
 * ctl is bound, which may wait on the name service on the way (nss.ts: 5 s, when the directory is another
 * user's and its owner is named). A start that gave up sooner went ahead unguarded, as two starts raced.
 */
const START_WAIT_MS = 8_000;
/** Between two tries. */
const START_RETRY_MS = 10;
/** How long a removal waits for another removal (or a start) to let go of the directory's lock. */
const REMOVE_WAIT_MS = 250;
/** Between two tries of a removal. */
const REMOVE_RETRY_MS = 2;
/** Slept on by a removal's synchronous wait (nothing ever wakes it). */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Opens the directory at `path` without following a final symlink.
 *
 * @throws NotADirectoryError for a symlink or no directory; SysError otherwise (ENOENT, EACCES)
 */
export function holdDirectory(path: string): HeldDirectory {
  const c = libc();
  const fd = c.open(cstr(path), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
  if (fd < 0) {
    const e = errno();
    if (e !== C.ELOOP && e !== C.ENOTDIR) throw new SysError(`open ${path}`, e);
    // With O_DIRECTORY a symlink fails ENOTDIR too: the name is looked at again only to say which.
    let symlink = e === C.ELOOP;
    try {
      symlink ||= Deno.lstatSync(path).isSymlink;
    } catch { /* gone meanwhile */ }
    throw new NotADirectoryError(path, symlink ? "a symlink" : "not a directory");
  }
  const st = fstatOf(fd);
  if (st === null) {
    const e = errno();
    c.close(fd);
    throw new SysError(`fstat ${path}`, e);
  }
  return {
    uid: st.uid,
    dev: st.dev,
    ino: st.ino,
    listing: `/proc/self/fd/${fd}`,
    chown(gid: number): void {
      // (uid_t)-1 leaves the owner as it is.
      if (c.fchown(fd, 0xffffffff, gid) < 0) throw new SysError(`chown ${path}`, errno());
    },
    chmod(mode: number): void {
      if (c.fchmod(fd, mode) < 0) throw new SysError(`chmod ${path}`, errno());
    },
    tryLock(exclusive: boolean): boolean {
      return c.flock(fd, (exclusive ? C.LOCK_EX : C.LOCK_SH) | C.LOCK_NB) === 0;
    },
    close(): void {
      c.close(fd);
    },
  };
}

/**
 * Holds the directory `held` (opened at `path`) for a start until it is
 * closed: no removal takes it meanwhile, and no other start reclaims it. Waits while either is under way.
 *
 * @returns whether `path` still holds it: false when a removal took it first (make it again)
 */
export async function holdForStart(held: HeldDirectory, path: string): Promise<boolean> {
  const deadline = Date.now() + START_WAIT_MS;
  while (!held.tryLock(true) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, START_RETRY_MS));
  }
  return stillNamed(path, held) !== undefined;
}

/**
 * Takes `dir`'s lock for a removal, waiting up to REMOVE_WAIT_MS. Two
 * removals meet when a switch stops under a running cable: the switch's
 * rmdir fails for the cable's lock file in the directory, and the cable,
 * ending with the switch, removes that file and tries while the switch
 * still holds the lock. Had the cable given up at once, the empty directory
 * was left. Synchronous (both run as their process ends) and bounded: a
 * user holding the lock only costs the removal this wait.
 */
function lockForRemoval(dir: HeldDirectory): boolean {
  const deadline = Date.now() + REMOVE_WAIT_MS;
  while (!dir.tryLock(true)) {
    if (Date.now() >= deadline) return false;
    Atomics.wait(PAUSE, 0, 0, REMOVE_RETRY_MS);
  }
  return true;
}

/**
 * Removes the directory `path` when it is idle: empty, without `served`
 * (a switch's `ctl`) and with no start under way in it (see above).
 * `strays` names sockets that may go with it, once it is known to be
 * unserved and this user's: a switch's clients bind theirs in it for a
 * handshake, and one still under way as the switch stops unlinks its own
 * only after the switch's rmdir, which left the directory behind (the next
 * vdeplug4 node on it: File exists). They are unlinked through the
 * directory's descriptor, so a name swapped meanwhile leads nowhere else.
 * With `only`, the directory is removed only while `path` still names that
 * one (a server's, pinned): another user's put there is left.
 *
 * @returns whether it was removed
 */
export function removeIdleDirectory(
  path: string,
  served: string,
  strays?: RegExp,
  only?: DirectoryIdentity,
): boolean {
  let dir: HeldDirectory;
  try {
    dir = holdDirectory(path);
  } catch {
    return false;
  }
  try {
    if (only !== undefined && (dir.dev !== only.dev || dir.ino !== only.ino)) return false;
    if (!lockForRemoval(dir) || exists(`${dir.listing}/${served}`)) return false;
    if (strays !== undefined && dir.uid === libc().geteuid()) removeStraySockets(dir.listing, strays);
    // rmdir: only this directory while its name holds it, and only empty.
    return stillNamed(path, dir) !== undefined && libc().rmdir(cstr(path)) === 0;
  } finally {
    dir.close();
  }
}

/** Unlinks the sockets in the directory at `listing` whose names match `strays`; never throws. */
function removeStraySockets(listing: string, strays: RegExp): void {
  try {
    for (const e of Deno.readDirSync(listing)) {
      if (!strays.test(e.name)) continue;
      const at = `${listing}/${e.name}`;
      try {
        // lstat and unlink follow no final symlink: a socket there is what goes, nothing it might point at.
        if (Deno.lstatSync(at).isSocket) Deno.removeSync(at);
      } catch { /* its client unlinked it first */ }
    }
  } catch { /* unreadable: the rmdir says whether it is empty */ }
}

/**
 * Makes the directory `path` (its parent already there) and gives it `mode`
 * and group `gid` through a descriptor, once it is known to be the one made.
 *
 * @returns the directory made, for `removeMadeDirectory`; null when `path` was already there (left as it is)
 * @throws Error when what is there once made is no directory of this user's (it was swapped)
 */
export function makeOwnDirectory(path: string, mode: number, gid?: number): DirectoryIdentity | null {
  try {
    Deno.mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return null;
    throw err;
  }
  const dir = holdDirectory(path);
  try {
    if (dir.uid !== libc().geteuid()) {
      throw new Error(`${path} was replaced by another user's directory once made`);
    }
    try {
      // chown first: it may clear the setgid bit, which the mode then sets.
      if (gid !== undefined) dir.chown(gid);
      dir.chmod(mode);
    } catch (err) {
      // Not left behind half made (mode 700, the wrong group): a retry makes it afresh.
      removeMadeDirectory(path, dir);
      throw err;
    }
    return { dev: dir.dev, ino: dir.ino };
  } finally {
    dir.close();
  }
}

/**
 * Removes the directory `made` by its name `path`, when that name still
 * holds it (not a directory renamed in since) and it is empty.
 *
 * @returns whether it was removed
 */
export function removeMadeDirectory(path: string, made: DirectoryIdentity): boolean {
  const st = stillNamed(path, made);
  if (st === undefined || !st.isDirectory || st.uid !== libc().geteuid()) return false;
  // rmdir: whatever is swapped in meanwhile, a file is never removed, nor a directory with anything in it.
  return libc().rmdir(cstr(path)) === 0;
}

/**
 * A directory a server works in for its whole life, held by an O_PATH
 * descriptor: every later bind, rename and unlink in it goes through
 * `entry(NAME)` (/proc/self/fd/N/NAME, which the kernel resolves to this
 * very directory), never through its name. In a parent others may write
 * without the sticky bit, the name can be renamed away and a directory of
 * theirs put there at any moment after the start; by name, root's switch
 * would then bind its sockets, rename `.NNN.F.new` onto `NNN.F` and unlink
 * `NNN.F` and `ctl` in their directory (following a link they put there for
 * a bind). Through the descriptor it keeps serving the very directory it
 * started in, wherever that went, for the clients that still find it.
 * O_PATH: it takes no read permission (a --dirmode 0300 directory), and a
 * descriptor of its own leaves the start's flock (HeldDirectory) to go with
 * the start's descriptor. A path through it is valid only while it is held:
 * what a user keeps for later (a socket removed at its close) is a
 * `held(NAME)` entry, which asks again at each use and is refused once the
 * pin is closed, whatever order a shutdown closes things in.
 */
export class PinnedDirectory implements DirectoryIdentity {
  /** This very directory as a path, whatever its name holds now. */
  readonly at: string;
  readonly dev: bigint;
  readonly ino: bigint;
  #fd: number;
  #saidMoved = false;

  private constructor(readonly path: string, fd: number, dev: bigint, ino: bigint) {
    this.#fd = fd;
    this.at = `/proc/self/fd/${fd}`;
    this.dev = dev;
    this.ino = ino;
  }

  /**
   * Pins the directory named `path`: the one `held` holds when given (so what the start checked is what
   * is served), else the one at `path` itself, a final symlink followed only with `follow` (a directory
   * the user named through a link, as ptp://'s PATH's).
   *
   * @throws SysError when it cannot be opened; NotADirectoryError when `path` names no directory
   */
  static pin(path: string, held?: HeldDirectory, follow = false): PinnedDirectory {
    const c = libc();
    // The held one's /proc link is followed (it is the magic link to that very directory).
    const fd = held !== undefined
      ? c.open(cstr(held.listing), C.O_PATH | C.O_DIRECTORY | C.O_CLOEXEC, 0)
      : c.open(cstr(path), C.O_PATH | C.O_DIRECTORY | (follow ? 0 : C.O_NOFOLLOW) | C.O_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno();
      if (e === C.ENOTDIR || e === C.ELOOP) throw new NotADirectoryError(path, "not a directory");
      throw new SysError(`open ${path}`, e);
    }
    const st = fstatOf(fd);
    if (st === null) {
      const e = errno();
      c.close(fd);
      throw new SysError(`fstat ${path}`, e);
    }
    return new PinnedDirectory(path, fd, st.dev, st.ino);
  }

  /**
   * `name` in this very directory (/proc/self/fd/N/name), for a bind, rename or unlink now. Only while it
   * is held: once closed, N may be any file another open got, and the path would lead there. What is
   * kept for later uses is a `held(name)`, which asks again at each.
   *
   * @throws HoldClosedError once closed
   */
  entry(name: string): string {
    if (this.#fd < 0) throw new HoldClosedError(this.path, name);
    return `${this.at}/${name}`;
  }

  /** `name` in this very directory for uses over a while (a socket made, then removed): see HeldEntry. */
  held(name: string): HeldEntry {
    return new HeldEntry(this, name);
  }

  /** Whether its name still holds it (not renamed away, nor removed). */
  get named(): boolean {
    return stillNamed(this.path, this) !== undefined;
  }

  /**
   * Where clients find it now: its name while that holds it; else (renamed away) where it went, said
   * once to `log`. A directory removed meanwhile has no path: its name is said, as it was.
   */
  whereNow(log: (message: string) => void): string {
    if (this.named) return this.path;
    let now: string | undefined;
    try {
      // Only while held: a closed one's number may be another file's.
      if (this.#fd >= 0) now = Deno.readLinkSync(this.at);
    } catch { /* closed */ }
    const gone = now === undefined || now.endsWith(" (deleted)");
    if (!this.#saidMoved) {
      this.#saidMoved = true;
      log(
        `${this.path} no longer names the directory served (${gone ? "removed" : `renamed to ${now}`}): ` +
          `kept serving by its descriptor; nothing is made or removed at ${this.path}`,
      );
    }
    return gone ? this.path : now!;
  }

  close(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }
}

/**
 * A name in a pinned directory that its user keeps (a switch's mgmt and
 * capture sockets, a port's): `path` asks the directory at each use, so a
 * use after the hold was closed (a shutdown that closed it first) is
 * refused with HoldClosedError, never a path through a descriptor number
 * that another open may have taken, which would bind, rename or unlink in
 * whatever file that is. The guarantee is the type's, not the shutdown's
 * order.
 */
export class HeldEntry {
  constructor(readonly dir: PinnedDirectory, readonly name: string) {}

  /**
   * The entry as a path now (/proc/self/fd/N/NAME): for one use, not to keep.
   *
   * @throws HoldClosedError once the directory is no longer held
   */
  get path(): string {
    return this.dir.entry(this.name);
  }
}

/** Where a server's socket is: a held entry, or a path worked by name (one outside the directory held). */
export type SocketPlace = HeldEntry | string;

/**
 * `place` as a path now, for one use.
 *
 * @throws HoldClosedError for a held entry whose directory is no longer held
 */
export function placePath(place: SocketPlace): string {
  return typeof place === "string" ? place : place.path;
}

/**
 * What is at `place` now, a final symlink not followed; undefined when nothing is (or it cannot be looked at).
 *
 * @throws HoldClosedError for a held entry whose directory is no longer held
 */
export function placeInfo(place: SocketPlace): Deno.FileInfo | undefined {
  const path = placePath(place);
  try {
    return Deno.lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Removes the socket file at `place`; never throws. Gone already is fine; a held entry whose directory is
 * no longer held is left, said in one line to `log`.
 */
export function removeSocketFile(place: SocketPlace, log: (message: string) => void): void {
  try {
    Deno.removeSync(placePath(place));
  } catch (err) {
    if (err instanceof HoldClosedError) log(`${err.message}: its socket is left`);
  }
}
