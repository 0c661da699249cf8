/**
 * The receive thread's body (a Deno Worker): drains one datagram socket into
 * a FrameRing, so frames leave the kernel queue while the main thread is
 * busy (a GC, a TCP write, a console listing).
 *
 * Theory of operation: the worker owns an epoll set with the data socket
 * and a wake eventfd, and blocks in a synchronous `epoll_wait`: one wake-up
 * per burst, on this thread only. It drains the socket with `recvmmsg`
 * (64 at a time, fewer when the ring is nearly full) into its own arena,
 * copies each frame into the ring, publishes the batch and, when the main
 * thread sleeps, wakes it: a notify on the ring if it is parked there, else
 * one eventfd write. When the ring is full it
 * stops reading and waits for space, leaving frames in the kernel queue (as
 * a slow C reader would). It never sends, never closes the data socket and
 * never touches the eventfds after it has said "stopped": the main thread
 * owns those fds and closes them only after that message, so no system
 * call here can outlive the fd or buffer it uses.
 *
 * Its event loop never runs while it forwards (the loop is synchronous), so
 * it takes no messages after the start: stop is a flag in the ring plus a
 * write to the wake eventfd.
 *
 * On demand (a `handover` word, see read_handover.ts): the thread starts
 * with only its wake eventfd in its set and reads the socket only while
 * the word says RELAY. After each wake-up it looks at the word: RELAY adds
 * the socket to its set; RETURNING (the owner wants it back) takes it out,
 * after the last batch was published, gives it back and writes the notify
 * eventfd, so the owner delivers what the ring holds and reads on. A drain
 * looks at the word between two `recvmmsg`s, so a hand-back waits at most
 * one batch.
 */
import { C, direct, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, errno, libc, recvmmsgNow } from "../../ffi/libc.ts";
import { RecvArena } from "../io/mmsg.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { FrameRing, recordSize } from "./frame_ring.ts";
import { raisePriority } from "./priority.ts";
import { ReadHandover } from "./read_handover.ts";
import { announceLoaded } from "./worker_loaded.ts";

/** What the main thread posts once, to start the loop. */
export interface RxStart {
  sab: SharedArrayBuffer;
  /** The data socket (non-blocking); owned by the main thread. */
  fd: number;
  /** Eventfd the main thread writes to stop the loop. */
  wakeFd: number;
  /** Eventfd in the main thread's poller that this thread writes when it publishes to a sleeping consumer. */
  notifyFd: number;
  /** The handover word, when the owner reads the socket itself until it engages this thread. */
  handover?: SharedArrayBuffer;
}

const BATCH = 64;
/** Slot size: one byte more than the largest frame, so oversize shows as MSG_TRUNC. */
const SLOT = VDE_MAX_FRAME + 6;
/** Ring bytes one received frame may need, at most: its record plus a wrap. */
const WORST_RECORD = 2 * recordSize(VDE_MAX_FRAME);
/** How long a producer facing a full ring sleeps before it checks for a stop again. */
const FULL_WAIT_MS = 20;

function run(start: RxStart): void {
  const c = libc();
  raisePriority();
  const ring = FrameRing.attach(start.sab);
  const arena = new RecvArena(BATCH, SLOT);
  const events = new Uint8Array(EPOLL_EVENT_SIZE * 4);
  const ev = new DataView(events.buffer);
  const one = new Uint8Array(8);
  one[0] = 1;
  const sink = new Uint8Array(8);
  const epfd = c.epoll_create1(C.EPOLL_CLOEXEC);
  if (epfd < 0) {
    if (ring.fail(errno()) && !ring.wakeParked()) direct.write(start.notifyFd, one, 8);
    return;
  }
  const ctl = new Uint8Array(EPOLL_EVENT_SIZE);
  const ctlView = new DataView(ctl.buffer);
  const watch = (fd: number) => {
    ctlView.setUint32(0, C.EPOLLIN, true);
    ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    c.epoll_ctl(epfd, C.EPOLL_CTL_ADD, fd, ctl);
  };
  watch(start.wakeFd);
  const handover = start.handover === undefined ? null : ReadHandover.attach(start.handover);
  /** True while the socket is in this thread's set. */
  let watching = handover === null;
  if (watching) watch(start.fd);
  // From now on a wake-up is seen: the owner may hand the socket over.
  handover?.rxStarted();
  let reading = true;

  /** The consumer parked on the ring is notified directly; the eventfd is the fallback (see rx_thread.ts). */
  const wakeConsumer = () => {
    if (!ring.wakeParked()) direct.write(start.notifyFd, one, 8);
  };

  /** Drains the socket until EAGAIN, an error, or a stop. */
  const drain = () => {
    while (!ring.stopping && (handover === null || handover.rxReads)) {
      const room = Math.floor(ring.free() / WORST_RECORD);
      if (room <= 0) {
        ring.waitForSpace(FULL_WAIT_MS);
        continue;
      }
      const n = recvmmsgNow(start.fd, arena.mmsg, Math.min(BATCH, room));
      if (n < 0) {
        const e = errno();
        if (e === C.EINTR) continue;
        if (e === C.EAGAIN) return;
        // The socket failed (the peer is gone): say so once and stop reading it.
        reading = false;
        if (watching) c.epoll_ctl(epfd, C.EPOLL_CTL_DEL, start.fd, ctl);
        watching = false;
        if (ring.fail(e)) wakeConsumer();
        return;
      }
      let w = ring.writePosition;
      for (let i = 0; i < n; i++) {
        const len = arena.length(i);
        if (arena.truncated(i) || len > VDE_MAX_FRAME) ring.countOversize();
        else w = ring.put(arena.slots[i]!.subarray(0, len), w);
      }
      if (ring.publish(w)) wakeConsumer();
      if (n < Math.min(BATCH, room)) return;
    }
  };

  /** Takes the socket into this thread's set or gives it back, as the handover word says. */
  const follow = (h: ReadHandover) => {
    if (h.rxReads) {
      if (!watching && reading) {
        watch(start.fd);
        watching = true;
      }
      return;
    }
    if (watching) {
      c.epoll_ctl(epfd, C.EPOLL_CTL_DEL, start.fd, ctl);
      watching = false;
    }
    // Every batch was published before the word moves (drain publishes each one before it looks).
    if (h.rxReturn()) direct.write(start.notifyFd, one, 8);
  };

  while (!ring.stopping) {
    const n = c.epoll_wait(epfd, events, 4, -1);
    if (n < 0) {
      if (errno() === C.EINTR) continue;
      break;
    }
    for (let i = 0; i < n; i++) {
      const fd = ev.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
      if (fd === start.wakeFd) direct.read(start.wakeFd, sink, 8);
      else if (reading && watching) drain();
    }
    if (handover !== null) follow(handover);
  }
  c.close(epfd);
}

/** The worker's global scope, as far as this file uses it. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<RxStart>) => void) | null;
  postMessage(message: string): void;
};

scope.onmessage = (e) => {
  scope.onmessage = null;
  try {
    run(e.data);
  } finally {
    scope.postMessage("stopped");
  }
};

// Deno has loaded this thread: a prompt its load erased can be drawn again (worker_loaded.ts).
announceLoaded();
