/**
 * What root follows to a socket a user named: only a way of root's or the
 * socket's owner's alone.
 *
 * Theory of operation. A client opens a socket by a path a user gave
 * (`vde term /some/dir/sw.mgmt`, `vde capture`, `vde://DIR`). Run by root,
 * whatever answers there is trusted with root's commands, frames and
 * terminal. The socket is held first (a bare O_PATH handle, connected to
 * through /proc/self/fd/N: what is judged is what is connected to); then
 * the way to its name is walked as trusted_path.ts walks a secret's, from
 * `/`: every directory and symlink on it must be root's or the owner's
 * given (the socket's, or a switch directory's), writable by no one else
 * but for the sticky bit, and the file at its end the very one held. A
 * member who may write a directory on it could otherwise rename the real
 * socket (or a directory above it) away and put theirs at its name, or a
 * symlink of another user's could lead the name anywhere. The usual places
 * pass: root's /tmp is sticky, /run/vde root's.
 *
 * Only root is judged so, and not in a user namespace (a rootless lab's
 * root is a user, whose traffic is their own): a user who is not root is
 * refused nothing, as they can reach only what others already let them.
 */
import { C, errno, fstatOf, libc, strerror } from "../../ffi/libc.ts";
import { printable } from "../console/reply_format.ts";
import { closeFd, type FollowedPath, openFollowedPath } from "../io/unix_stream.ts";
import { type FileId, judgedFile, stepAdvice, stepText } from "./trusted_path.ts";
import { namespaceOverflowUid } from "./user_namespace.ts";
import { userName } from "./users.ts";

/** Root's refusal of a way another user may steer; its message is the one line to show. */
export class UntrustedWay extends Error {
  constructor(message: string) {
    super(printable(message));
    this.name = "UntrustedWay";
  }
}

/** How a refusal words what root does there. */
export interface WayWords {
  /** What root does not open at such a name: `join a switch whose directory`, `open a console socket`. */
  readonly what: string;
  /** What root was doing, for a way changed meanwhile: `joining it`. */
  readonly doing: string;
  /** The owner to run as instead, named at the end of the advice (`or run as bob`); none for root. */
  readonly runAs?: number;
}

/** Whether this process is the machine's root, whose clients judge the way to what they are named. */
export function judgesWays(): boolean {
  return libc().geteuid() === 0 && namespaceOverflowUid() === undefined;
}

/**
 * For root ({@link judgesWays}): throws {@link UntrustedWay} when the way to `path` has a step that is not
 * one of `owners`' alone, or no longer leads to the file held (its identity, or a descriptor open on it).
 * Nothing for anyone else.
 */
export function refuseUntrustedWay(
  path: string,
  file: FileId | number,
  owners: readonly number[],
  words: WayWords,
): void {
  if (!judgesWays()) return;
  const held = typeof file === "number" ? fstatOf(file) : file;
  const way = judgedFile(path, owners);
  if ("kind" in way) {
    const runAs = words.runAs === undefined || words.runAs === 0
      ? ""
      : `, or run as ${userName(words.runAs)}`;
    throw new UntrustedWay(
      `${path} is reached through ${stepText(way)}: root does not ${words.what} another user may have put ` +
        `at its name (${stepAdvice(way)}${runAs}); not connected`,
    );
  }
  if (held === null || way.dev !== held.dev || way.ino !== held.ino) {
    throw new UntrustedWay(`${path} was replaced while root was ${words.doing}: not connected (try again)`);
  }
}

/**
 * The socket `path` leads to, held (connect through its `procPath`; close it with closeFd), and for root
 * ({@link judgesWays}) reached by a way of root's or the socket owner's alone.
 *
 * @throws UntrustedWay for a way another user may steer; as notHeld when nothing can be held there
 */
export function judgedSocket(path: string, words: Omit<WayWords, "runAs">): FollowedPath {
  const held = openFollowedPath(path);
  if (held === null) throw notHeld(path, errno());
  try {
    refuseUntrustedWay(path, held.fd, [0, held.uid], { ...words, runAs: held.uid });
  } catch (err) {
    closeFd(held.fd);
    throw err;
  }
  return held;
}

/**
 * Connects a stream to the unix socket at `path`, as Deno.connect does; for root, through the socket
 * {@link judgedSocket} held.
 */
export async function connectJudged(path: string, words: Omit<WayWords, "runAs">): Promise<Deno.UnixConn> {
  if (!judgesWays()) return await Deno.connect({ transport: "unix", path });
  const held = judgedSocket(path, words);
  try {
    return await Deno.connect({ transport: "unix", path: held.procPath });
  } finally {
    closeFd(held.fd);
  }
}

/**
 * Connects a datagram socket (anything with `connect(path)`) to the unix socket at `path`, as
 * {@link connectJudged} does a stream: for root, through the socket {@link judgedSocket} held.
 *
 * @throws UntrustedWay for root's way another user may steer; as notHeld, or as `sock.connect` throws
 */
export function connectJudgedDatagram(
  sock: { connect(path: string): void },
  path: string,
  words: Omit<WayWords, "runAs">,
): void {
  if (!judgesWays()) return sock.connect(path);
  const held = judgedSocket(path, words);
  try {
    sock.connect(held.procPath);
  } finally {
    closeFd(held.fd);
  }
}

/**
 * What a connect would have said of `path`, which could not be held (`code`: the open's errno): root does
 * not then connect by its name, where a socket made meanwhile would be unjudged.
 */
export function notHeld(path: string, code: number): Error {
  // Root without the capabilities that override modes (setpriv, a container) meets them as any user.
  if (code === C.EACCES) return new Deno.errors.PermissionDenied(`permission denied: ${path}`);
  if (code === C.ENOENT) return new Deno.errors.NotFound(`no socket at ${path}`);
  // Anything else (a file on the way, a symlink loop, a name too long, no descriptor left) is not "nothing
  // there": the errno's own words, in the class Deno.connect gives a user for the same.
  const text = strerror(code);
  const message = `${text.charAt(0).toLowerCase()}${text.slice(1)}: ${path}`;
  if (code === C.ENOTDIR) return new Deno.errors.NotADirectory(message);
  if (code === C.ELOOP) return new Deno.errors.FilesystemLoop(message);
  return new Error(message);
}
