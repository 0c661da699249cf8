/**
 * `tap://NAME`: a Linux tap interface as a Link, so the virtual LAN becomes
 * a real interface of the host (or of a network namespace).
 *
 * Theory of operation: the tap fd is non-blocking and sits in the shared
 * poller's epoll set. When it is readable, frames are read synchronously
 * (one read() is one frame with IFF_NO_PI) until EAGAIN or a batch limit,
 * into one reused buffer, so the hot path allocates nothing but the view.
 * Writes are synchronous and never block: a full tap queue is a counted
 * drop. While the link the tap feeds (in `plug`) is backed up, the tap is
 * not read: frames wait in the tap's own queue (its txqueuelen) instead of
 * being dropped in ours, which TCP would see as loss. A tap created here
 * disappears when its fd closes; a persistent tap that existed before stays.
 */
import { C, direct, errno, libc, quietErrno, readNow } from "../../ffi/libc.ts";
import { openTap } from "../../ffi/tun.ts";
import { namingHolders } from "../os/taps.ts";
import { poller } from "../io/poller.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { BaseLink, CongestionWatch, type FlowPeer, logOfKind, logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { tapReadEnded } from "./tap_ended.ts";
import { oversizeLine } from "./oversize_line.ts";
import type { FdLender } from "../dataplane/plug_thread.ts";
import type { PlugEnd } from "../dataplane/plug_layout.ts";

/** Frames read per readiness event before other fds get their turn. */
const READ_BATCH = 64;
/** A read buffer larger than any frame, so an oversize frame is seen whole and dropped. */
const READ_BUFFER = 65536;

let scratch: Uint8Array<ArrayBuffer> | null = null;

/** A tap interface as one end of a wire. */
export class TapLink extends BaseLink implements FdLender {
  readonly kind = "tap" as const;
  readonly name: string;
  /** True when the interface existed (persistent) before this link opened it. */
  readonly existed: boolean;
  readonly #fd: number;
  /** Where this tap's frames go, when it can say it is backed up. */
  readonly #out = new CongestionWatch(() => this.#resume());
  #paused = false;
  /** Whether this plug's first oversize frame was said: a tap re-plugged under its name is told again. */
  #oversizeTold = false;
  /** Set once the fd is lent to a plug thread: it is closed only after this resolves. */
  #lentUntil: Promise<unknown> | null = null;

  constructor(name: string) {
    const { fd, existed } = openTap(name);
    super(`tap ${name}`);
    this.name = name;
    this.existed = existed;
    this.#fd = fd;
    poller().add(fd, { onReadable: () => this.#drain() });
  }

  /** Hands the tap's fd to a plug thread (see dataplane/plug_thread.ts). */
  lendFd(returned: Promise<unknown>): Promise<PlugEnd> {
    this.#lentUntil = returned;
    poller().remove(this.#fd);
    return Promise.resolve({ fd: this.#fd, kind: "tap", name: this.description });
  }

  send(frame: Uint8Array): void {
    if (this.isClosed || frame.length > VDE_MAX_FRAME || this.#lentUntil !== null) {
      this.stats.dropsOut++;
      return;
    }
    // Per frame: libc's syscall, not glibc's write, a cancellation point (ffi/libc.ts `direct`).
    const n = direct.write(this.#fd, frame, frame.length);
    if (n === frame.length) {
      this.stats.framesOut++;
      this.stats.bytesOut += n;
      return;
    }
    this.stats.dropsOut++;
    if (n < 0) {
      const e = errno();
      // EIO: the interface is down (no carrier); EAGAIN: its queue is full. Both are drops.
      if (e !== C.EAGAIN && e !== C.EIO) {
        logOnce(`tap-write:${this.name}:${e}`, `write to tap ${this.name} failed: errno ${e}`);
      }
    }
  }

  /** Stops reading the tap while `peer` is congested, so frames wait in the tap's queue. */
  feeds(peer: FlowPeer | null): void {
    this.#out.set(peer);
    if (!this.#out.congested) this.#resume();
  }

  #resume(): void {
    if (!this.#paused || this.isClosed) return;
    this.#paused = false;
    poller().setReadInterest(this.#fd, true);
    this.#drain();
  }

  #drain(): void {
    if (this.#lentUntil !== null) return;
    if (scratch === null) scratch = new Uint8Array(READ_BUFFER);
    const buf = scratch;
    const out = this.#out;
    for (let i = 0; i < READ_BATCH && !this.isClosed; i++) {
      if (out.congested) {
        this.#paused = true;
        poller().setReadInterest(this.#fd, false);
        return;
      }
      // A failure closes the link only if it repeats (readNow).
      const n = readNow(this.#fd, buf, READ_BUFFER);
      if (n < 0) {
        const e = errno();
        if (quietErrno(e)) return;
        this.close(tapReadEnded(this.description, e));
        return;
      }
      if (n === 0) {
        this.close(tapReadEnded(this.description, 0));
        return;
      }
      if (n > VDE_MAX_FRAME) {
        this.stats.dropsIn++;
        // Read here, it never reaches a switch's engine, whose `oversize` counter would not show it.
        if (!this.#oversizeTold) {
          this.#oversizeTold = true;
          logOfKind("oversize", oversizeLine(this.description, n, this.name, "dropped"));
        }
        continue;
      }
      this.deliver(buf.subarray(0, n));
    }
  }

  protected teardown(): void {
    this.#out.set(null);
    poller().remove(this.#fd);
    const fd = this.#fd;
    // A plug thread may be inside a system call on the fd: close it once the thread has let go.
    if (this.#lentUntil === null) libc().close(fd);
    else this.#lentUntil.then(() => libc().close(fd));
  }
}

/** Opens tap `name` as a link. Throws TapError with a one-line reason. */
export function openTapLink(name: string): TapLink {
  try {
    return new TapLink(name);
  } catch (err) {
    throw namingHolders(err, name);
  }
}

registerScheme("tap", (rest) => {
  try {
    return Promise.resolve(openTapLink(rest.replace(/\/+$/, "")));
  } catch (err) {
    return Promise.reject(err);
  }
});
