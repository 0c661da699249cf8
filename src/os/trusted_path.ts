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
 * unmapped user own files as the overflow uid (nobody): `/` itself is such
 * a directory. There the overflow uid is taken as trusted: it cannot be
 * told from the machine's root.
 */
import { C, cstr, errno, fstatOf, libc } from "../../ffi/libc.ts";
import { groupMembers, groupName, userName } from "./users.ts";

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
  const owners = [...trusted, ...namespaceOverflow()];
  const root = judge("/", owners);
  if (root !== undefined) return { step: root, resolved: "/" };
  const way = walkWay(path, owners, true, identify);
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
        if (!owners.includes(st.uid)) {
          return { resolved: next, step: { path: next, uid: st.uid, kind: "link", mode: 0o777, gid: -1 } };
        }
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
      const step = judgeDirs && !last && (st.mode & C.S_IFMT) === C.S_IFDIR
        ? judgeStat(next, st.uid, st.mode, st.gid, owners)
        : undefined;
      if (step !== undefined) return { resolved: next, step };
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
  if (step.kind === "link") return `${step.path}, a symbolic link of ${userName(step.uid)}'s`;
  if (step.kind === "directory") return `${step.path}, a directory of ${userName(step.uid)}'s`;
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
  if (step.kind !== "writable") return avoid;
  const who = (step.mode & 0o002) !== 0 ? "o" : "g";
  return `chmod ${who}-w ${step.path} (or +t), or ${avoid}`;
}

function judge(path: string, owners: readonly number[]): UntrustedStep | undefined {
  try {
    const st = Deno.statSync(path);
    return judgeStat(path, st.uid ?? -1, st.mode ?? 0, st.gid ?? -1, owners);
  } catch {
    return undefined;
  }
}

/** A directory's step: another user's, or writable by another without the sticky bit; else undefined. */
function judgeStat(
  path: string,
  uid: number,
  mode: number,
  gid: number,
  owners: readonly number[],
): UntrustedStep | undefined {
  if (!owners.includes(uid)) return { path, uid, kind: "directory", mode, gid };
  if ((mode & C.S_ISVTX) !== 0) return undefined;
  return othersMayWrite(mode, gid, owners) ? { path, uid, kind: "writable", mode, gid } : undefined;
}

/**
 * Whether `mode` lets a user not among `owners` write: others, or a group with such a member. A group of
 * ours alone (a user's private group, under umask 002) writes nothing another could.
 */
export function othersMayWrite(mode: number, gid: number, owners: readonly number[]): boolean {
  return (mode & 0o002) !== 0 ||
    ((mode & 0o020) !== 0 && groupMembers(gid).some((m) => !owners.includes(m)));
}

/** Who `mode` lets write, for a refusal's words: `anyone`, or `group staff`. */
export function writersText(mode: number, gid: number): string {
  return (mode & 0o002) !== 0 ? "anyone" : `group ${groupName(gid)}`;
}

/** The overflow uid where this process is in a user namespace (owner of every unmapped file), else none. */
function namespaceOverflow(): number[] {
  try {
    const map = Deno.readTextFileSync("/proc/self/uid_map").trim().split(/\s+/);
    if (map.length === 3 && map[0] === "0" && map[1] === "0" && map[2] === "4294967295") return [];
    return [Number(Deno.readTextFileSync("/proc/sys/kernel/overflowuid").trim())];
  } catch {
    return [];
  }
}
