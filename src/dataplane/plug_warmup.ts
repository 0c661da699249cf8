/**
 * Warms the plug thread's forwarding loop before its first real frame.
 *
 * Theory of operation: as on the switch thread (switch_warmup.ts), V8 runs
 * code unoptimized until it has run often enough, and a synchronous FFI call
 * from unoptimized code takes Deno's slow path. A plug between pings 10 ms
 * apart never gets there: measured on the thread, each ping (one frame each
 * way) cost 100-130 µs of its CPU cold and 60-90 µs once a flood had
 * optimized the loop (Debian's vde_plug: 35-45 µs), and every sparse flow's
 * every hop paid it.
 *
 * So the thread first runs its own loop (a PlugLoop, whose methods the real
 * one shares, so what V8 learns holds for it) over two socketpairs standing
 * in for its ends: one read and written as a tap is,
 * one a datagram socket. Where the loop would block for want of work, the
 * warm-up hands it the next throwaway frames (one to a few each way, the
 * sizes traffic has) and empties what it forwarded, twelve thousand times.
 * The loop's scheduling governor is a quiet one meanwhile (the throwaway
 * stream must not make the thread real-time). It costs the thread about
 * 150 ms of CPU once. On a busy machine it stops after 250 ms of the
 * thread's CPU or a second on the clock, warm or not (warm_budget.ts). It
 * also stops at once when `ends` says so (looked at every 256 rounds, and
 * before the first): the plug was told to stop (a Ctrl-C as `vde plug`
 * starts waited out the warming), or a real end has input waiting (those
 * frames are served at once, by less optimized code, rather than held in
 * their queue until the warm-up's end: a sender that drops on a full queue,
 * as a switch does, lost them).
 */
import { C, direct, EPOLL_EVENT_SIZE, libc } from "../../ffi/libc.ts";
import { setSocketBuffer } from "../io/socket_buffers.ts";
import { warmBudget } from "./warm_budget.ts";
import { LIBC_FDS, type WarmFds } from "./warm_fds.ts";
import { PLUG_SHARED_BYTES, type PlugStart } from "./plug_layout.ts";
import { KEEP_WARM_DEFAULT_MS } from "./keep_warm.ts";
import type { DemandSched } from "./priority.ts";

/**
 * Wake-ups driven; each carries 1 to 4 frames each way. After 4,000 `--trace-opt` showed the
 * serving and sending methods still in V8's middle tier (Maglev, whose FFI calls take Deno's slow
 * path), after 12,000 in TurboFan; that costs the thread about 150 ms of CPU once.
 */
const ROUNDS = 12_000;
/** Warming stops after this much of the thread's CPU time even if unfinished... */
const BUDGET_MS = 250;
/** ...or after this long on the clock, however little CPU the thread had (see warm_budget.ts). */
const WALL_CAP_MS = 1000;
/**
 * Of every 64 rounds, the first 56 empty the far ends; the 8 others do not, and the loop's
 * small send buffers fill (see `warmUp`).
 */
const DRAINED_ROUNDS = 56;
/** Send buffer of the loop's ends: the kernel doubles it, about 7 full-size frames or 20 small ones. */
const LOOP_SEND_BUFFER = 8192;
/**
 * Of every 64 rounds, this one (an emptied one) comes after a pause longer than the loop's burst gap
 * (TAP_BURST_MS in plug_worker.ts), with one frame each way, as a ping's do: warmed without a lone
 * frame's path, the real loop's code could be thrown away at the first ping.
 */
const PAUSED_ROUND = 40;
const PAUSE_MS = 0.2;
/** Frame sizes traffic has: minimum, a ping, a full frame. */
const SIZES = [60, 98, 1514];

/** A scheduling policy that changes nothing: warming is not a stream to serve in real time. */
export const QUIET_SCHED: DemandSched = { raise: () => false, setRealtime: () => false, lower: () => {} };

/**
 * Runs `loop` (the plug thread's loop) over throwaway ends until warm or
 * `stopped` (asked every 256 wake-ups), `feed` being what it calls where it
 * would block; closes every fd it opened through `calls` on every path.
 * Never throws: a failure only means a cold start.
 */
export function warmUp(
  loop: (start: PlugStart, feed: () => boolean) => unknown,
  calls: WarmFds = LIBC_FDS,
  ends: () => boolean = () => false,
): void {
  const c = libc();
  const fds: number[] = [];
  try {
    const pair = () => {
      const sv = calls.pair();
      if (sv === null) throw new Error("socketpair");
      fds.push(...sv);
      return sv;
    };
    const tap = pair();
    const sock = pair();
    // A socketpair queues as much as its sender's buffer holds (about 90 full-size frames by default);
    // a small one fills within the rounds that are not emptied.
    for (const fd of [tap[0]!, sock[0]!]) setSocketBuffer(fd, "send", LOOP_SEND_BUFFER);
    const wakeFd = calls.eventfd();
    if (wakeFd < 0) return;
    fds.push(wakeFd);
    const start: PlugStart = {
      a: { fd: tap[0]!, kind: "tap", name: "warm-up tap" },
      b: { fd: sock[0]!, kind: "dgram", name: "warm-up socket" },
      wakeFd,
      shared: new SharedArrayBuffer(PLUG_SHARED_BYTES),
      keepWarmMs: KEEP_WARM_DEFAULT_MS,
    };
    const frames = SIZES.map((size) => frame(size));
    const sink = new Uint8Array(2048);
    const spent = warmBudget(BUDGET_MS, WALL_CAP_MS);
    let round = 0;
    loop(start, () => {
      // Not emptied for a few rounds now and then: the far ends' queues fill, so a tap write fails
      // (dropped, as when a real tap is not up yet) and a send is held for EPOLLOUT. Warmed without
      // those paths, the real loop's code was thrown away at its first frames (a plug starts before
      // its tap is up), and ran unoptimized for the next hundreds of pings.
      if ((round & 63) < DRAINED_ROUNDS) {
        for (const far of [tap[1]!, sock[1]!]) while (c.read(far, sink, sink.length) > 0) { /* forwarded */ }
      }
      if (round >= ROUNDS || ((round & 255) === 0 && (spent() || ends()))) return false;
      if ((round & 63) === PAUSED_ROUND) {
        const until = performance.now() + PAUSE_MS;
        while (performance.now() < until) { /* a gap between frames, as between pings */ }
      }
      const count = 1 + (round % 4);
      for (let i = 0; i < count; i++) {
        const f = frames[(round + i) % frames.length]!;
        c.write(tap[1]!, f, f.length);
        c.write(sock[1]!, f, f.length);
      }
      round++;
      return true;
    });
  } catch {
    // A cold start is slower, not wrong.
  } finally {
    for (const fd of fds) calls.close(fd);
  }
}

/**
 * A check that says true once any of `fds` (the plug's real ends) has input waiting, by a wait that
 * does not block on an epoll set of its own, and its release. Never true when the set cannot be made.
 */
export function inputWaiting(fds: number[]): { waiting: () => boolean; close: () => void } {
  const c = libc();
  const epfd = c.epoll_create1(C.EPOLL_CLOEXEC);
  if (epfd < 0) return { waiting: () => false, close: () => {} };
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  new DataView(ev.buffer).setUint32(0, C.EPOLLIN, true);
  for (const fd of fds) c.epoll_ctl(epfd, C.EPOLL_CTL_ADD, fd, ev);
  return { waiting: () => direct.epollWait(epfd, ev, 1, 0) > 0, close: () => c.close(epfd) };
}

/** A throwaway frame of `size` bytes between two local addresses. */
function frame(size: number): Uint8Array {
  const f = new Uint8Array(size);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  f[12] = 0x88;
  f[13] = 0xb5;
  return f;
}
