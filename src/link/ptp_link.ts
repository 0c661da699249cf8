/**
 * `ptp://PATH`: two programs joined by a pair of unix datagram sockets, with
 * no switch between them, wire compatible with vdeplug4's ptp plugin (each
 * datagram one frame, no header).
 *
 * Theory of operation: the same VNL is given at both ends. The first end to
 * open binds PATH; the second finds PATH served, connects to it and binds
 * `PATH+`, which is where the first end sends. So both ends own one name,
 * and each removes its own when it closes. The first end waits in its open
 * until `PATH+` answers, then connects to it: from then on both sockets are
 * connected, only the peer can send to either, and the link is an ordinary
 * datagram link (dgram_link.ts: its length checks, its queue, a plug
 * thread). A third end finds both names served and is refused.
 *
 * The other end's name must be a socket of our own user's: vdeplug4 joins
 * whatever serves PATH or PATH+, so another local user who serves one of
 * them first (in /tmp, say) reads every frame a root end sends. An end of
 * another user could not have worked anyway (each end's name is 0700, so
 * one direction is refused). It is checked before and after the connect, so
 * a name swapped in between is caught too (in a sticky directory nobody
 * else can make a file ours).
 *
 * The first end's PATH is unconnected while it waits, so it is made 0700
 * from its first moment (bound in a private directory and linked there):
 * bound in place under a umask of 000, another user could connect in before
 * the chmod and queue frames it would read once the second end came. The
 * second end's PATH+ is made so too: connected first, it needs no guard for
 * its frames, but a chmod by its name after the bind follows whatever a
 * user who may write the directory puts at that name meanwhile.
 *
 * A name left by an end that died (a socket file no one serves: connect is
 * refused) is taken over, as vdeplug4 does. A name that is not a socket is
 * never removed: that is one line saying so. When the peer goes, sends are
 * refused and the link closes (vdeplug4's end would wait for another). A
 * first end restarted while the old second end is still there waits for a
 * new second end (the old one leaves at its next send).
 *
 * PATH's directory is held by a descriptor from the open to the link's
 * end, and every look, bind, connect and unlink goes through it
 * (/proc/self/fd/N/NAME): in a directory others may write without the
 * sticky bit, one who renames it away and puts theirs at its name would
 * otherwise have root's end unlink a stale-looking name, or its own name
 * at its close, in theirs. A name too long to be reached so (a socket's
 * address is 108 bytes) is worked by its name, as is one whose directory
 * cannot be opened (the bind then says why).
 */
import { C, libc, SysError } from "../../ffi/libc.ts";
import { buildSockaddrUn } from "../wire/sockaddr_un.ts";
import { isErrno, UnixDgramSocket } from "../io/unix_dgram.ts";
import { userName } from "../os/users.ts";
import { PinnedDirectory } from "../os/held_dir.ts";
import { DgramLink } from "./dgram_link.ts";
import { type OpenOptions, registerScheme } from "./registry.ts";

/**
 * How soon the first end looks for the second again, in ms: at once at
 * first (two ends started together join quickly), then less and less often
 * up to JOIN_POLL_MAX_MS. An end may wait for hours: every 20 ms cost it
 * 1.6% of a core (50 wake-ups a second, on a shared 2-core machine).
 */
export const JOIN_POLL_MS = 20;
/** The longest the first end sleeps between two looks: how late it may notice the second end. */
export const JOIN_POLL_MAX_MS = 250;

/** What is at a ptp:// name. */
export type PtpNameState = "absent" | "served" | "stale" | "not-socket" | "not-datagram";

/** The name the second end binds, where the first end sends. */
export function secondName(path: string): string {
  return `${path}+`;
}

/** Looks at `path` without changing it: is a ptp:// end serving there? */
export function probePtpName(path: string): PtpNameState {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "absent";
    throw err;
  }
  if (info.isSocket !== true) return "not-socket";
  const probe = UnixDgramSocket.create();
  try {
    probe.connect(path);
    return "served";
  } catch (err) {
    if (isErrno(err, C.ECONNREFUSED)) return "stale";
    if (isErrno(err, C.ENOENT)) return "absent";
    // EPROTOTYPE: a stream socket (a switch's control socket, say), no ptp:// end.
    if (err instanceof SysError && err.code === EPROTOTYPE) return "not-datagram";
    // EPERM: a socket already connected to a peer of its own, so served.
    return "served";
  } finally {
    probe.close(false);
  }
}

/** Linux's EPROTOTYPE: connecting a datagram socket to a stream one. */
const EPROTOTYPE = 91;

/** Throws the line for a name that cannot be a ptp:// end; removes a stale one. */
function claimable(path: string, state: PtpNameState): void {
  if (state === "not-socket") {
    throw new Error(`${path} exists and is not a socket; give ptp:// a path of its own`);
  }
  if (state === "not-datagram") {
    throw new Error(
      `${path} is a stream socket (a switch's?), not a ptp:// end; plug into a switch with vde://`,
    );
  }
  if (state === "stale") {
    // Left by an end that died: no one is served by it, so it is taken over.
    try {
      Deno.removeSync(path);
    } catch { /* removed by another end in the meantime */ }
  }
}

/** `what PATH: why`, the system call's name left out of a SysError (the path says where). */
function failure(what: string, path: string, err: unknown): Error {
  if (err instanceof SysError) return new Error(`${what} ${path}: ${err.message.replace(/^\w+: /, "")}`);
  // A name taken between the look and the bind, as bind's EADDRINUSE says it.
  if (err instanceof Deno.errors.AlreadyExists) return new Error(`${what} ${path}: Address already in use`);
  // Deno's own (a private bind's staging directory, `Why (os error N): mkdir '...'`): the why, without
  // the staging directory's name, which the user never gave.
  const why = err instanceof Error ? /^(.+?) \(os error \d+\)/.exec(err.message) : null;
  if (why !== null) return new Error(`${what} ${path}: ${why[1]}`);
  return new Error(err instanceof Error ? err.message : String(err));
}

/** Opens `ptp://PATH`: the first end waits until the second comes (or `options.signal` aborts). */
export async function openPtpLink(rest: string, options: OpenOptions = {}): Promise<DgramLink> {
  const path = rest;
  if (path === "") throw new Error("ptp:// needs a PATH, the same at both ends: ptp:///tmp/cable");
  // Both names must fit a socket address: found out here, not by a first end that waits for nothing.
  buildSockaddrUn(secondName(path));
  const dir = heldDirectoryOf(path);
  if (dir === null) return await openAt(path, path, options);
  const at = dir.entry(path.slice(path.lastIndexOf("/") + 1));
  let link: DgramLink;
  try {
    link = await openAt(at, path, options);
  } catch (err) {
    dir.close();
    // Said in the user's words: the name they gave, not the descriptor's.
    throw err instanceof Error && err.message.includes(at)
      ? new Error(err.message.replaceAll(at, path))
      : err;
  }
  // Held until the socket, unlinked through it as it closes, is closed (after a plug thread lets go).
  link.closed.then(() => link.released).catch(() => {}).finally(() => dir.close());
  return link;
}

/** PATH's directory held (see above), or null to work by name. */
function heldDirectoryOf(path: string): PinnedDirectory | null {
  const cut = path.lastIndexOf("/");
  let dir: PinnedDirectory;
  try {
    dir = PinnedDirectory.pin(cut < 0 ? "." : path.slice(0, cut) || "/", undefined, true);
  } catch {
    return null;
  }
  try {
    buildSockaddrUn(secondName(dir.entry(path.slice(cut + 1))));
  } catch {
    dir.close();
    return null;
  }
  return dir;
}

/** The open at `path` (PATH itself, or through its held directory), the link described by `named`. */
async function openAt(path: string, named: string, options: OpenOptions): Promise<DgramLink> {
  const state = probePtpName(path);
  claimable(path, state);
  const socket = UnixDgramSocket.create();
  try {
    if (state === "served") joinFirst(path, socket);
    else await waitForSecond(path, socket, options.signal);
  } catch (err) {
    socket.close();
    throw err;
  }
  return new DgramLink(socket, `ptp ${named}`, false);
}

/** The second end: connects to the first end's PATH and binds PATH+. */
function joinFirst(path: string, socket: UnixDgramSocket): void {
  const full = `ptp://${path} has both its ends already (a third cannot join)`;
  ours(path);
  try {
    socket.connect(path);
  } catch (err) {
    if (isErrno(err, C.EPERM)) {
      // Joined to a second end: one still there (PATH+ served), or one that went, which the first end
      // lets go of only when it next sends (ours then ends, vdeplug4's takes the next second end).
      if (probePtpName(secondName(path)) === "served") throw new Error(full);
      throw new Error(
        `the end at ${path} is still joined to a second end that has gone; it lets go when it next sends: ` +
          `try again then`,
      );
    }
    throw failure("cannot reach the end at", path, err);
  }
  ours(path);
  const plus = secondName(path);
  const state = probePtpName(plus);
  if (state === "served") throw new Error(full);
  claimable(plus, state);
  try {
    // Made 0700 as it is bound, through its staging directory: a chmod by name after a bind there followed
    // a link that a user who may write the directory (no sticky bit) put in place of our socket, and
    // root's second end gave any file of the machine mode 0700.
    socket.bindPrivate(plus, 0o700);
  } catch (err) {
    throw failure("cannot bind", plus, err);
  }
}

/** The first end: binds PATH, then connects to PATH+ once the second end serves it. */
async function waitForSecond(
  path: string,
  socket: UnixDgramSocket,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    // 0700 from its first moment: it is unconnected until the second end comes, so whoever could
    // connect in before a chmod (under a umask of 000) could queue frames it reads then.
    socket.bindPrivate(path, 0o700);
  } catch (err) {
    throw failure("cannot bind", path, err);
  }
  // Closed (PATH removed) the moment the opener gives up, not at the next poll: a plug that is
  // stopped returns without waiting for this open, and its process may be gone by then.
  const giveUp = () => socket.close();
  signal?.addEventListener("abort", giveUp, { once: true });
  try {
    await pollForSecond(socket, secondName(path), signal);
  } finally {
    signal?.removeEventListener("abort", giveUp);
  }
}

/** Connects the first end to PATH+ once the second end serves it, polling. */
async function pollForSecond(
  socket: UnixDgramSocket,
  plus: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (let delay = JOIN_POLL_MS;; delay = Math.min(delay * 2, JOIN_POLL_MAX_MS)) {
    if (signal?.aborted === true) throw new Error("stopped while waiting for the other end");
    try {
      if (ours(plus, true)) {
        socket.connect(plus);
        ours(plus);
        return;
      }
    } catch (err) {
      // Not there yet, or a name a dead second end left (the next one takes it over), or (EPERM) the
      // second end of a first end that went before this one came (a restart): it leaves at its next
      // send, and a new one joins. Look again.
      if (!isErrno(err, C.ENOENT) && !isErrno(err, C.ECONNREFUSED) && !isErrno(err, C.EPERM)) {
        throw failure("cannot reach the other end at", plus, err);
      }
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

/**
 * Throws the line for a name that is not a socket of this process's user
 * (one of another user's would read our frames); with `absentOk`, returns
 * false for no name yet, instead of throwing.
 */
function ours(path: string, absentOk = false): boolean {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (err) {
    if (absentOk && err instanceof Deno.errors.NotFound) return false;
    throw failure("cannot look at", path, err);
  }
  if (info.isSocket !== true) throw new Error(`${path} is not a socket; give ptp:// a path of its own`);
  const me = libc().geteuid();
  if (info.uid !== me) {
    throw new Error(
      `${path} is ${userName(info.uid ?? -1)}'s socket, not ${userName(me)}'s: ` +
        `not joined (its owner would have this end's frames)`,
    );
  }
  return true;
}

/** Owner only, as vdeplug4's default mode (0700); best effort. */
registerScheme("ptp", openPtpLink);
