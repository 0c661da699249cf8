/**
 * A file a program is told to write (`--logfile`, `--pcap`, `vde capture -w`),
 * opened so that the name cannot lead root's writes somewhere else.
 *
 * Theory of operation. These names are often in /tmp, where any user may put
 * a symlink or a file of their own first: a plain open follows a symlink to
 * /etc/shadow (and `--pcap`'s truncate empties it; Linux's protected_symlinks,
 * which stops that, is a sysctl a machine may have off), writes frames into a
 * user's own file or FIFO (every port's traffic, read by that user), or blocks
 * on a FIFO for good. So the name is opened without following a final
 * symlink, as O_PATH, and its descriptor's stat decides: a regular file with
 * one name, owned by this process's effective user (a named pipe of theirs,
 * or a device, only where the caller takes one). The very inode checked is
 * then opened for writing through /proc/self/fd/N. A name that is not there
 * is made with O_EXCL, so it is ours; one made in between is looked at again.
 * A symlink this user or root made (an admin's /var/log/vde.log pointing
 * elsewhere) is followed, its target read from the link opened, and the
 * target judged the same way; another user's symlink is refused. A link of
 * /proc's to a process's descriptor (/dev/stdout's /proc/self/fd/1) names no
 * file when it is a pipe (`pipe:[N]`): it is followed as the kernel follows
 * it, to the very object, judged the same way. The directories on the way
 * are held to the same rule (another user's /tmp/theirs -> /root would lead
 * root's /tmp/theirs/x.pcap into /root), each link looked at once through a
 * bare handle, and the file opened must lie where that walk led, by the
 * kernel's name for it: a directory swapped between the two is refused.
 */
import { C, cstr, errno, fstatOf, libc, strerror } from "../../ffi/libc.ts";
import { userName } from "./users.ts";
import { dirOf } from "./paths.ts";
import { kernelName } from "./owned_file.ts";
import { walkWay } from "./trusted_path.ts";

/** How to open an output file. */
export interface OutputFileOptions {
  /** Append (a log); else writes start at the beginning. */
  append?: boolean;
  /** Empty a regular file that is there. */
  truncate?: boolean;
  /** Mode of a file made now (the umask applies). */
  mode?: number;
  /** Also take a named pipe of ours (`wireshark -k -i PIPE`) or a device (/dev/null). */
  pipes?: boolean;
}

/** An output file refused for what its name holds (a symlink, another user's file, ...). */
export class OutputFileRefused extends Error {}

/**
 * Opens `path` for writing as described above.
 *
 * @throws OutputFileRefused for a name that may not be written (its message says why, not the
 *   path); Deno's errors
 *   (PermissionDenied, NotFound, ...) for the OS's own refusals
 */
export function openOutputFile(path: string, o: OutputFileOptions = {}, links = 0): Deno.FsFile {
  const c = libc();
  const name = cstr(path);
  // Where the file must be by the kernel's name for it once open: a directory on the way swapped meanwhile
  // (another user's, for a symlink of theirs) leads elsewhere and is refused.
  const dir = trustedDir(path.includes("/") ? dirOf(path) : Deno.cwd());
  for (let attempt = 0;; attempt++) {
    let fd = c.open(name, C.O_PATH | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
    if (fd < 0 && errno() === C.ENOENT) {
      fd = c.open(name, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_CLOEXEC, o.mode ?? 0o644);
      // Made by another between our two looks: look at what it is now.
      if (fd < 0 && errno() === C.EEXIST && attempt < 3) continue;
    }
    if (fd < 0) throw osError(errno());
    try {
      const target = trustedLinkTarget(fd, links);
      if (target !== undefined && !target.startsWith("/") && isProcessFd(fd)) return openProcessFd(path, o);
      if (target !== undefined) {
        // A relative target counts from the link's directory (the current one for a bare name).
        const from = target.startsWith("/") || !path.includes("/") ? target : `${dirOf(path)}/${target}`;
        return openOutputFile(from, o, links + 1);
      }
      // What it is first: a directory named (`-o out/`, `.`) is no regular file, not a directory swapped.
      refuseUnsafe(fd, o.pipes === true);
      if (dirOf(kernelName(fd)) !== dir) {
        throw new OutputFileRefused(`its directory ${dir} was swapped for another while it was opened`);
      }
      return openChecked(fd, o);
    } finally {
      c.close(fd);
    }
  }
}

/**
 * Directory `dir` resolved as the kernel resolves it, but following only symlinks this user or root made,
 * each looked at once through a bare handle (its owner and its target from the very link): a directory on
 * the way that is another user's symlink (their /tmp/theirs -> /root, where root writes /tmp/theirs/x.pcap)
 * is refused, as a final one is. A name not there is left to the open to say.
 */
function trustedDir(dir: string): string {
  const way = walkWay(dir, [0, libc().geteuid()], false);
  if (way.step !== undefined) {
    throw new OutputFileRefused(
      `${way.step.path} on its way is a symbolic link of ${
        userName(way.step.uid)
      }'s, not followed (whoever ` +
        `may write its directory may aim it anywhere): give a path of your own`,
    );
  }
  if (way.loop === true) throw osError(C.ELOOP);
  return way.resolved;
}

/** The file open as O_PATH descriptor `fd` opened for writing through it (the very file), when it may be. */
function openChecked(fd: number, o: OutputFileOptions): Deno.FsFile {
  refuseUnsafe(fd, o.pipes === true);
  return Deno.openSync(`/proc/self/fd/${fd}`, {
    write: true,
    append: o.append === true,
    truncate: o.truncate === true,
  });
}

/**
 * Whether the link open as O_PATH descriptor `fd` is one of a process's descriptors in /proc, by the kernel's
 * name for it (/dev/stdout and /dev/fd/2 lead there through /dev/fd -> /proc/self/fd).
 */
function isProcessFd(fd: number): boolean {
  return /^\/proc\/\d+\/(task\/\d+\/)?fd\/\d+$/.test(kernelName(fd));
}

/**
 * Descriptor link `path` (/proc/self/fd/1, led to by root's /dev/stdout) whose target is no name (`pipe:[N]`:
 * `vde capture -w /dev/stdout | tshark -r -`): opened as the kernel follows it, to the very object, and judged
 * as any output file. Only /proc makes such links, and they lead to what a process already holds.
 */
function openProcessFd(path: string, o: OutputFileOptions): Deno.FsFile {
  const fd = libc().open(cstr(path), C.O_PATH | C.O_CLOEXEC, 0);
  if (fd < 0) throw osError(errno());
  try {
    return openChecked(fd, o);
  } finally {
    libc().close(fd);
  }
}

/**
 * The target of the symlink open as `fd` when it is one this process's user or root made (an admin's
 * /var/log/vde.log -> /srv/logs/vde.log), read from that very link; undefined for anything else (another
 * user's link is refused by refuseUnsafe). At most 8 links are followed.
 */
function trustedLinkTarget(fd: number, links: number): string | undefined {
  const st = fstatOf(fd);
  if (st === null || (st.mode & C.S_IFMT) !== C.S_IFLNK || links >= 8) return undefined;
  if (st.uid !== 0 && st.uid !== libc().geteuid()) return undefined;
  const buf = new Uint8Array(4096);
  const n = libc().readlinkat(fd, cstr(""), buf, buf.length);
  return n > 0 && n < buf.length ? new TextDecoder().decode(buf.subarray(0, n)) : undefined;
}

/** Throws OutputFileRefused when the file open as `fd` (an O_PATH descriptor) may not be written. */
function refuseUnsafe(fd: number, pipes: boolean): void {
  const st = fstatOf(fd);
  if (st === null) throw osError(errno());
  const type = st.mode & C.S_IFMT;
  if (type === C.S_IFLNK) {
    throw new OutputFileRefused(
      `it is a symbolic link of ${
        userName(st.uid)
      }'s, not followed (whoever may write its directory may aim it at any file): give the file itself`,
    );
  }
  // Only root makes device nodes; a device's owner says nothing of who reads it (/dev/null is root's).
  if (pipes && type === C.S_IFCHR) return;
  if (type !== C.S_IFREG && !(pipes && type === C.S_IFIFO)) {
    throw new OutputFileRefused(`it is not a regular file${pipes ? ", named pipe or device" : ""}`);
  }
  const me = libc().geteuid();
  if (st.uid !== me) {
    throw new OutputFileRefused(
      `it belongs to ${userName(st.uid)}, not to ${userName(me)}: not written (its owner would read ` +
        `what is written, or change it); remove it, or give a file of your own`,
    );
  }
  if (type === C.S_IFREG && st.nlink > 1) {
    throw new OutputFileRefused(
      `it has ${st.nlink} names (hard links): not written (another name may be a file that is not to be ` +
        `written); give a file of one name`,
    );
  }
}

/** Deno's error class for errno `code`, so callers tell a permission refusal as for Deno's own opens. */
function osError(code: number): Error {
  const message = `${strerror(code)} (os error ${code})`;
  if (code === C.EACCES || code === C.EPERM) return new Deno.errors.PermissionDenied(message);
  if (code === C.ENOENT) return new Deno.errors.NotFound(message);
  if (code === C.ELOOP) {
    return new OutputFileRefused("too many levels of symbolic links");
  }
  if (code === C.ENOTDIR) return new Deno.errors.NotADirectory(message);
  return new Error(message);
}
