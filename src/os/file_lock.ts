/**
 * An exclusive lock that dies with its holder: flock(2) on an open file.
 *
 * A lock kept as a file's existence (a listening socket, a pid file) stays
 * when its holder is killed with SIGKILL, and only its owner may remove it
 * from a sticky directory, so another user could never take it over. An
 * flock is the kernel's, on the open file: it goes when the holder's fd
 * does, however the holder ends, and anyone who can open the file may take
 * it then, without removing or changing the file.
 *
 * Theory of operation. The file is opened read-only (flock needs no write
 * access) without following a symlink and without blocking (a FIFO planted
 * there would block a plain open), and must be a regular file; when it does
 * not exist it is created (O_EXCL, so never through a name swapped in) and
 * made readable by all through its fd, so the users who share the directory
 * can lock it too; nobody else's file is ever changed. The directory itself
 * is opened without following a final symlink (its owner may swap it for
 * one after the caller resolved it), and everything after the
 * directory is opened goes through its descriptor (openat, fstatat,
 * unlinkat), so it all happens in that one directory whatever its path
 * leads to meanwhile. A taker that got the lock checks the name still leads
 * to the file it locked: one that locked a file just removed tries again on
 * the new one, so two never hold at once. Who holds a busy lock is read
 * from /proc/locks.
 *
 * Removal. A holder that gives the lock up removes the file while still
 * holding it, but only where nobody else can swap that name between its
 * check and the unlink (there is no unlink by descriptor): the file is its
 * own and the directory is sticky (only a file's owner, the directory's and
 * root may rename or remove it) or writable by its owner alone. In a shared
 * directory without the sticky bit (a C vde_switch's `-m 770 -g GROUP`) any
 * member could rename a file of theirs onto the name in between, and it
 * would be theirs that went: there the file stays, as flock users often
 * leave theirs. That is harmless: the next taker simply locks it, and a
 * switch's start counts it as a switch's own (vde/switch_server.ts).
 */
import { C, cstr, errno, type FdStat, fstatOf, libc, statAt, strerror } from "../../ffi/libc.ts";
import { dirOf, type FileIdentity } from "./paths.ts";

/** A lock this process holds; `release` removes its file (when its own) and lets go. */
export interface HeldFileLock {
  /** The directory the lock's file is in, as it was opened: its name may hold another by the release. */
  readonly directory: FileIdentity;
  release(): void;
}

/** What `tryLockFile` found: held by us now, busy (with the holder's pid, 0 if not visible), or not to be had. */
export type FileLockResult = { held: HeldFileLock } | { busy: number } | { unavailable: string };

/** Which regular file the descriptor `fd` holds, or undefined for anything else. */
function identity(fd: number): FileIdentity | undefined {
  const st = fstatOf(fd);
  return st !== null && (st.mode & C.S_IFMT) === C.S_IFREG ? { dev: st.dev, ino: st.ino } : undefined;
}

/** Whether `name` in the directory `dirFd` still is the file `id` (a final symlink not followed). */
function stillNamedAt(dirFd: number, name: string, id: FileIdentity): boolean {
  const st = statAt(dirFd, name);
  return st !== null && st.dev === id.dev && st.ino === id.ino;
}

/**
 * Whether nobody but this user (and the directory's owner, and root, who
 * may do anything there anyway) can rename or remove a file of this user's
 * in directory `dir`: sticky, or writable by its owner alone.
 */
function nameIsOurs(dir: FdStat, file: FdStat): boolean {
  return file.uid === libc().geteuid() && ((dir.mode & C.S_ISVTX) !== 0 || (dir.mode & 0o022) === 0);
}

/**
 * Opens `name` in directory `dirFd` to lock it, creating it when missing:
 * the fd, or why not. `undefined` when it was created or removed meanwhile (try again).
 */
function openForLock(dirFd: number, path: string, name: string): number | string | undefined {
  const c = libc();
  const flags = C.O_NOFOLLOW | C.O_NONBLOCK | C.O_CLOEXEC;
  const fd = c.openat(dirFd, cstr(name), C.O_RDONLY | flags, 0);
  if (fd >= 0) return fd;
  if (errno() !== C.ENOENT) return `cannot open ${path}: ${strerror(errno())}`;
  const made = c.openat(dirFd, cstr(name), C.O_RDWR | C.O_CREAT | C.O_EXCL | flags, 0o644);
  if (made < 0) return errno() === C.EEXIST ? undefined : `cannot make ${path}: ${strerror(errno())}`;
  // Whatever the umask: the users who share the directory must be able to open it to lock it.
  c.fchmod(made, 0o644);
  return made;
}

/**
 * The pid /proc/locks gives for the flock on inode `ino`, 0 when none is
 * visible (a holder in another pid namespace shows as none). Matched by the
 * inode alone: a filesystem's device there is its superblock's, which is
 * not always the one stat says (btrfs subvolumes), and a wrong match costs
 * only the pid in a message.
 */
export function flockHolder(ino: number, locks = "/proc/locks"): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(locks);
  } catch {
    return 0;
  }
  for (const line of text.split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1311 0 EOF" (a "-> " line is a waiter, not the holder)
    const f = line.trim().split(/\s+/);
    if (f[1] !== "FLOCK" || f[5] === undefined || Number(f[5].split(":")[2]) !== ino) continue;
    const pid = Number(f[4]);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  }
  return 0;
}

/** Takes the lock on `path` without waiting. */
export function tryLockFile(path: string): FileLockResult {
  const c = libc();
  const cut = path.lastIndexOf("/");
  const [dir, name] = cut < 0 ? [".", path] : [dirOf(path), path.slice(cut + 1)];
  // The directory as it is now: the lock's file is opened, checked and removed in this one. Not through a
  // final symlink: one its owner swapped in after the caller resolved it would have root make the file
  // wherever it leads (a root-only directory). A path's earlier links are the caller's choice, not swapped.
  const dirFd = c.open(cstr(dir), C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
  if (dirFd < 0) {
    const e = errno();
    // O_DIRECTORY with O_NOFOLLOW fails a symlink ELOOP or ENOTDIR: either way no directory is there.
    if (e === C.ELOOP || e === C.ENOTDIR) {
      return { unavailable: `${dir} is a symlink or no directory: no lock there` };
    }
    return { unavailable: `cannot open ${dir}: ${strerror(e)}` };
  }
  const result = lockIn(dirFd, path, name);
  if (!("held" in result)) c.close(dirFd);
  return result;
}

/** `tryLockFile` in the directory open as `dirFd` (closed by the lock's release when held). */
function lockIn(dirFd: number, path: string, name: string): FileLockResult {
  const c = libc();
  for (let attempt = 0; attempt < 5; attempt++) {
    const fd = openForLock(dirFd, path, name);
    if (fd === undefined) continue;
    if (typeof fd === "string") return { unavailable: fd };
    // The file the fd holds, not what the name leads to by now.
    const id = identity(fd);
    if (id === undefined) {
      c.close(fd);
      return { unavailable: `${path} is in the way: no lock file` };
    }
    if (c.flock(fd, C.LOCK_EX | C.LOCK_NB) < 0) {
      const e = errno();
      c.close(fd);
      if (e === C.EAGAIN) return { busy: flockHolder(Number(id.ino)) };
      return { unavailable: `cannot lock ${path}: ${strerror(e)}` };
    }
    // Locked a file its last holder removed as it let go: the name leads elsewhere now, or nowhere.
    if (!stillNamedAt(dirFd, name, id)) {
      c.close(fd);
      continue;
    }
    let held = true;
    const dir = fstatOf(dirFd);
    return {
      held: {
        // An fstat of an open directory does not fail; were it to, no identity matches it.
        directory: dir === null ? { dev: -1n, ino: -1n } : { dev: dir.dev, ino: dir.ino },
        release() {
          if (!held) return;
          held = false;
          // Removed while still held, so no taker locks a name that is going; only where no one else can
          // have put another file under the name since it was checked (see Removal above).
          const dir = fstatOf(dirFd);
          const file = fstatOf(fd);
          if (dir !== null && file !== null && nameIsOurs(dir, file) && stillNamedAt(dirFd, name, id)) {
            c.unlinkat(dirFd, cstr(name), 0);
          }
          c.close(fd);
          c.close(dirFd);
        },
      },
    };
  }
  return { unavailable: `${path} keeps changing` };
}
