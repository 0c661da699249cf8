/**
 * Joining two links: the virtual cable behind `vde plug A B`.
 *
 * When both ends are fds (a vde:// socket, a tap), they are lent to a plug
 * thread that forwards between them on its own (dataplane/plug_thread.ts):
 * one wake-up per burst and no frame through the main thread. Otherwise
 * each link's frames are sent on the other from the main thread.
 */
import { discard, type Link, logOnce } from "./link.ts";
import { log } from "../log.ts";
import { canLendFd, type FdLender, PlugThread } from "../dataplane/plug_thread.ts";
import { schemeLendsFd, splitVnl } from "./registry.ts";

/** Options of `plug`. */
export interface PlugOptions {
  /**
   * Forward on a plug thread when both ends are fds (vde:// sockets, taps):
   * lower latency, no frame through the main thread. On unless false.
   */
  thread?: boolean;
  /**
   * The links were opened with `plugThread` (`plugsOnThread` said both
   * lend their fds). One that cannot is logged once: the scheme table and
   * the link disagree, and the cable runs on the main thread.
   */
  openedForThread?: boolean;
  /**
   * Shown every frame arriving on `from` (one of the two links) before it
   * is sent on: `vde plug -L`'s address log. The cable then runs on the
   * main thread, where the frames are.
   */
  watch?: { from: Link; see: (frame: Uint8Array) => void };
}

/**
 * Whether `plug` will forward on a plug thread between the links these two
 * VNLs name: open them with `plugThread` set when it will, so each link is
 * made for that thread from the start (a vde:// socket's send buffer).
 */
export function plugsOnThread(a: string, b: string, options: PlugOptions = {}): boolean {
  return options.thread !== false && schemeLendsFd(splitVnl(a).scheme) && schemeLendsFd(splitVnl(b).scheme);
}

/**
 * Joins `a` and `b` both ways: every frame arriving on one is sent on the
 * other. Resolves, with the reason, when either side closes; the other side
 * is closed too. Links that will go to a plug thread are best opened with
 * `plugThread: plugsOnThread(vnlA, vnlB)`, and plugged with
 * `openedForThread` set likewise.
 *
 * @param a one end of the cable
 * @param b the other end
 * @param options `thread`: forward on a plug thread when both ends lend
 *   their fds; `openedForThread`: log an end opened for one that cannot lend
 * @returns the reason the first link to end gave
 */
export async function plug(a: Link, b: Link, options: PlugOptions = {}): Promise<string> {
  const watch = options.watch;
  if (watch === undefined && options.thread !== false && canLendFd(a) && canLendFd(b)) {
    return await plugOnThread(a, b);
  }
  for (const l of options.openedForThread === true ? [a, b] : []) {
    if (!canLendFd(l)) {
      logOnce(
        `plug thread:${l.kind}`,
        `${l.description}: opened for a plug thread, but a ${l.kind} link cannot lend its fd; ` +
          "forwarding on the main thread",
      );
    }
  }
  a.onFrame = forward(b, watch?.from === a ? watch.see : undefined);
  b.onFrame = forward(a, watch?.from === b ? watch.see : undefined);
  a.feeds?.(b);
  b.feeds?.(a);
  const reason = await Promise.race([a.closed, b.closed]);
  a.onFrame = discard;
  b.onFrame = discard;
  a.feeds?.(null);
  b.feeds?.(null);
  a.close(`plugged link closed: ${reason}`);
  b.close(`plugged link closed: ${reason}`);
  return reason;
}

/** The handler that sends each frame on `to`, shown to `see` first when there is one. */
function forward(to: Link, see?: (frame: Uint8Array) => void): (frame: Uint8Array) => void {
  if (see === undefined) return (frame) => to.send(frame);
  return (frame) => {
    see(frame);
    to.send(frame);
  };
}

/** `plug` for two links that lend their fds: the thread forwards until either link or the thread ends. */
async function plugOnThread(a: Link & FdLender, b: Link & FdLender): Promise<string> {
  if (a.isClosed || b.isClosed) {
    const reason = await Promise.race([a.closed, b.closed]);
    a.close(`plugged link closed: ${reason}`);
    b.close(`plugged link closed: ${reason}`);
    return reason;
  }
  const released = Promise.withResolvers<void>();
  let thread: PlugThread | null = null;
  try {
    const [ea, eb] = await Promise.all([a.lendFd(released.promise), b.lendFd(released.promise)]);
    thread = new PlugThread(ea, eb);
    const ended = thread.ended.then((reason) => {
      // The thread ended the cable by itself (a peer gone, a tap removed): say why.
      if (reason !== null) log("vde plug", reason);
      return reason ?? "the plug thread stopped";
    });
    const reason = await Promise.race([a.closed, b.closed, ended]);
    await thread.stop();
    a.close(`plugged link closed: ${reason}`);
    b.close(`plugged link closed: ${reason}`);
    return reason;
  } finally {
    if (thread === null) released.resolve();
    else {
      await thread.stop();
      // Not when the thread did not answer: it may still be in a system call on the fds.
      void thread.released.then(released.resolve);
    }
  }
}
