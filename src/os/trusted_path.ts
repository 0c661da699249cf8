/**
 * Whether the directories on the way to a file may be trusted with what the
 * file is: a secret (`--http-token`, a cable key) or a script (`--rc`,
 * `load`) that root reads as itself.
 *
 * Theory of operation. Judging the file alone (its owner, a final symlink's
 * owner) leaves the way to it open: a user who owns /tmp/x (a symlink, or a
 * directory whose entries they rename at will) makes /tmp/x lead to a
 * root-only directory and has root read /tmp/x/secret, root's own 0600
 * file, as a token whose first line they know (an ssh key's) or as a script
 * whose lines the log repeats. So, as ssh's StrictModes judges the path to
 * authorized_keys, every step of the path as the kernel resolves it is
 * judged, from `/`: each directory must be a trusted user's (ours, root's,
 * for root the sudo user's: the caller's list), and writable by no one else:
 * not by others nor by a group with a member outside that list, unless it
 * has the sticky bit (/tmp: others may add names there, but not rename or
 * remove ours, and the next step is judged in turn); each symlink on the
 * way must be a trusted user's, and is followed as the kernel follows it
 * (its target read from the very link, through a bare O_PATH handle) and the
 * target's steps judged the same way. The file itself, at the end, is left
 * to the caller's own rules. Only trusted users can change a trusted way, so
 * an open by name after the walk meets what was judged; but only a way
 * walked to its last name: a name on the way that is not there (yet) was
 * judged by nobody, and in a directory others may add names to (/tmp) its
 * absence is no promise: a user's link made there between the walk and the
 * open led root's read of /tmp/y/key to /root-only/key (20 reads in 10^5,
 * tried). Such a way is a step of its own, `missing`, which callers answer
 * as the open would (no such file), without opening. Nor is the last name
 * promised: a caller that follows it at the open (a script's, root's link
 * to a /tmp/rc not made yet) walks again after the open (judgedFile), and
 * takes the file held only when it is the very file at the way's end then.
 * A process's descriptor in /proc (/dev/stdin, `<(...)`'s /dev/fd/63) may
 * name no file (pipe:[N]): at the end of a way it is looked at as the
 * kernel follows it, to the object that process holds.
 *
 * In a user namespace (a rootless lab) the machine's root and every other
 * user the namespace does not map own files as the overflow uid (nobody):
 * `/` itself is such a directory, and so is another user's /tmp/x. No look
 * from inside tells the two apart, and taking the overflow uid as trusted
 * (as this once did) let every other user's link and directory on the way
 * inside, where outside they are refused. Nor can the way be judged only
 * outside, before the namespace is entered: the lab reads files it is
 * named while it runs (a `load` typed at a switch's console, an rc of a
 * switch added by `apply`). So the host side of the lab (rootless.ts), a
 * process on the machine that sees every owner as it is, vouches for the
 * steps of trusted users the namespace will not map (root's `/`, /tmp,
 * /home) on the ways a lab's files are found by: the lab file's directory,
 * the files it names, the user's home, working, runtime and temporary
 * directories. Each is judged there as any step here, and handed in as its
 * device, inode and birth time ({@link VOUCHED_VARIABLE}); inside, a step owned by the
 * overflow uid is trusted only when it is one of those very steps, and any
 * other is refused as outside (another user's, or root's where no way to
 * the lab's files passed: copy such a file into a directory of your own).
 * A step is vouched for alone (its owner and mode), not for where it leads:
 * the steps after it are judged in turn. A device and inode name another
 * file once theirs is gone (a root's directory on those ways removed while
 * the lab runs, its inode handed to another user's): the birth time tells
 * the two apart, where the file system keeps one. Where no list was handed in (a user
 * namespace that is no lab's), no overflow step is trusted. A list is taken
 * from the environment as it is: one a user wrote themselves is read only
 * in a user namespace of theirs, by processes of theirs, whose files it
 * guards (a lab's own is set by its host side, over any inherited), so it
 * can weaken no one's checks but theirs.
 */
import { C, cstr, errno, type FdStat, fstatOf, libc } from "../../ffi/libc.ts";
import { groupMembers, groupName, userName } from "./users.ts";
import { shellQuoted } from "../shell_quote.ts";
import { namespaceOverflowUid, VOUCHED_VARIABLE } from "./user_namespace.ts";

/** The first step of a way that is not trusted, and why. */
export interface UntrustedStep {
  /** The path to that step as resolved (symlinks on the way before it followed). */
  readonly path: string;
  /** Its owner. */
  readonly uid: number;
  /**
   * A symlink or directory of another user's, a directory others may write, or a name before the last
   * that could not be looked at (`errno` says why): nothing after it was judged.
   */
  readonly kind: "link" | "directory" | "writable" | "missing";
  /** Its mode (permission bits), for the words of a writable one. */
  readonly mode: number;
  /** Its group, for the same. */
  readonly gid: number;
  /** Why a `missing` step could not be looked at (ENOENT, EACCES, ENOTDIR, ...). */
  readonly errno?: number;
  /** Owned by the overflow uid in a user namespace: root's or another user's, unmapped, and not vouched for. */
  readonly unmapped?: true;
}

/**
 * Who a walk trusts: `owners`, and in a user namespace the overflow uid's steps the host side vouched for
 * (their {@link stepKey}).
 */
interface Trust {
  readonly owners: readonly number[];
  readonly overflow?: number;
  readonly vouched: ReadonlySet<string>;
}

/** Whether the step `st`, open as `fd`, is trusted. */
function trusts(trust: Trust, st: FdStat, fd: number): boolean {
  return trust.owners.includes(st.uid) || (st.uid === trust.overflow && trust.vouched.has(stepKey(st, fd)));
}

/**
 * What names a step vouched for: `dev:ino:birth` (its birth time in ms, empty where the file system keeps
 * none). A device and inode alone name whatever has that inode now: a vouched directory removed while the
 * lab runs and its inode given to another user's new one (ext4 hands a freed inode out again at once) was
 * theirs, trusted; its birth time is the new one's.
 */
function stepKey(st: FdStat, fd: number): string {
  let birth = "";
  try {
    // The magic link reaches the very object fd holds, a symbolic link too; statx gives the birth time.
    birth = String(Deno.statSync(`/proc/self/fd/${fd}`).birthtime?.getTime() ?? "");
  } catch { /* no /proc, no read permission: no birth time, matched only where the host side told none */ }
  return `${st.dev}:${st.ino}:${birth}`;
}

/** Most symlinks followed on one way, as the kernel's own bound (ELOOP); past it, the open says why. */
const MAX_LINKS = 40;

/**
 * The first step on the way to `path` (its directories and the symlinks on the way, a final one too) that
 * is not `trusted` users' alone, or undefined when every step is. A name before the last that cannot be
 * looked at is a `missing` step (the caller says what the open would, and does not open); the last name
 * is the caller's to open and judge by its handle.
 */
export function untrustedStep(path: string, trusted: readonly number[]): UntrustedStep | undefined {
  const way = judgedWay(path, trusted, false);
  return "step" in way ? way.step : undefined;
}

/**
 * The very file at the end of a trusted way to `path` (its device and inode, its last name looked at
 * without following it, or a process's descriptor in /proc as the kernel follows it), or the first step
 * that is not trusted, a last name not there being `missing` too. For a caller that opened `path` (and
 * followed a final link) before: the file it holds is the one judged only when it is this one, looked at
 * after the open; a name made since on the way (another user's link at the end of a trusted link's
 * target, not there at the first walk) is seen now.
 */
export function judgedFile(path: string, trusted: readonly number[]): UntrustedStep | FileId {
  const way = judgedWay(path, trusted, true);
  if ("step" in way) return way.step ?? missingStep(way.resolved, C.ENOENT);
  return way.final ?? missingStep(way.resolved, C.ENOENT);
}

/** A file's identity. */
export interface FileId {
  readonly dev: bigint;
  readonly ino: bigint;
}

function judgedWay(
  path: string,
  trusted: readonly number[],
  identify: boolean,
): Way | { step: UntrustedStep | undefined; resolved: string } {
  const overflow = namespaceOverflowUid();
  const trust: Trust = overflow === undefined
    ? { owners: trusted, vouched: new Set() }
    : { owners: trusted, overflow, vouched: vouchedHere() };
  const root = judgeRoot(trust);
  if (root !== undefined) return { step: root, resolved: "/" };
  const way = walk(path, trust, true, identify);
  if (way.step !== undefined) return { step: way.step, resolved: way.resolved };
  if (way.missing !== undefined) {
    return { step: missingStep(way.resolved, way.missing), resolved: way.resolved };
  }
  return identify ? way : { step: undefined, resolved: way.resolved };
}

function missingStep(path: string, code: number): UntrustedStep {
  return { path, uid: -1, kind: "missing", mode: 0, gid: -1, errno: code };
}

/** Where a walk led: the path resolved, and the step it stopped at, if one was not trusted. */
export interface Way {
  /** Resolved as far as names were there; the rest as given. */
  readonly resolved: string;
  readonly step?: UntrustedStep;
  /** More links than the kernel follows, or one that could not be read. */
  readonly loop?: true;
  /** The errno of a name before the last that could not be looked at (`resolved` ends at it). */
  readonly missing?: number;
  /** With `identify`, the file at the end, when it was there. */
  readonly final?: FileId;
}

/**
 * Walks `path` as the kernel resolves it, following only symlinks of `owners` (another's ends the walk at
 * it), each looked at once through a bare handle (its owner and target from the very link); with
 * `judgeDirs`, each directory before the last name is judged too (judgeStat). output_file.ts walks an
 * output file's directory so, its links alone judged.
 */
export function walkWay(path: string, owners: readonly number[], judgeDirs: boolean, identify = false): Way {
  return walk(path, { owners, vouched: new Set() }, judgeDirs, identify);
}

/** walkWay by `trust`; `passed` is told each directory and link on the way that was trusted. */
function walk(
  path: string,
  trust: Trust,
  judgeDirs: boolean,
  identify: boolean,
  passed?: (st: FdStat, fd: number) => void,
): Way {
  const c = libc();
  let from = path;
  if (!path.startsWith("/")) {
    try {
      from = `${Deno.cwd()}/${path}`;
    } catch {
      // The working directory was removed (Deno.cwd throws): nothing is found in it, as the open would say.
      return { resolved: path, missing: C.ENOENT };
    }
  }
  const parts = from.split("/");
  let at = "";
  for (let links = 0; parts.length > 0;) {
    const part = parts.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      at = at.slice(0, at.lastIndexOf("/"));
      continue;
    }
    const next = `${at}/${part}`;
    // The name at the end is the caller's to judge.
    const last = parts.every((p) => p === "" || p === ".");
    const fd = c.open(cstr(next), C.O_PATH | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno();
      return last
        ? { resolved: next }
        : { resolved: `${next}/${parts.join("/")}`.replace(/\/+$/, ""), missing: e };
    }
    try {
      const st = fstatOf(fd);
      if (st === null) return { resolved: next, missing: errno() };
      if ((st.mode & C.S_IFMT) === C.S_IFLNK) {
        if (!trusts(trust, st, fd)) {
          const step: UntrustedStep = { path: next, uid: st.uid, kind: "link", mode: 0o777, gid: -1 };
          return { resolved: next, step: st.uid === trust.overflow ? { ...step, unmapped: true } : step };
        }
        passed?.(st, fd);
        const buf = new Uint8Array(4096);
        const n = c.readlinkat(fd, cstr(""), buf, buf.length);
        if (n <= 0 || n >= buf.length || ++links > MAX_LINKS) return { resolved: next, loop: true };
        const target = new TextDecoder().decode(buf.subarray(0, n));
        // A process's descriptor (/dev/stdin's /proc/self/fd/0, `--rc <(...)`'s /dev/fd/63) may name no file
        // (pipe:[N]): the kernel follows it to the very object the process holds, and so does this look.
        if (last && !target.startsWith("/") && next.startsWith("/proc/")) {
          return { resolved: next, final: identify ? identityOf(next, 0) : undefined };
        }
        parts.unshift(...target.split("/"));
        if (target.startsWith("/")) at = "";
        continue;
      }
      const dir = judgeDirs && !last && (st.mode & C.S_IFMT) === C.S_IFDIR;
      const step = dir ? judgeStat(next, st, fd, trust) : undefined;
      if (step !== undefined) return { resolved: next, step };
      if (dir) passed?.(st, fd);
      at = next;
    } finally {
      c.close(fd);
    }
  }
  const resolved = at || "/";
  // Its last name as it is now, not followed: a link put there since is a link, not what it leads to.
  return identify ? { resolved, final: identityOf(resolved, C.O_NOFOLLOW) } : { resolved };
}

/** The device and inode of what `path` names (`flags`: O_NOFOLLOW or 0), through a bare handle; or undefined. */
function identityOf(path: string, flags: number): FileId | undefined {
  const c = libc();
  const fd = c.open(cstr(path), C.O_PATH | C.O_CLOEXEC | flags, 0);
  if (fd < 0) return undefined;
  const st = fstatOf(fd);
  c.close(fd);
  return st === null ? undefined : { dev: st.dev, ino: st.ino };
}

/** How a refusal names an untrusted step: `/tmp/x, a symbolic link of alice's`. */
export function stepText(step: UntrustedStep): string {
  // Inside a user namespace an unmapped owner has no name: root's or another user's, as far as it tells.
  const whose = step.unmapped ? UNMAPPED : `${userName(step.uid)}'s`;
  if (step.kind === "link") return `${step.path}, a symbolic link of ${whose}`;
  if (step.kind === "directory") return `${step.path}, a directory of ${whose}`;
  if (step.kind === "missing") return `${step.path}, which is not there`;
  return `${step.path}, a directory ${writersText(step.mode, step.gid)} may write (mode ${
    (step.mode & 0o7777).toString(8).padStart(4, "0")
  })`;
}

/**
 * What to do about an untrusted step, for the end of a refusal: a directory others may write can be
 * narrowed by its owner (a shared 2775 directory on the way to a user's home); any other step, avoided.
 */
export function stepAdvice(step: UntrustedStep): string {
  const avoid = "give a path through directories of yours or root's alone";
  if (step.unmapped) {
    return "give a path through directories of yours alone (of root's, a rootless lab knows only those on " +
      "the way to its lab file, the files it names, your home, working and temporary directories)";
  }
  if (step.kind !== "writable") return avoid;
  const who = (step.mode & 0o002) !== 0 ? "o" : "g";
  return `chmod ${who}-w ${shellQuoted(step.path)} (or +t), or ${avoid}`;
}

/** `/` judged as a directory of the way. */
function judgeRoot(trust: Trust): UntrustedStep | undefined {
  return atRoot((st, fd) => judgeStat("/", st, fd, trust)) ?? undefined;
}

/** `body` of `/`'s fstat and a bare handle on it; null when it cannot be looked at. */
function atRoot<T>(body: (st: FdStat, fd: number) => T): T | null {
  const c = libc();
  const fd = c.open(cstr("/"), C.O_PATH | C.O_CLOEXEC, 0);
  if (fd < 0) return null;
  try {
    const st = fstatOf(fd);
    return st === null ? null : body(st, fd);
  } finally {
    c.close(fd);
  }
}

/** A directory's step: another user's, or writable by another without the sticky bit; else undefined. */
function judgeStat(path: string, st: FdStat, fd: number, trust: Trust): UntrustedStep | undefined {
  const { uid, mode, gid } = st;
  if (!trusts(trust, st, fd)) {
    const step: UntrustedStep = { path, uid, kind: "directory", mode, gid };
    return uid === trust.overflow ? { ...step, unmapped: true } : step;
  }
  if ((mode & C.S_ISVTX) !== 0) return undefined;
  return othersMayWrite(mode, gid, trust.owners) ? { path, uid, kind: "writable", mode, gid } : undefined;
}

/**
 * Whether `mode` lets a user not among `owners` write: others, or a group with such a member. A group of
 * ours alone (a user's private group, under umask 002) writes nothing another could; members NSS failed to
 * tell (its server down) may be anyone: the group is taken as others'.
 */
export function othersMayWrite(mode: number, gid: number, owners: readonly number[]): boolean {
  return (mode & 0o002) !== 0 ||
    ((mode & 0o020) !== 0 && (groupMembers(gid)?.some((m) => !owners.includes(m)) ?? true));
}

/** Who `mode` lets write, for a refusal's words: `anyone`, or `group staff`. */
export function writersText(mode: number, gid: number): string {
  return (mode & 0o002) !== 0 ? "anyone" : `group ${groupName(gid)}`;
}

/** How a step of the overflow uid is named inside a user namespace. */
const UNMAPPED = "a user this user namespace does not map (root or another)";

let vouched: ReadonlySet<string> | undefined;

/**
 * Whether a file of `uid` (device `dev`, inode `ino`, at `path`) is one the host side of this rootless lab
 * vouched for: in a user namespace, an owner the namespace does not map (root's lab file, as the overflow
 * uid) is trusted only so (labVouched in rootless.ts adds the lab file it judged on the machine). Its birth
 * time is read at `path`, whose file the caller has found to be that very one.
 */
export function vouchedFile(uid: number, dev: bigint, ino: bigint, path: string): boolean {
  const overflow = namespaceOverflowUid();
  if (overflow === undefined || uid !== overflow) return false;
  const key = fileKey(path);
  return key !== undefined && key.startsWith(`${dev}:${ino}:`) && vouchedHere().has(key);
}

/** A regular file's {@link stepKey}, read at `path` (followed); undefined when it cannot be looked at. */
function fileKey(path: string): string | undefined {
  try {
    const st = Deno.statSync(path);
    return `${st.dev}:${st.ino}:${st.birthtime?.getTime() ?? ""}`;
  } catch {
    return undefined;
  }
}

/** The steps the host side of this rootless lab vouched for ({@link VOUCHED_VARIABLE}), read once. */
function vouchedHere(): ReadonlySet<string> {
  vouched ??= new Set(
    (Deno.env.get(VOUCHED_VARIABLE) ?? "").split(" ").filter((v) => /^\d+:\d+:\d*$/.test(v)),
  );
  return vouched;
}

/**
 * On the machine, before a user namespace is entered: the steps ({@link stepKey}) on the ways to `paths` (each
 * taken as a directory: the path itself is judged too) and `/` that are trusted (`trusted`'s, writable by no
 * one else unless sticky) and owned by one of `unmapped`, the trusted users the namespace will not map
 * (root, for a user's lab): its value of {@link VOUCHED_VARIABLE}. Of `files` (regular files the caller
 * judged itself: the lab file), the file is added too, where such a user owns it ({@link vouchedFile}).
 */
export function vouchedSteps(
  paths: readonly string[],
  trusted: readonly number[],
  unmapped: readonly number[],
  files: readonly string[] = [],
): string {
  const trust: Trust = { owners: trusted, vouched: new Set() };
  const keys = new Set<string>();
  const add = (st: FdStat, fd: number) => {
    if (unmapped.includes(st.uid)) keys.add(stepKey(st, fd));
  };
  // A file the lab reads as a whole (its lab file, judged on the machine by its reader): the file itself.
  for (const f of files) {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(f);
    } catch {
      continue;
    }
    if (st.isFile && st.uid !== null && unmapped.includes(st.uid)) {
      const key = fileKey(f);
      if (key !== undefined) keys.add(key);
    }
  }
  const rootTrusted = atRoot((st, fd) => {
    if (judgeStat("/", st, fd, trust) !== undefined) return false;
    add(st, fd);
    return true;
  });
  if (rootTrusted !== true) return "";
  // A name after the path makes the path itself a directory of the way, judged.
  for (const p of paths) walk(`${p.replace(/\/+$/, "")}/.vouched`, trust, true, false, add);
  return [...keys].join(" ");
}
