/**
 * A small file a user names, read without trusting what the name leads to:
 * a key file (`key: /dev/zero` in a lab file, `vde cable --key FIFO`), a
 * lab file, a pid file, and root's `vde status` reading users' lab state
 * files at paths their processes' environments name, which those users
 * choose.
 *
 * Theory of operation. A plain read would follow the name to /dev/zero (a
 * read without end, memory grown until the process dies) or block for good
 * on a FIFO nobody writes (the open itself waits for a writer), hanging
 * the command or the lab. So the name is first opened as a bare handle
 * (O_PATH: no device's open runs, no FIFO is waited on; for state files
 * without following a final symlink too, O_NOFOLLOW), taken only when that
 * handle is a regular file (a device or a pipe has no end to trust, and a
 * device's open alone can act: /dev/watchdog arms the machine's watchdog),
 * then opened for reading through it (/proc/self/fd/N: the very file
 * checked, with the read permission checked then) without blocking, and
 * read up to a bound: a longer one is refused, not cut. Its mode and owner
 * come from that same handle, so what is checked is the very file read.
 *
 * A secret (a cable key, an --http-token) is such a file that neither group
 * nor others may read, whoever owns it (`readSecretFile`): root's `--key
 * /tmp/lab.key` may be a file another user made first, readable by all, and a
 * secret others could have read authenticates nobody. Nor is it another
 * user's, whatever its mode: its owner may chmod it and read it (root's key
 * copied over a user's 0600 /tmp/lab.key keeps that user as its owner), or
 * wrote it. Ours, root's, or (for root) the sudo user's is taken, and only
 * on a way (directories, symlinks) of those users' alone (trusted_path.ts):
 * another's /tmp/x -> /root would have root read /root/secret as
 * /tmp/x/secret. A file served from a
 * directory (TFTP) is also refused unless the kernel's name for the handle
 * lies inside that directory, so a component swapped for a symlink between a
 * caller's realpath check and the open leads nowhere else.
 *
 * A file whose lines run as ours (a lab file to run, `readTrustedFile`) is
 * trusted as a switch's rc is: its way judged as a secret's, the file ours,
 * root's or the sudo user's, and no other user able to write it; what is
 * judged is the very file read, the way walked again after the read.
 */
import { C, cstr, errno, type FdStat, fstatOf, libc, strerror } from "../../ffi/libc.ts";
import { userName } from "./users.ts";
import {
  judgedFile,
  othersMayWrite,
  stepAdvice,
  stepText,
  type UntrustedStep,
  untrustedStep,
  vouchedFile,
} from "./trusted_path.ts";

/** Most a state file is: a lab's record is a few hundred bytes, its variables a few more. */
const MAX_BYTES = 1 << 20;

/** A small regular file's text, with its mode and owner as its descriptor had them. */
export interface SmallFile {
  readonly text: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The very file read, for a caller that judges the way to it after (readTrustedFile). */
  readonly dev: bigint;
  readonly ino: bigint;
}

/** What kind of file a st_mode is, in words, for a refusal: "a named pipe". */
function kindOf(mode: number): string {
  switch (mode & C.S_IFMT) {
    case C.S_IFDIR:
      return "a directory";
    case C.S_IFIFO:
      return "a named pipe";
    case C.S_IFCHR:
      return "a character device";
    case 0o060000:
      return "a block device";
    case C.S_IFSOCK:
      return "a socket";
    case C.S_IFLNK:
      return "a symlink";
    default:
      return "no regular file";
  }
}

/** Why an open failed, in a line's words: `no such file`, `permission denied`, else the OS's. */
function openFailure(e: number): string {
  if (e === C.ENOENT) return "no such file";
  if (e === C.EACCES) return "permission denied";
  if (e === C.ELOOP) return "it is a symlink";
  return strerror(e);
}

/**
 * A bare handle (O_PATH) on `path` and its fstat, or why not (the caller closes it): neither a device's
 * open nor a FIFO's runs, so what the name leads to is known before anything opens it.
 */
function handleOf(path: string, noFollow: boolean): { handle: number; st: FdStat } | string {
  const c = libc();
  const handle = c.open(cstr(path), C.O_PATH | C.O_CLOEXEC | (noFollow ? C.O_NOFOLLOW : 0), 0);
  if (handle < 0) return openFailure(errno());
  const st = fstatOf(handle);
  if (st !== null) return { handle, st };
  const why = strerror(errno());
  c.close(handle);
  return why;
}

/** `handle`'s file opened for reading without blocking, through the handle (the very file), or why not. */
function reopenForReading(handle: number): number | string {
  const fd = libc().open(cstr(`/proc/self/fd/${handle}`), C.O_RDONLY | C.O_NONBLOCK | C.O_CLOEXEC, 0);
  return fd < 0 ? openFailure(errno()) : fd;
}

/** How a user-named file is opened. */
export interface OpenOptions {
  /** Refuse a final symlink (a name another user chose for root to read). */
  readonly noFollow?: boolean;
  /** A real directory path the file must lie in, by the kernel's name for the very file opened. */
  readonly inside?: string;
}

/** A descriptor of regular file `path` opened without blocking, with its fstat, or why not (the caller closes it). */
function openRegular(path: string, o: OpenOptions): { fd: number; st: FdStat } | string {
  const held = handleOf(path, o.noFollow === true);
  if (typeof held === "string") return held;
  const { handle, st } = held;
  try {
    const why = notRegular(st.mode);
    if (why !== undefined) return why;
    if (o.inside !== undefined && !kernelName(handle).startsWith(`${o.inside}/`)) {
      return `it lies outside ${o.inside}`;
    }
    const fd = reopenForReading(handle);
    return typeof fd === "string" ? fd : { fd, st };
  } finally {
    libc().close(handle);
  }
}

/**
 * Regular file `path` read whole when it is at most `maxBytes` long, or why not in a few words (`no such
 * file`, `it is a named pipe, not a regular file`, `longer than 4096 bytes`); never blocks, never reads more
 * than `maxBytes` + 1 bytes.
 *
 * @param noFollow refuse a final symlink (a name another user chose for root to read)
 */
export function readSmallFile(path: string, maxBytes: number, noFollow = false): SmallFile | string {
  const opened = openRegular(path, { noFollow });
  if (typeof opened === "string") return opened;
  const { fd, st } = opened;
  const c = libc();
  try {
    const buf = new Uint8Array(maxBytes + 1);
    let got = 0;
    while (got < buf.length) {
      const n = c.read(fd, buf.subarray(got), buf.length - got);
      if (n < 0) return strerror(errno());
      if (n === 0) break;
      got += n;
    }
    if (got > maxBytes) return `longer than ${maxBytes} bytes`;
    const { mode, uid, gid, dev, ino } = st;
    return { text: new TextDecoder().decode(buf.subarray(0, got)), mode, uid, gid, dev, ino };
  } finally {
    c.close(fd);
  }
}

/** The kernel's name for the file `handle` holds: where it is now, whatever names led to it. */
export function kernelName(handle: number): string {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${handle}`);
  } catch {
    return "";
  }
}

/**
 * A secret file's permission bits, and its owner when that is another user (who may read it whatever them);
 * `link` where what another user owns is a symlink on the way to it (`openTo` then 777, a link's own).
 */
export interface OpenToOthers {
  readonly openTo: number;
  readonly owner?: number;
  readonly link?: true;
  /** A directory on the way that is not ours alone, in words (trusted_path.ts `stepText`). */
  readonly through?: string;
  /** What to do about it (trusted_path.ts `stepAdvice`). */
  readonly advice?: string;
}

/**
 * Secret file `path` read as readSmallFile reads it, or why not; `openTo` when group or others may read
 * it, whoever owns it, with `owner` when another user owns it (see the theory above). `secretRefusal`
 * words that. A final symlink is followed only where it is ours, root's or the sudo user's, its target
 * read from the very link and judged as any secret file; another user's is refused (`link`): its owner
 * aims it where they like, and root's file at the other end (an ssh host key, whose first line is
 * `-----BEGIN OPENSSH PRIVATE KEY-----`) is a secret only its first line need be known of, for a token.
 */
export function readSecretFile(path: string, maxBytes: number, links = 0): SmallFile | OpenToOthers | string {
  // The way to it first: another user's directory or link on it may lead the name to any file of ours.
  const step = untrustedStep(path, ownersOfSecrets());
  // Not there at the walk: not opened either (a name made there since was judged by nobody).
  if (step?.kind === "missing") return openFailure(step.errno ?? C.ENOENT);
  if (step?.kind === "link") return { openTo: 0o777, owner: step.uid, link: true };
  if (step !== undefined) {
    return { openTo: 0o777, owner: step.uid, through: stepText(step), advice: stepAdvice(step) };
  }
  const file = readSmallFile(path, maxBytes, true);
  if (typeof file !== "string") {
    if (!ownersOfSecrets().includes(file.uid)) return { openTo: file.mode & 0o777, owner: file.uid };
    return (file.mode & 0o077) === 0 ? file : { openTo: file.mode & 0o777 };
  }
  const link = file === "it is a symlink" ? symlinkAt(path) : undefined;
  // Not a link (any more: the name swapped meanwhile), or unreadable: the first answer stands.
  if (link === undefined) return file;
  if (!ownersOfSecrets().includes(link.uid)) return { openTo: 0o777, owner: link.uid, link: true };
  if (links >= 8) return strerror(C.ELOOP);
  // A relative target counts from the link's directory.
  const target = link.target.startsWith("/") || !path.includes("/")
    ? link.target
    : `${path.slice(0, path.lastIndexOf("/"))}/${link.target}`;
  return readSecretFile(target, maxBytes, links + 1);
}

/**
 * Why a file whose lines run as ours (a lab file, whose `exec` commands run in its hosts) is not trusted:
 * a step of the way to it (trusted_path.ts), its owner when that is another user, or its mode and group
 * when others may write it.
 */
export type Untrusted =
  | { readonly step: UntrustedStep }
  | { readonly owner: number }
  | { readonly mode: number; readonly gid: number };

/**
 * Regular file `path` read as readSmallFile reads it, when it is as trusted as a script (`--rc`, `load`):
 * the way to it is ours, root's or (for root) the sudo user's alone (trusted_path.ts), the file is theirs
 * too, and no one else may write it; else why not (`Untrusted`), or why it could not be read. A final
 * link, judged on the way, is followed; the way is walked again after the read and the file at its end
 * must be the very file read, so a name made meanwhile at the end of a trusted link (another user's link
 * in /tmp, to a file of ours) is not taken for it.
 */
export function readTrustedFile(path: string, maxBytes: number): SmallFile | Untrusted | string {
  const owners = ownersOfSecrets();
  for (let tries = 0; tries < 3; tries++) {
    const step = untrustedStep(path, owners);
    // Not there at the walk: not opened either (a name made there since was judged by nobody).
    if (step?.kind === "missing") return openFailure(step.errno ?? C.ENOENT);
    if (step !== undefined) return { step };
    const file = readSmallFile(path, maxBytes);
    if (typeof file === "string") return file;
    const judged = judgedFile(path, owners);
    if ("kind" in judged && judged.kind !== "missing") return { step: judged };
    // Gone or another file now: looked at again.
    if (!("ino" in judged) || judged.dev !== file.dev || judged.ino !== file.ino) continue;
    if (!owners.includes(file.uid) && !vouchedFile(file.uid, file.dev, file.ino, path)) {
      return { owner: file.uid };
    }
    return othersMayWrite(file.mode, file.gid, owners) ? { mode: file.mode, gid: file.gid } : file;
  }
  return "it changed while it was read";
}

/** The symlink at `path` (not followed): its owner and its target, read from the very link; or undefined. */
function symlinkAt(path: string): { uid: number; target: string } | undefined {
  const held = handleOf(path, true);
  if (typeof held === "string") return undefined;
  try {
    if ((held.st.mode & C.S_IFMT) !== C.S_IFLNK) return undefined;
    const buf = new Uint8Array(4096);
    const n = libc().readlinkat(held.handle, cstr(""), buf, buf.length);
    return n > 0 && n < buf.length
      ? { uid: held.st.uid, target: new TextDecoder().decode(buf.subarray(0, n)) }
      : undefined;
  } finally {
    libc().close(held.handle);
  }
}

/**
 * Whose secret files are taken: this process's effective user's and root's; for root run by sudo, the user
 * who ran it too (`sudo vde cable --key ./lab.key` with a key that user made: they know it already).
 */
export function ownersOfSecrets(): number[] {
  const me = libc().geteuid();
  const sudo = me === 0 ? Number(Deno.env.get("SUDO_UID") ?? "") : NaN;
  return Number.isInteger(sudo) && sudo > 0 ? [me, 0, sudo] : [me, 0];
}

/** The one line refusing secret file `path` that others may read: what it is, and what to do. */
export function secretRefusal(path: string, open: OpenToOthers): string {
  if (open.through !== undefined) {
    return `${path} is reached through ${open.through}, which may lead the name to any file of ours: ` +
      (open.advice ?? "give a path through directories of yours or root's alone");
  }
  if (open.link === true) {
    return `${path} is, or leads through, a symbolic link of ${userName(open.owner ?? -1)}'s, not followed ` +
      `(its owner may aim it at any file of ours): give the file itself`;
  }
  if (open.owner !== undefined) {
    return `${path} belongs to ${userName(open.owner)}, who may read it whatever its mode (and may have ` +
      `written it): make it anew as ${userName(libc().geteuid())}'s, mode 600`;
  }
  // Said as the mode is: a 0622 key is not readable by others but writable (they may put a key they know
  // in it), and "readable" there sent the reader to look for a read bit that is not set.
  const how = (open.openTo & 0o044) !== 0 ? "readable" : (open.openTo & 0o022) !== 0 ? "writable" : "open";
  return `${path} is ${how} by group or others (mode ${
    open.openTo.toString(8).padStart(4, "0")
  }): chmod 600 ${path}`;
}

/**
 * Regular file `path` open for reading, or why not (`no such file`, `it is a named pipe, not a regular
 * file`): opened without blocking and checked by its descriptor, then opened again through that descriptor
 * (/proc/self/fd/N: the very file checked) as a Deno.FsFile, for a reader that reads it in parts.
 */
export function openRegularFile(path: string, o: OpenOptions = {}): Deno.FsFile | string {
  const opened = openRegular(path, o);
  if (typeof opened === "string") return opened;
  try {
    return Deno.openSync(`/proc/self/fd/${opened.fd}`, { read: true });
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    libc().close(opened.fd);
  }
}

/** Why a file of st_mode `mode` is not read as a regular file, or undefined when it is one. */
function notRegular(mode: number): string | undefined {
  if ((mode & C.S_IFMT) === C.S_IFREG) return undefined;
  const kind = kindOf(mode);
  // A final symlink is seen only where it is not followed: said as open's ELOOP says it.
  if (kind === "a directory" || kind === "a symlink") return `it is ${kind}`;
  return `it is ${kind}, not a regular file`;
}

/**
 * Why `path` cannot be opened for reading (`no such file`, `it is a directory`, `permission denied`), or
 * undefined when it can: a regular file or a FIFO is opened without blocking (a FIFO is not waited on: it
 * is a script's to read, in turn, with its own bound) and closed again unread; a device is not opened at
 * all (its open alone can act), nor can a socket be.
 */
export function whyUnopenable(path: string): string | undefined {
  const held = handleOf(path, false);
  if (typeof held === "string") return held;
  const { handle, st } = held;
  try {
    const type = st.mode & C.S_IFMT;
    if (type === C.S_IFDIR) return "it is a directory";
    if (type === C.S_IFSOCK) return "it is a socket, not a regular file";
    if (type !== C.S_IFREG && type !== C.S_IFIFO) return undefined;
    const fd = reopenForReading(handle);
    if (typeof fd === "string") return fd;
    libc().close(fd);
    return undefined;
  } finally {
    libc().close(handle);
  }
}

/** The text of regular file `path` when it is user `uid`'s and at most `maxBytes` long; else undefined. */
export function readOwnedFile(path: string, uid: number, maxBytes = MAX_BYTES): string | undefined {
  const file = readSmallFile(path, maxBytes, true);
  return typeof file === "string" || file.uid !== uid ? undefined : file.text;
}
