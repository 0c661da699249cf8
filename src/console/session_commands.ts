/**
 * Commands every program's console has, whatever it controls (the switch,
 * wirefilter, slirp): `logout` and `shutdown`, which end a session or the
 * program, and `load`, which runs a script file as if typed, nested at most
 * {@linkcode MAX_LOAD_DEPTH} deep. Each program registers them with its own
 * help texts.
 */
import { readAtMost } from "../io/read_at_most.ts";
import { type CommandRegistry, fail, failure, ok, type Session } from "./registry.ts";
import { Errno, printable, type Reply, withBody } from "./reply_format.ts";
import { shellQuoted } from "../shell_quote.ts";
import { userName } from "../os/users.ts";
import { ownersOfSecrets } from "../os/owned_file.ts";
import {
  judgedFile,
  othersMayWrite,
  stepAdvice,
  stepText,
  untrustedStep,
  writersText,
} from "../os/trusted_path.ts";
import { C, cstr, errno, fstatOf, libc } from "../../ffi/libc.ts";

/** Deepest nesting of `load` inside `load`, so a script that loads itself ends. */
export const MAX_LOAD_DEPTH = 8;
/** Largest script `load` reads, so a mistaken path (a disk image) cannot eat memory. */
export const MAX_SCRIPT_BYTES = 1 << 20;
/** How long `load` waits for a named pipe's writer to open it. */
export const PIPE_WRITER_WAIT_MS = 5000;
/** What a `load` or `--rc` of a named pipe nobody opened for writing is told. */
export const PIPE_WITHOUT_WRITER = `a named pipe that nobody opened for writing within ${
  PIPE_WRITER_WAIT_MS / 1000
} s`;

/** What a switch's script's `shutdown` (the startup script's, or a `load`ed one's) is answered with. */
export const SHUTDOWN_IGNORED = "a shutdown in a script is ignored, as vde_switch ignores it";

/** What `shutdown` needs of the program it stops. */
export interface ShutdownTarget {
  /** False where nothing may stop the program (answered EOPNOTSUPP). */
  readonly canShutdown: boolean;
  shutdown(reason: string): void;
}

/**
 * Registers `logout` (ends a management session; a no-op elsewhere and in
 * a `load`ed script, as in vde_switch and wirefilter) and `shutdown` (answers, then stops the program, naming the
 * session it came from), with each program's own help texts.
 *
 * `scriptsIgnoreShutdown` (the switch's): a `shutdown` run by a script, the
 * startup one or a `load`ed one from any console, is answered with
 * SHUTDOWN_IGNORED and the script runs on, as vde_switch's runscript drops
 * handle_cmd's "shut down" answer and serves on (`vde switch -d --rc` with
 * one said it served and was gone at once; a console's `load` stopped the
 * switch). Debian's wirefilter exits at any `shutdown` (exit(0) in the
 * command), its rc's and a `load`ed one's, so it registers without it.
 */
export function addSessionEndCommands(
  registry: CommandRegistry,
  target: ShutdownTarget,
  help: { logout: string; shutdown: string },
  { scriptsIgnoreShutdown = false }: { scriptsIgnoreShutdown?: boolean } = {},
): void {
  registry.add({
    path: "logout",
    syntax: "",
    help: help.logout,
    listing: false,
    // On the program's own console there is nothing to log out of (as in vde_switch); nor in a `load`ed
    // script, which vde_switch's and wirefilter's runscript run on past it, the session too.
    run: (_args, session) =>
      session.kind === "mgmt" && session.loadDepth === 0 ? { code: 0, endSession: true } : ok(),
  });
  registry.add({
    path: "shutdown",
    syntax: "",
    help: help.shutdown,
    listing: false,
    run: (_args, session) => {
      if (!target.canShutdown) return fail(Errno.EOPNOTSUPP);
      const refused = othersShutdown(session);
      if (refused !== undefined) return refused;
      if (scriptsIgnoreShutdown && (session.kind === "script" || session.loadDepth > 0)) {
        return { code: 0, raw: `${SHUTDOWN_IGNORED}\n`, shutdownIgnored: true };
      }
      return {
        code: 0,
        endSession: true,
        afterSend: () => target.shutdown(`shutdown from the ${describeSession(session)}`),
      };
    },
  });
}

function describeSession(session: Session): string {
  switch (session.kind) {
    case "mgmt":
      return "management socket";
    case "script":
      return "startup script";
    default:
      return "console";
  }
}

/**
 * Runs a script file line by line in `session`, echoing each line as
 * `vde[PATH]: LINE` followed by its reply, as vde_switch's `load` does.
 * Unlike vde_switch, an empty line is skipped rather than answered with
 * 1038, and `load` works from the startup script too.
 */
export async function loadScript(path: string, session: Session): Promise<Reply> {
  const refused = othersLoad(session);
  if (refused !== undefined) return refused;
  if (path === "") return fail(Errno.ENOENT);
  if (session.loadDepth >= MAX_LOAD_DEPTH) return fail(Errno.ELOOP);
  const read = await readScript(path);
  if (typeof read === "number") return refusedScript(path, read);
  let raw = "";
  let shutdownIgnored = false;
  session.loadDepth++;
  try {
    for (const line of read) {
      raw += `vde[${path}]: ${line}\n`;
      const ran = await session.commands.execute(line, session);
      if (ran === null) continue;
      // Rendered whole, into the script's one reply: a listing made over time is read to its end.
      const reply = await withBody(ran);
      raw += session.render(reply);
      shutdownIgnored ||= reply.shutdownIgnored === true;
      // A script that logs out or shuts down stops there.
      if (reply.endSession) return { ...reply, raw };
    }
  } finally {
    session.loadDepth--;
  }
  return shutdownIgnored ? { code: 0, raw, shutdownIgnored } : { code: 0, raw };
}

/**
 * A `load` whose script could not be read: an untrusted one (EPERM) with the reason the check found, in
 * the words `--rc` prints at start ("it is reached through ..."), before the result line. Only this
 * program can say it: the way it sees may not be the client's (a rootless lab's switch sees root's
 * directories the host side did not vouch for as a stranger's, which `vde term` outside sees as root's
 * and fine). Any other errno says itself.
 */
function refusedScript(path: string, code: number): Reply {
  const why = code === Errno.EPERM ? othersScript(path) : undefined;
  // The path is the client's, but what it holds must not make a line of its own nor move a terminal.
  return why === undefined ? fail(code) : failure(printable(why), code);
}

/**
 * `load` reads its file as this program's user and says each line back, so
 * from a client that is another user (a console shared by `--mgmtmode 660`,
 * a lab switch's `mgmt_mode`) it would show them what only we may read:
 * `load /etc/shadow` from a student at root's switch. Refused (EPERM) for
 * them; our own user and root may, and a console without a socket peer.
 */
export function othersLoad(session: Session, self: number | null = Deno.uid()): Reply | undefined {
  const peer = otherUserClient(session, self);
  if (peer === undefined || self === null) return undefined;
  return failure(
    `load reads files as ${userName(self)}, and this console's client is ${userName(peer)}: ` +
      `only ${userName(self)} may load (a shared console runs typed commands only)`,
    Errno.EPERM,
  );
}

/**
 * `shutdown` from a client that is another user is refused (EPERM), as `load` is: a console shared by
 * `--mgmtmode 660` lets its group run the program's commands, and a student of the class could otherwise
 * stop the teacher's switch, and every other student's plugs with it, from `vde term`. Our own user and
 * root may, and a console without a socket peer (the program's own terminal).
 */
export function othersShutdown(session: Session, self: number | null = Deno.uid()): Reply | undefined {
  const peer = otherUserClient(session, self);
  if (peer === undefined || self === null) return undefined;
  return failure(
    `this console's client is ${userName(peer)}, and only ${
      self === 0 ? "root" : `${userName(self)} or root`
    } ` +
      "may shut this program down: a shared console lets others run its commands, not stop it",
    Errno.EPERM,
  );
}

/**
 * The uid of `session`'s client where it is another user than `self` (this program's) and not root: one
 * whom a console shared by its mode and group lets in (`--mgmtmode 660`), who may not have this program
 * do for them what only its user may (read its files, listen on a port only root may). Undefined for our
 * own user, root, and a console without a socket peer.
 */
export function otherUserClient(session: Session, self: number | null = Deno.uid()): number | undefined {
  const peer = session.peerUid;
  return peer === undefined || peer === 0 || peer === self ? undefined : peer;
}

/**
 * The user, not ours nor root (nor, for root, the sudo user), who owns script `path` or the symlink that
 * names it, or undefined. Such a script is refused (EPERM): its lines run as our commands, and each that
 * fails is logged with its text, so a user's symlink at root's `--rc /tmp/sw.rc` to root's 0600 key put
 * the key's lines in a log others may read, and a file of theirs there ran their commands in root's switch.
 */
export function scriptOwner(path: string): number | undefined {
  try {
    const link = Deno.lstatSync(path);
    const file = link.isSymlink ? Deno.statSync(path) : link;
    return strangerAmong(link.uid, file.uid);
  } catch {
    return undefined; // The read says why.
  }
}

/** The first of `uids` that is not ours, root's nor (for root) the sudo user's: whose script we refuse. */
function strangerAmong(...uids: (number | null)[]): number | undefined {
  const trusted = ownersOfSecrets();
  return uids.find((uid) => uid !== null && !trusted.includes(uid)) ?? undefined;
}

/** Why script `path` is refused as another user's (scriptOwner), in words; undefined where it is not. */
export function othersScript(path: string): string | undefined {
  const owner = scriptOwner(path);
  if (owner !== undefined) {
    return `it is ${
      userName(owner)
    }'s (the file or the symlink naming it), and its lines would run as ours: ` +
      "give a script of your own";
  }
  const step = untrustedStep(path, ownersOfSecrets());
  // A way not there is no other user's: the read says why.
  if (step !== undefined) {
    return step.kind === "missing"
      ? undefined
      : `it is reached through ${stepText(step)}, which may lead the name ` +
        `to any file, and its lines would run as ours: ${stepAdvice(step)}`;
  }
  const file = statOrNull(path);
  return file === null || !writableByOthers(file, ownersOfSecrets())
    ? undefined
    : `${writersText(file.mode, file.gid)} may write it (mode ${
      (file.mode & 0o7777).toString(8).padStart(4, "0")
    }), and its lines would run as ours: chmod go-w ${shellQuoted(path)}`;
}

/**
 * Whether a script others may write (a file, or a named pipe: not a device, whose mode says nothing of
 * what a read gives): its owner is trusted, but the lines they put in it would run as ours (a root-owned
 * `/etc/vde/sw.rc` left 0666 by an install).
 */
function writableByOthers(
  st: { mode: number; gid: number },
  owners: readonly number[],
): boolean {
  const type = st.mode & C.S_IFMT;
  return (type === C.S_IFREG || type === C.S_IFIFO) && othersMayWrite(st.mode, st.gid, owners);
}

function statOrNull(path: string): { mode: number; gid: number } | null {
  try {
    const st = Deno.statSync(path);
    return st.mode === null || st.gid === null ? null : { mode: st.mode, gid: st.gid };
  } catch {
    return null;
  }
}

/**
 * Reads a script's lines, or an errno (EPERM: another user's, scriptOwner). What is read is the file held
 * (holdScript) as it was judged: judged by name and then read by name, a user's link there and gone at
 * will (/tmp/sw.rc) was absent at the look and followed at the read, to root's key, 1 read in 40.
 */
export async function readScript(path: string, pipeWaitMs = PIPE_WRITER_WAIT_MS): Promise<string[] | number> {
  const held = holdScript(path);
  if (typeof held === "number") return held;
  // The very file held: opening its /proc name reopens it (a named pipe waits for its writer as before).
  const file = `/proc/self/fd/${held.fd}`;
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(file);
    if (info.isDirectory) return Errno.EISDIR;
    if (info.size > MAX_SCRIPT_BYTES) return Errno.E2BIG;
    // Bounded as it is read: a device or pipe has no size to check and may never end (`load /dev/zero`
    // grew a switch by gigabytes), while `--rc <(commands)` is a pipe that is fine to read.
    // A named pipe's open waits for its writer: bounded, or a `load` of one nobody writes hangs its session
    // (and an `--rc` the switch's start).
    bytes = await readAtMost(file, MAX_SCRIPT_BYTES + 1, info.isFifo ? pipeWaitMs : Infinity);
  } catch (err) {
    if (err instanceof Deno.errors.TimedOut) return Errno.ETIMEDOUT;
    if (err instanceof Deno.errors.NotFound) return Errno.ENOENT;
    if (err instanceof Deno.errors.PermissionDenied) return Errno.EACCES;
    return Errno.EIO;
  } finally {
    libc().close(held.fd);
  }
  if (bytes.length > MAX_SCRIPT_BYTES) return Errno.E2BIG;
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/**
 * Script `path` held (O_PATH, followed as a read follows it), or an errno: EPERM where the file held, or
 * a directory or symlink on its way (the final one naming it too), is another user's (scriptOwner,
 * trusted_path.ts). Held first and judged after: the way is walked again once the file is held, and the
 * file at its end must be the very one held, so a name that changed between the two (a user's link made
 * at the end of a trusted link's target, not there at the first look, and gone again at will) is looked
 * at again, and one that keeps changing is refused (EBUSY), not read.
 */
function holdScript(path: string): { fd: number } | number {
  const c = libc();
  const owners = ownersOfSecrets();
  // The way first: a way not there to its last name is not opened (no such file), an untrusted one not
  // at all.
  const step = untrustedStep(path, owners);
  if (step?.kind === "missing") {
    return step.errno === C.EACCES || step.errno === C.ELOOP ? step.errno : C.ENOENT;
  }
  if (step !== undefined) return Errno.EPERM;
  for (let tries = 0; tries < 3; tries++) {
    const fd = c.open(cstr(path), C.O_PATH | C.O_CLOEXEC, 0);
    if (fd < 0) {
      const e = errno();
      return e === C.ENOENT || e === C.EACCES || e === C.ELOOP ? e : Errno.EIO;
    }
    const held = fstatOf(fd);
    const judged = judgedFile(path, owners);
    if (held !== null && "ino" in judged && judged.dev === held.dev && judged.ino === held.ino) {
      if (strangerAmong(held.uid) === undefined && !writableByOthers(held, owners)) return { fd };
      c.close(fd);
      return Errno.EPERM;
    }
    c.close(fd);
    // An untrusted step now (a user's link at the end): refused; a name gone or another file: looked at again.
    if ("kind" in judged && judged.kind !== "missing") return Errno.EPERM;
  }
  return Errno.EBUSY;
}
