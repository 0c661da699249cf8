/**
 * The plug thread's body (a Deno Worker): `vde plug A B` where both ends
 * are fds (a vde:// datagram socket, a tap), forwarded without the main
 * thread: one wake-up per burst, as the C vde_plug.
 *
 * Theory of operation: one epoll set holds both fds and a wake eventfd; a
 * synchronous `epoll_wait` blocks until one is ready (for 150 ms after a
 * frame it times out every millisecond, to keep the thread warm: see
 * KEEP_WARM_MS). Each direction has its own arena of 64 slots. A datagram source is drained with `recvmmsg`, up
 * to BATCHES_PER_TURN batches a wake-up; a tap gives two full-size frames'
 * worth a wake-up (see TAP_BYTES_PER_TURN). A datagram destination gets
 * the batch with one `sendmmsg` (a lone frame with `send`), a tap one
 * `write` per frame, after which that tap's turn comes at once (the write
 * has often queued its answer). Frames larger
 * than a VDE frame or shorter than an Ethernet header are dropped and counted, and the first of each kind on
 * each end is posted to the owner (a PlugDropped), which says it: this thread has no log. When a datagram destination is full
 * (EAGAIN), the rest of the batch stays in its slots, the source stops
 * being read (its frames wait in its own kernel queue) and EPOLLOUT is armed
 * on the destination; the batch leaves when it drains, so a burst is delayed,
 * not lost. A tap that cannot take a frame drops it (counted), as the
 * kernel does for a full interface queue. The thread runs real-time only
 * while a datagram peer streams to it (see DemandGovernor in priority.ts),
 * and then pauses after a wake-up that found only a few of its frames (see
 * NAP_MS), so the next one finds a batch.
 * Its datagram ends come with the send buffer the link chose for a plug
 * thread (the system's default: see vde_link.ts).
 *
 * The fds belong to the main thread, which closes them only after this
 * thread has said "stopped". Counters live in shared memory, written here
 * only.
 */
import {
  addressOf,
  C,
  direct,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  errno,
  libc,
  monotonicMs,
  quietErrno as quiet,
  readNow,
  recvmmsgNow,
  takeSocketError,
} from "../../ffi/libc.ts";
import { IOVEC_SIZE, MMSG_SIZE, MSG_FLAGS, MSG_IOV, MSG_IOVLEN, MSG_LEN } from "../io/mmsg.ts";
import { ETH_HLEN, isFrameLength, MIN_FRAME, VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { DemandGovernor } from "./priority.ts";
import { tapReadEnded } from "../link/tap_ended.ts";
import { inputWaiting, QUIET_SCHED, warmUp } from "./plug_warmup.ts";
import { LIBC_FDS } from "./warm_fds.ts";
import {
  counterIndex,
  PLUG_STOP,
  PLUG_WARM_WAITS,
  type PlugDropped,
  type PlugEnd,
  type PlugReply,
  type PlugStart,
} from "./plug_layout.ts";
import { announceLoaded } from "./worker_loaded.ts";

const BATCH = 64;
/** Slot size: larger than any frame, so an oversize one is seen (truncated or long) and dropped. */
const SLOT = VDE_MAX_FRAME + 6;
/** Batches a datagram source moves per wake-up before the other direction gets its turn. */
const BATCHES_PER_TURN = 8;
/**
 * Bytes a tap gives per wake-up: frames are read until two full-size
 * frames' worth (or a batch) has come, each full-size frame sent alone as
 * soon as it is read (see #pumpTap), and the other direction is looked at
 * before the next two; small frames (acknowledgements) still leave in
 * batches. A TCP sender behind the tap then gets its acknowledgements two
 * frames apart, not after a batch, and does not send in bursts, and the C
 * switch, which forwards each frame as it comes, does not pass a batch on
 * to its slowest receiver faster than that one drains (it drops what the
 * receiver's socket cannot hold). Measured behind Debian's vde_switch,
 * iperf3 from the tap, 15 paired 400 MB rounds on a loaded machine: reading
 * the tap's queue in batches (one sendmmsg per 23 frames) lost 1.5x the
 * frames vde_plug lost at the far plug (median of the rounds' ratios), one
 * full-size frame per wake-up 0.7x, at the same rate. Two frames a wake-up,
 * each sent before the next is read, save an `epoll_wait` (a tenth of the
 * thread's time in that flow, perf) per two frames; the frames the C switch
 * lost towards the far plug stayed those vde_plug's chain lost (11-13%
 * against 12-14% of what it sent there, 5 interleaved pairs).
 */
const TAP_BYTES_PER_TURN = 2 * (ETH_HLEN + 1500);

/**
 * A tap's turn that comes within this long of its last one is taken for a
 * burst: after its first frame it reads on until the tap is empty. Later
 * than that (a ping, a lone frame), the turn ends with its one frame and
 * the level-triggered `epoll_wait` says whether another waits: the read
 * that found the tap empty was a system call per lone frame that Debian's
 * vde_plug, which polls again instead, does not make. Counted with strace,
 * 100 pings 10 ms apart through two of our plugs on Debian's switch: that
 * read was 2 of our 14 calls a ping, against vde_plug's 12 calls. A
 * burst's turns come a few microseconds apart.
 */
const TAP_BURST_MS = 0.1;

/** What `wait` returns when warming is over (plug_warmup.ts). */
const WARMED = -2;

/**
 * How long the thread pauses, while a datagram peer streams to it, after a
 * wake-up that took fewer than NAP_BELOW_FRAMES frames from it (interrupt
 * moderation, as a NIC's rx-usecs). Real-time, the thread was woken for
 * nearly every frame the C switch sent: measured behind Debian's
 * vde_switch, iperf3 into the tap, 500-1,000 sleeps per 1,000 frames
 * against vde_plug's 50-100 (an ordinary process, it wakes late and finds
 * several), 3-5.4 ms of CPU per MB against vde_plug's 2, and the switch
 * itself 2.0-2.3 ms per MB (waking us for each frame) against 1.8: the
 * rate was 0.6-0.8x vde_plug's. With a 100 µs pause: 27-39 sleeps per
 * 1,000 frames, 1.9-2.1 ms per MB, the switch 1.3-1.5, and 1.1-1.9x
 * vde_plug's rate. The pause must stay well below the time the switch's
 * send buffer (about 93 full-size frames) takes to fill, half a
 * millisecond at 2 Gbit/s: 200 µs lost thousands of frames per 400 MB
 * where 100 µs lost hundreds (vde_plug: 20,000-40,000). A wake-up that
 * finds a batch is not followed by a pause, and neither is anything while
 * no datagram peer streams (a ping, the acknowledgements of a flow from
 * the tap).
 */
const NAP_MS = 0.1;
const NAP_BELOW_FRAMES = 16;
/**
 * While a wait found an fd ready within the last `keepWarmMs` of the start message (keep_warm.ts:
 * 150 ms unless $VDE_KEEP_WARM_MS says otherwise), the blocking wait times out after KEEP_WARM_MS
 * (counted in the control block's PLUG_WARM_WAITS), and the loop runs its wait, clock and
 * bookkeeping again with nothing to serve: a ping's frame 10 ms after the last finds V8's code and
 * data warm (switch_worker.ts says what a cold wake-up costs there). An empty turn costs about 17 µs
 * of CPU, about 1.5% of a core while a ping every 10 ms keeps the window open. A real-time look that
 * finds frames counts as traffic too. Past the window the wait has no timeout again: an idle plug
 * costs nothing.
 */
const KEEP_WARM_MS = 1;

/** A word no one notifies: `Atomics.wait` on it is a pause of the thread. */
const napWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * The thread's clock (monotonicMs) as read once per wake-up, right after its wait (or pause)
 * returned: the tap's turn and the scheduling governor both read it, where each took its own
 * clock_gettime, two FFI calls a frame in a bulk flow from the tap (perf: 2% of the thread). A
 * wake-up's work takes microseconds; the governor's window is 10 ms, a tap's burst gap 100 µs.
 * Module-level, as `wakeClock`: a closure per loop would be a new call target to the code
 * optimized while warming (see PlugLoop).
 */
let wakeMs = 0;

function wakeClock(): number {
  return wakeMs;
}

/** Where a drop is said (the owner, after warming; nowhere while warming). */
type Teller = (drop: PlugDropped) => void;

/** Bits of a Direction's `#told`: the kinds of drop it has said. */
const TOLD_OVERSIZE = 1;
const TOLD_RUNT = 2;
const TOLD_SEND = 4;

/** A send error that means the datagram peer is gone for good. */
function peerGone(err: number): boolean {
  return err === C.ECONNREFUSED || err === C.ENOTCONN || err === C.EPERM;
}

/** One direction of the cable: frames read from `src`, written to `dst`. */
class Direction {
  readonly data = new Uint8Array(BATCH * SLOT);
  readonly slots: Uint8Array[] = [];
  readonly lengths = new Int32Array(BATCH);
  readonly #iov = new Uint8Array(BATCH * IOVEC_SIZE);
  readonly #iovView = new DataView(this.#iov.buffer);
  readonly #iovLo = new Uint32Array(BATCH);
  readonly #iovHi = new Uint32Array(BATCH);
  /** recvmmsg headers: entry i receives into slot i. */
  readonly #recv = new Uint8Array(BATCH * MMSG_SIZE);
  readonly #recvView = new DataView(this.#recv.buffer);
  /** sendmmsg headers: entry j sends the j-th frame kept from the last receive. */
  readonly #send = new Uint8Array(BATCH * MMSG_SIZE);
  readonly #sendView = new DataView(this.#send.buffer);
  /** The slot of each sendmmsg entry (tap writes go in the same order). */
  readonly #slotOf = new Int32Array(BATCH);
  /** Frames of the current batch (sendmmsg entries [0, count)); [sent, count) still wait for the destination. */
  count = 0;
  sent = 0;
  /** Bytes of the frames of the current batch. */
  bytes = 0;
  /** Bytes the last `receive` read from a tap, oversize frames included. */
  tapBytes = 0;
  /** A tap source: when its last turn began (see TAP_BURST_MS). */
  turnAt = -Infinity;
  /** Entries [0, iovShort) of the iovecs hold a frame's length instead of SLOT (see `receive`). */
  #iovShort = 0;
  /** The kinds of drop said so far (TOLD_*): each once while the thread runs. */
  #told = 0;
  /**
   * The other direction (set once both exist): a field, not a choice between the loop's two, so
   * the code V8 optimizes while warming (where the tap is end a) holds when the tap is end b.
   */
  back: Direction = this;

  /**
   * `from`: which of the plug's ends `src` is; `tell`: where the first drop of each kind goes (see
   * PlugDropped).
   */
  constructor(
    readonly src: PlugEnd,
    readonly dst: PlugEnd,
    readonly counters: Float64Array,
    readonly base: number,
    readonly from: "a" | "b",
    readonly tell: Teller,
  ) {
    const dataAddr = addressOf(this.data);
    const iovAddr = addressOf(this.#iov);
    for (let i = 0; i < BATCH; i++) {
      this.slots.push(this.data.subarray(i * SLOT, (i + 1) * SLOT));
      this.#iovView.setBigUint64(i * IOVEC_SIZE, dataAddr + BigInt(i * SLOT), true);
      this.#iovView.setUint32(i * IOVEC_SIZE + 8, SLOT, true);
      const a = iovAddr + BigInt(i * IOVEC_SIZE);
      this.#iovLo[i] = Number(a & 0xffffffffn);
      this.#iovHi[i] = Number(a >> 32n);
      this.#recvView.setBigUint64(i * MMSG_SIZE + MSG_IOV, a, true);
      this.#recvView.setBigUint64(i * MMSG_SIZE + MSG_IOVLEN, 1n, true);
      this.#sendView.setBigUint64(i * MMSG_SIZE + MSG_IOVLEN, 1n, true);
    }
  }

  /** True while a batch waits for the destination to drain. */
  get blocked(): boolean {
    return this.sent < this.count;
  }

  /**
   * Reads one batch from the source into the slots and queues the valid
   * frames for sending: from a tap at most `frames` frames and until
   * `budget` bytes have come (`tapBytes` says how many did). Returns the
   * number of frames read, 0 when none waited, or -errno when the source
   * failed (a tap gone: -1).
   */
  receive(frames: number = BATCH, budget: number = TAP_BYTES_PER_TURN): number {
    let n = 0;
    if (this.src.kind === "dgram") {
      // Only the entries the last batch's sends shortened: a lone frame (a ping) pays for one
      // write before its receive, not a batch's.
      for (let i = 0; i < this.#iovShort; i++) this.#iovView.setUint32(i * IOVEC_SIZE + 8, SLOT, true);
      this.#iovShort = 0;
      // A failure ends the cable only if it repeats (see recvmmsgNow); a dead peer shows on sending too.
      n = recvmmsgNow(this.src.fd, this.#recv, BATCH);
      if (n < 0) {
        const e = errno();
        return quiet(e) ? 0 : -e;
      }
      for (let i = 0; i < n; i++) {
        const truncated = (this.#recvView.getInt32(i * MMSG_SIZE + MSG_FLAGS, true) & C.MSG_TRUNC) !== 0;
        const len = this.#recvView.getUint32(i * MMSG_SIZE + MSG_LEN, true);
        this.lengths[i] = truncated ? -1 : len;
      }
    } else {
      let bytes = 0;
      for (; n < frames && bytes < budget; n++) {
        // A failure is believed only if it repeats (readNow).
        const r = readNow(this.src.fd, this.slots[n]!, SLOT);
        if (r < 0) {
          const e = errno();
          if (quiet(e)) break;
          return -e;
        }
        if (r === 0) return n === 0 ? -1 : n;
        this.lengths[n] = r;
        bytes += r;
      }
      this.tapBytes = bytes;
    }
    this.count = 0;
    this.sent = 0;
    this.bytes = 0;
    for (let i = 0; i < n; i++) {
      const len = this.lengths[i]!;
      // Truncated (-1), shorter than an Ethernet header or longer than a VDE frame: no frame, as a link
      // (BaseLink.deliver) drops it; a tap's write of it would fail.
      if (!isFrameLength(len)) {
        this.counters[this.base + 2]!++;
        this.#dropped(len);
        continue;
      }
      this.#iovView.setUint32(i * IOVEC_SIZE + 8, len, true);
      this.#iovShort = i + 1;
      this.#sendView.setUint32(this.count * MMSG_SIZE + MSG_IOV, this.#iovLo[i]!, true);
      this.#sendView.setUint32(this.count * MMSG_SIZE + MSG_IOV + 4, this.#iovHi[i]!, true);
      this.#slotOf[this.count] = i;
      this.lengths[this.count++] = len;
      this.bytes += len;
    }
    return n;
  }

  /**
   * Says a frame of `len` bytes dropped from the source, if the first of its kind. -1 (a datagram
   * cut short) and a whole slot (a tap's frame cut to it: the tun driver says what it copied, not
   * the frame's length) are said as a frame of unknown length.
   */
  #dropped(len: number): void {
    const runt = len >= 0 && len < MIN_FRAME;
    const bit = runt ? TOLD_RUNT : TOLD_OVERSIZE;
    if ((this.#told & bit) !== 0) return;
    this.#told |= bit;
    const value = len < 0 || len >= SLOT ? VDE_MAX_FRAME + 1 : len;
    this.tell({ dropped: runt ? "runt" : "oversize", end: this.from, value });
  }

  /**
   * Says frames towards the destination lost to errno `e`, if the first such loss: not a full queue,
   * a tap that is down (as a link says neither), nor an end gone (the reason the cable ends says it).
   */
  #sendFailed(e: number): void {
    if ((this.#told & TOLD_SEND) !== 0) return;
    if (e === C.EAGAIN || e === C.EIO || e === C.EBADFD || peerGone(e)) return;
    this.#told |= TOLD_SEND;
    this.tell({ dropped: "send", end: this.from === "a" ? "b" : "a", value: e });
  }

  /**
   * One system call's worth of the batch's unsent frames towards a datagram destination: the number
   * that left, or -1 with errno set. A lone frame (a tap's turn in a bulk flow reads one at a time)
   * leaves by `send` on the connected socket, which copies in no message headers.
   */
  #sendRest(): number {
    const flags = C.MSG_DONTWAIT | C.MSG_NOSIGNAL;
    const left = this.count - this.sent;
    if (left === 1) {
      const slot = this.slots[this.#slotOf[this.sent]!]!;
      return direct.send(this.dst.fd, slot, this.lengths[this.sent]!, flags) < 0 ? -1 : 1;
    }
    const headers = this.sent === 0 ? this.#send : this.#send.subarray(this.sent * MMSG_SIZE);
    return direct.sendmmsg(this.dst.fd, headers, left, flags);
  }

  /**
   * Sends what is left of the batch. Returns 0 when all of it left (or was
   * dropped), EAGAIN when the destination is full (the rest waits), or
   * another errno when the destination failed.
   */
  flush(): number {
    const counters = this.counters;
    if (this.dst.kind === "tap") {
      for (let j = this.sent; j < this.count; j++) {
        const len = this.lengths[j]!;
        const r = direct.write(this.dst.fd, this.slots[this.#slotOf[j]!]!, len);
        if (r === len) {
          counters[this.base]!++;
          counters[this.base + 1]! += len;
        } else {
          // EAGAIN: the tap's queue is full; EIO: it is down. Both are counted only.
          counters[this.base + 2]!++;
          if (r < 0) this.#sendFailed(errno());
        }
      }
      this.sent = this.count;
      return 0;
    }
    let retried = false;
    while (this.sent < this.count) {
      const k = this.#sendRest();
      if (k < 0) {
        const e = errno();
        if (e === C.EINTR) continue;
        if (e === C.EAGAIN || e === C.ENOBUFS) return C.EAGAIN;
        // Believed only if it repeats (see receive).
        if (!retried) {
          retried = true;
          continue;
        }
        counters[this.base + 2]! += this.count - this.sent;
        this.sent = this.count;
        this.#sendFailed(e);
        return e;
      }
      for (let j = this.sent; j < this.sent + k; j++) {
        counters[this.base]!++;
        counters[this.base + 1]! += this.lengths[j]!;
      }
      this.sent += k;
    }
    return 0;
  }
}

/**
 * The forwarding loop of the plug thread, or of its warm-up
 * (plug_warmup.ts, which passes `feed`: called where the loop would block,
 * it supplies the next frames or says to stop). A class, so the warm-up's
 * instance and the real one run the same functions: closures made per run
 * were new call targets to the code V8 had optimized while warming, and it
 * threw that code away at the first real frame.
 */
class PlugLoop {
  readonly #c = libc();
  readonly #start: PlugStart;
  readonly #feed: (() => boolean) | undefined;
  /** Real-time only while a datagram peer (which may drop what we are late to take) streams to us: see priority.ts. */
  readonly #priority: DemandGovernor;
  /** What this wake-up drained from datagram sources. */
  #lossyBytes = 0;
  #lossyFrames = 0;
  readonly #control: Int32Array;
  readonly #ab: Direction;
  readonly #ba: Direction;
  readonly #epfd: number;
  /** errno of a failed epoll_create1. */
  readonly #createErrno: number = 0;
  readonly #ctl = new Uint8Array(EPOLL_EVENT_SIZE);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  /** What the epoll set watches on end a and end b (see #update). */
  #maskA: number = C.EPOLLIN;
  #maskB: number = C.EPOLLIN;
  readonly #events = new Uint8Array(EPOLL_EVENT_SIZE * 8);
  readonly #ev = new DataView(this.#events.buffer);
  readonly #sink = new Uint8Array(8);
  /** When a wait last found an fd ready (wakeMs), for KEEP_WARM_MS. */
  #lastTraffic = -Infinity;

  /** `tell`: where drops are said (nowhere while warming). */
  constructor(message: PlugStart, feed?: () => boolean, tell: Teller = () => {}) {
    // Copied into objects made here, the kind as one of two literals: a cloned message's objects have
    // shapes of their own and its strings are not the literals the code compares with, and code V8
    // optimized for warming's ends was thrown away at the first real frame.
    const end = (e: PlugEnd): PlugEnd => ({
      fd: e.fd,
      kind: e.kind === "tap" ? "tap" : "dgram",
      name: e.name,
    });
    const start: PlugStart = {
      a: end(message.a),
      b: end(message.b),
      wakeFd: message.wakeFd,
      shared: message.shared,
      keepWarmMs: message.keepWarmMs,
    };
    this.#start = start;
    this.#feed = feed;
    wakeMs = monotonicMs();
    this.#priority = new DemandGovernor(wakeClock, feed === undefined ? undefined : QUIET_SCHED);
    this.#control = new Int32Array(start.shared, 0, 4);
    const counters = new Float64Array(start.shared, 16);
    this.#ab = new Direction(start.a, start.b, counters, counterIndex("ab"), "a", tell);
    this.#ba = new Direction(start.b, start.a, counters, counterIndex("ba"), "b", tell);
    this.#ab.back = this.#ba;
    this.#ba.back = this.#ab;
    this.#epfd = this.#c.epoll_create1(C.EPOLL_CLOEXEC);
    if (this.#epfd < 0) {
      this.#createErrno = errno();
      return;
    }
    this.#setMask(start.wakeFd, C.EPOLLIN, C.EPOLL_CTL_ADD);
    this.#setMask(start.a.fd, C.EPOLLIN, C.EPOLL_CTL_ADD);
    this.#setMask(start.b.fd, C.EPOLLIN, C.EPOLL_CTL_ADD);
  }

  /** Forwards until the cable ends or the owner stops it (or warming is over); returns why it ended by itself. */
  run(): string | null {
    if (this.#epfd < 0) return `epoll_create1 failed: errno ${this.#createErrno}`;
    try {
      return this.#forward();
    } finally {
      this.#c.close(this.#epfd);
    }
  }

  /**
   * The loop, apart from `run`'s cleanup: the end of warming ran that
   * cleanup for the first time, which threw away the loop's optimized code
   * (`--trace-deopt`), and the real loop ran unoptimized for every ping.
   */
  #forward(): string | null {
    let reason: string | null = null;
    while (reason === null && Atomics.load(this.#control, PLUG_STOP) === 0) {
      const n = this.#wait();
      if (n === WARMED) break;
      if (n < 0) {
        if (errno() === C.EINTR) continue;
        reason = `epoll_wait failed: errno ${errno()}`;
        break;
      }
      reason = this.#serve(n);
    }
    return reason;
  }

  #setMask(fd: number, mask: number, op: number = C.EPOLL_CTL_MOD): void {
    this.#ctlView.setUint32(0, mask, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, fd, true);
    this.#c.epoll_ctl(this.#epfd, op, fd, this.#ctl);
  }

  /** An fd is read unless its frames' destination is full, and watched for output while it is full. */
  #update(): void {
    const ab = this.#ab, ba = this.#ba;
    const a = (ab.blocked ? 0 : C.EPOLLIN) | (ba.blocked ? C.EPOLLOUT : 0);
    const b = (ba.blocked ? 0 : C.EPOLLIN) | (ab.blocked ? C.EPOLLOUT : 0);
    if (a !== this.#maskA) this.#setMask(this.#start.a.fd, this.#maskA = a);
    if (b !== this.#maskB) this.#setMask(this.#start.b.fd, this.#maskB = b);
  }

  /** Moves frames one way; returns why the cable ends, or null. */
  #pump(d: Direction): string | null {
    if (d.src.kind === "tap") return this.#pumpTap(d);
    let wrote = false;
    for (let turn = 0; turn < BATCHES_PER_TURN && !d.blocked; turn++) {
      const n = d.receive();
      if (n < 0) return n === -1 ? `${d.src.name} was removed` : `${d.src.name}: receive failed: errno ${-n}`;
      if (n === 0) break;
      // A datagram source (a tap's turn is #pumpTap's).
      this.#lossyBytes += d.bytes;
      this.#lossyFrames += n;
      const err = d.flush();
      wrote = true;
      if (err === C.EAGAIN) return null;
      if (peerGone(err)) return `${d.dst.name}: peer socket is gone`;
      // Less than a batch: the source is drained.
      if (n < BATCH) break;
    }
    // A tap write runs the namespace's stack, which has often queued the answer (a ping's echo
    // reply, a TCP acknowledgement) by the time it returns: that tap's turn comes now, before
    // this wake-up's bookkeeping and another wait. Debian's vde_plug polls again first.
    if (wrote && d.dst.kind === "tap" && !d.back.blocked) return this.#pumpTap(d.back);
    return null;
  }

  /**
   * Moves a tap's turn (see TAP_BYTES_PER_TURN): its first frame leaves
   * alone, before the rest is read, so the read that finds the tap's queue
   * empty (EAGAIN), which ends a burst's turn, comes after a lone frame (a
   * ping) has left instead of before it; outside a burst there is no such
   * read (see TAP_BURST_MS). A burst of small frames pays one more send
   * for it. Returns why the cable ends, or null.
   */
  #pumpTap(d: Direction): string | null {
    const now = wakeMs;
    // Read on after the first frame only in a burst (see TAP_BURST_MS).
    const burst = now - d.turnAt < TAP_BURST_MS || this.#priority.realtime;
    d.turnAt = now;
    let budget = TAP_BYTES_PER_TURN;
    for (let frames = 1; budget > 0 && !d.blocked; frames = BATCH) {
      const n = d.receive(frames, budget);
      if (n < 0) return tapReadEnded(d.src.name, n === -1 ? 0 : -n);
      if (n === 0) return null;
      budget -= d.tapBytes;
      if (d.dst.kind === "dgram") this.#priority.sent(d.bytes);
      const err = d.flush();
      if (err === C.EAGAIN) return null;
      if (peerGone(err)) return `${d.dst.name}: peer socket is gone`;
      // Fewer than asked for: the tap's queue is empty. One frame outside a burst: epoll says if more wait.
      if (n < frames || !burst) return null;
    }
    return null;
  }

  /**
   * Waits for ready fds: (real-time) a look that does not block, then a
   * wait that does, or while warming the next throwaway frames. Returns the
   * ready count, -1 with errno set, or WARMED. The wait and the serving are
   * methods of their own, so V8 optimizes them from their calls (warming
   * makes thousands): `run`'s loop runs once, and a synchronous FFI call
   * made from unoptimized code takes Deno's slow path.
   */
  #wait(): number {
    const priority = this.#priority;
    // The look that does not block matters only to a real-time thread (saturated or not); an
    // ordinary one, as between pings, is told idle either way and saves the system call.
    if (priority.realtime) {
      const n = direct.epollWait(this.#epfd, this.#events, 8, 0);
      if (n !== 0) {
        wakeMs = monotonicMs();
        // A stream served here alone is traffic too: its end finds the keep-warm window open.
        this.#lastTraffic = wakeMs;
        priority.busy();
        return n;
      }
    }
    // Idle: the next burst is served real-time again.
    priority.idle();
    if (this.#feed !== undefined && !this.#feed()) return WARMED;
    // A choice, not a branch: no code the warm-up never ran (its waits always find frames).
    const warm = wakeMs - this.#lastTraffic < this.#start.keepWarmMs;
    this.#control[PLUG_WARM_WAITS]! += warm ? 1 : 0;
    const m = direct.epollWait(this.#epfd, this.#events, 8, warm ? KEEP_WARM_MS : -1);
    wakeMs = monotonicMs();
    priority.woke();
    this.#lastTraffic = m > 0 ? wakeMs : this.#lastTraffic;
    return m;
  }

  /** Serves `n` ready events; returns why the cable ends, or null. */
  #serve(n: number): string | null {
    const start = this.#start;
    const priority = this.#priority;
    let reason: string | null = null;
    for (let i = 0; i < n && reason === null; i++) {
      const mask = this.#ev.getUint32(i * EPOLL_EVENT_SIZE, true);
      const fd = this.#ev.getUint32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
      if (fd === start.wakeFd) {
        direct.read(start.wakeFd, this.#sink, 8);
        continue;
      }
      // Output first: a batch that can leave now unblocks its source.
      if ((mask & C.EPOLLOUT) !== 0) {
        for (const d of [this.#ab, this.#ba]) {
          if (d.dst.fd === fd && d.blocked) {
            // Another failure dropped the rest of the batch (counted): the cable goes on.
            if (peerGone(d.flush())) reason = `${d.dst.name}: peer socket is gone`;
          }
        }
      }
      if ((mask & ~C.EPOLLOUT) !== 0 && reason === null) {
        const d = fd === start.a.fd ? this.#ab : this.#ba;
        // An error or hang-up is reported even while the source is not read. A
        // socket's pending error is taken (it is reported once; a dead peer shows
        // on sending); a hang-up, or an error on a tap (it is gone), ends the cable.
        if (d.blocked && (mask & (C.EPOLLERR | C.EPOLLHUP)) !== 0) {
          if ((mask & C.EPOLLHUP) !== 0 || d.src.kind === "tap" || takeSocketError(d.src.fd) < 0) {
            reason = d.src.kind === "tap"
              ? tapReadEnded(d.src.name, 0)
              : `${d.src.name}: socket error or hang-up`;
          }
        } else reason = this.#pump(d);
      }
    }
    // Checked before `drained`: a wake-up that finds a late-sized backlog makes it real-time, and that one
    // found a batch. Not while warming: its throwaway stream is served as fast as it comes.
    const frames = this.#lossyFrames;
    const nap = priority.realtime && frames > 0 && frames < NAP_BELOW_FRAMES && this.#feed === undefined;
    if (frames > 0) {
      priority.drained(this.#lossyBytes, frames);
      this.#lossyBytes = 0;
      this.#lossyFrames = 0;
    }
    this.#update();
    if (nap) {
      // A pause ends a busy stretch, as a wait that blocks does (see RealtimeGovernor).
      priority.idle();
      Atomics.wait(napWord, 0, 0, NAP_MS);
      wakeMs = monotonicMs();
      priority.woke();
    }
    return reason;
  }
}

/** Runs a plug loop over `start` (see PlugLoop); `feed` while warming; `tell`, where drops are said. */
function run(start: PlugStart, feed?: () => boolean, tell?: Teller): string | null {
  return new PlugLoop(start, feed, tell).run();
}

/** The worker's global scope, as far as this file uses it. */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<PlugStart>) => void) | null;
  postMessage(message: PlugReply): void;
};

scope.onmessage = (e) => {
  scope.onmessage = null;
  let reason: string | null = null;
  try {
    // Told to stop while it warms (a plug stopped as it starts), it goes straight to the real loop, which
    // ends at once; frames already on a real end end the warm-up too: they are served now, not after it.
    const control = new Int32Array(e.data.shared, 0, 4);
    const input = inputWaiting([e.data.a.fd, e.data.b.fd]);
    try {
      warmUp(run, LIBC_FDS, () => Atomics.load(control, PLUG_STOP) !== 0 || input.waiting());
    } finally {
      input.close();
    }
    reason = run(e.data, undefined, (drop) => scope.postMessage(drop));
  } catch (err) {
    reason = `plug thread failed: ${err}`;
  } finally {
    scope.postMessage({ stopped: true, reason });
  }
};

// Deno has loaded this thread: a prompt its load erased can be drawn again (worker_loaded.ts).
announceLoaded();
