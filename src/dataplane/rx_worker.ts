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
 */
import { C, EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, errno, libc, recvmmsgNow } from "../../ffi/libc.ts";
import { RecvArena } from "../io/mmsg.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { FrameRing, recordSize } from "./frame_ring.ts";
import { raisePriority } from "./priority.ts";

/** What the main thread posts once, to start the loop. */
export interface RxStart {
  sab: SharedArrayBuffer;
  /** The data socket (non-blocking); owned by the main thread. */
  fd: number;
  /** Eventfd the main thread writes to stop the loop. */
  wakeFd: number;
  /** Eventfd in the main thread's poller that this thread writes when it publishes to a sleeping consumer. */
  notifyFd: number;
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
    if (ring.fail(errno()) && !ring.wakeParked()) c.write(start.notifyFd, one, 8);
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
  watch(start.fd);
  let reading = true;

  /** The consumer parked on the ring is notified directly; the eventfd is the fallback (see rx_thread.ts). */
  const wakeConsumer = () => {
    if (!ring.wakeParked()) c.write(start.notifyFd, one, 8);
  };

  /** Drains the socket until EAGAIN, an error, or a stop. */
  const drain = () => {
    while (!ring.stopping) {
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
        c.epoll_ctl(epfd, C.EPOLL_CTL_DEL, start.fd, ctl);
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

  while (!ring.stopping) {
    const n = c.epoll_wait(epfd, events, 4, -1);
    if (n < 0) {
      if (errno() === C.EINTR) continue;
      break;
    }
    for (let i = 0; i < n; i++) {
      const fd = ev.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
      if (fd === start.wakeFd) c.read(start.wakeFd, sink, 8);
      else if (reading) drain();
    }
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
