/**
 * A Link over a connected non-blocking unix datagram socket, driven by the
 * shared poller: one datagram is one frame. The vde:// client and the
 * switch's per-port endpoints are both this, plus their control stream.
 *
 * Output: a unix datagram peer accepts only `net.unix.max_dgram_qlen`
 * (10 by default) datagrams before sends fail with EAGAIN. Dropping there,
 * as vde_switch does, turns every burst into TCP loss; instead a frame that
 * meets a full peer goes into a small bounded queue of copies, write
 * interest is armed, and the queue is flushed when the peer drains. Only a
 * full queue drops. Nothing is copied while the peer keeps up. A sender
 * that can wait (the slirp's TCP) reads `congested` and resumes on
 * `onDrain`, so its own bursts are never dropped here.
 *
 * Input is read on the poller's thread, or by a receive thread of its own
 * (dataplane/rx_thread.ts), or, "on-demand", by the poller's thread until a
 * stream arrives and by the receive thread while it lasts (a
 * HandoverGovernor decides, dataplane/read_handover.ts): one wake-up per
 * frame while little comes in, nothing lost to a sender that drops on a
 * full queue while much does.
 */
import { C, takeSocketError } from "../../ffi/libc.ts";
import { poller } from "../io/poller.ts";
import { type RxSink, RxThread } from "../dataplane/rx_thread.ts";
import { HandoverGovernor } from "../dataplane/read_handover.ts";
import type { FdLender } from "../dataplane/plug_thread.ts";
import type { PlugEnd } from "../dataplane/plug_layout.ts";
import { type RecvCounters, SendBatcher, type UnixDgramSocket } from "../io/unix_dgram.ts";
import { BaseLink, logOnce } from "./link.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";

/** Frames held for a congested peer before new ones are dropped. */
export const OUTPUT_QUEUE_FRAMES = 128;

/** Staging shared by every datagram link: frames sent in a poller round leave in one sendmmsg per link. */
let batcher: SendBatcher | null = null;
/** Links with staged frames this round, flushed when the round ends. */
const dirty: DgramLink[] = [];

function flushStaged(): void {
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flushStaged();
  dirty.length = 0;
  batcher?.reset();
}

/**
 * Who reads a datagram link's socket: the poller's thread (false), a
 * receive thread (true), or the poller's thread with a receive thread
 * engaged while a stream arrives ("on-demand").
 */
export type ReceiveMode = boolean | "on-demand";

/** A datagram link; subclasses add the control connection. */
export class DgramLink extends BaseLink implements FdLender {
  readonly kind = "vde" as const;
  readonly socket: UnixDgramSocket;
  readonly #fd: number;
  readonly #recv: RecvCounters = { oversize: 0 };
  readonly #deliver = (frame: Uint8Array) => this.deliver(frame);
  /** Batcher slots of the frames staged this round, in order. */
  #staged: Int32Array | null = null;
  #stagedCount = 0;
  /** Ring of frames waiting for the peer; empty (and unallocated) while it keeps up. */
  #queue: (Uint8Array | undefined)[] | null = null;
  #head = 0;
  #count = 0;
  /** The thread draining the socket, when input is not read on the main thread. */
  #rx: RxThread | null = null;
  /** Set once the fd is lent to a plug thread: it is closed only after this resolves. */
  #lentUntil: Promise<unknown> | null = null;
  /** Set at teardown: resolves once the socket is closed. */
  #released: Promise<void> | null = null;
  /** On demand: when the receive thread reads in our place. */
  #governor: HandoverGovernor | null = null;
  /** `stats.bytesIn` when the governor was last told. */
  #bytesTold = 0;

  /**
   * @param receiveThread drain the socket on a thread of its own (see
   *   dataplane/rx_thread.ts), the main thread then only sends; or
   *   "on-demand" (see above)
   * @param now the clock (ms) of an on-demand link's governor
   */
  constructor(
    socket: UnixDgramSocket,
    description: string,
    receiveThread: ReceiveMode = false,
    now: () => number = () => performance.now(),
  ) {
    super(description);
    this.socket = socket;
    this.#fd = socket.fd;
    if (!receiveThread) {
      poller().add(this.#fd, { onReadable: () => this.#drain(), onWritable: () => this.#flush() });
      return;
    }
    if (receiveThread === "on-demand") {
      this.#onDemand(now);
      return;
    }
    // Input belongs to the receive thread: the poller watches for writability, errors and hang-ups only.
    poller().add(this.#fd, {
      onReadable: (events) => this.#socketEvent(events),
      onWritable: () => this.#flush(),
    }, 0);
    this.#rx = new RxThread(this.#fd, this.#rxSink());
  }

  /** What a receive thread hands this link: frames, oversize datagrams, its socket's failure. */
  #rxSink(): RxSink {
    return {
      frame: this.#deliver,
      oversize: (n) => {
        this.#recv.oversize += n;
        this.stats.dropsIn += n;
      },
      failed: (reason) => this.close(reason),
    };
  }

  /**
   * Reads on this thread, with a receive thread in standby that the
   * governor engages while a stream arrives. While it reads, this thread
   * watches the socket for writability, errors and hang-ups only.
   */
  #onDemand(now: () => number): void {
    const governor = this.#governor = new HandoverGovernor(now);
    poller().add(this.#fd, {
      onReadable: (events) => this.#rx?.direct === false ? this.#socketEvent(events) : this.#drain(),
      onWritable: () => this.#flush(),
    });
    this.#rx = new RxThread(this.#fd, {
      ...this.#rxSink(),
      relayed: () => {
        if (governor.relayed(this.#bytesSinceTold())) this.#rx?.release();
      },
      reclaimed: () => {
        if (!this.isClosed && this.#lentUntil === null) poller().setReadInterest(this.#fd, true);
      },
    }, true);
  }

  /**
   * Bytes received since the governor was last told. Only a stream coming
   * in engages the receive thread (or a late read, see read_handover.ts): a
   * download's acknowledgements, which pile up while this thread sends,
   * are small frames (Debian's switch queues about 270 of them for us), and
   * relayed they cost the receive thread a wake-up per batch: behind
   * Debian's switch, 180-530 ms of its CPU per 3 s download (40% of the
   * slirp's), and none lost to the switch without it (50 MB down, 4 runs).
   */
  #bytesSinceTold(): number {
    const total = this.stats.bytesIn;
    const bytes = total - this.#bytesTold;
    this.#bytesTold = total;
    return bytes;
  }

  /**
   * The owner saw frames lost on their way in (an on-demand link): the
   * receive thread takes streams from now on (see
   * HandoverGovernor.lossSeen).
   */
  upstreamLoss(): void {
    this.#governor?.lossSeen();
  }

  /** Datagrams dropped because they were larger than a frame may be. */
  get oversizeDrops(): number {
    return this.#recv.oversize;
  }

  /** True when a thread of its own drains this link's socket. */
  get hasReceiveThread(): boolean {
    return this.#rx !== null;
  }

  /** False while the receive thread of an on-demand link has not started yet. */
  get receiveThreadRunning(): boolean {
    return this.#rx?.running ?? true;
  }

  /** True while this thread reads the socket itself (always, without a receive thread; on demand, between streams). */
  get readsDirect(): boolean {
    return this.#rx === null || this.#rx.direct;
  }

  /**
   * An error or hang-up on a socket whose input another thread reads. A
   * hang-up means the peer is gone; an error is taken and the socket works
   * on, as a receive treats it (see recvmmsgNow): a pending error is
   * reported once (whichever thread looks first takes it), and a dead peer
   * shows again on sending.
   */
  #socketEvent(events: number): void {
    if ((events & C.EPOLLHUP) !== 0 || takeSocketError(this.#fd) < 0) this.close("peer socket is gone");
  }

  /** Frames waiting for a congested peer. */
  get queued(): number {
    return this.#count;
  }

  /** True while the peer is full and frames wait in the queue. */
  get congested(): boolean {
    return this.#count > 0;
  }

  onDrain: (() => void) | null = null;

  /** Hands the socket to a plug thread (see dataplane/plug_thread.ts). */
  async lendFd(returned: Promise<unknown>): Promise<PlugEnd> {
    const rx = this.#rx;
    // A receive thread that did not answer its stop may still be in a system call on the socket.
    this.#lentUntil = rx === null ? returned : Promise.all([returned, rx.released]);
    poller().remove(this.#fd);
    this.#rx = null;
    await rx?.stop();
    return { fd: this.#fd, kind: "dgram", name: this.description };
  }

  send(frame: Uint8Array): void {
    // A frame no VDE peer accepts is refused here rather than cut by the far side.
    if (this.isClosed || frame.length > VDE_MAX_FRAME || this.#lentUntil !== null) {
      this.stats.dropsOut++;
      return;
    }
    if (this.#count > 0) {
      this.#enqueue(frame);
      return;
    }
    // A frame sent after the round's dispatch (by an after-round hook, such as the slirp's flush of
    // what the round left to send) while frames of the round are still staged joins them: sent at
    // once it overtook them (the guest saw its segments out of order and reported old ones again).
    // Otherwise such a frame leaves at once: staging all of them (a slirp download's frames) left the
    // switch idle until the round's last frame was built, and was slower (README, Threads). Frames
    // staged in dispatch (a download's, sent as the guest's ACKs are read) leave in one sendmmsg per
    // round, about 37 at MTU 1500; flushing every 24 instead, so that Debian's switch starts on a burst
    // while the rest is built, measured as noise (3 alternating pairs, 1,783 [1,725-1,787] Mbit/s
    // against 1,771 [1,696-1,879]; every 16 and 32 no different).
    if (poller().dispatching || this.#stagedCount > 0) {
      this.#stage(frame);
      return;
    }
    this.#sendNow(frame);
  }

  #stage(frame: Uint8Array): void {
    if (batcher === null) {
      batcher = new SendBatcher();
      poller().afterRound(flushStaged);
    }
    if (batcher.free === 0) flushStaged();
    if (this.#staged === null) this.#staged = new Int32Array(OUTPUT_QUEUE_FRAMES);
    // More than a queue's worth to one peer in one round: send what is staged first.
    if (this.#stagedCount === this.#staged.length) this.flushStaged();
    if (this.#stagedCount === 0) dirty.push(this);
    this.#staged[this.#stagedCount++] = batcher.stage(frame);
  }

  /** Sends this link's staged frames with one sendmmsg; what the peer cannot take now is queued. */
  flushStaged(): void {
    const count = this.#stagedCount;
    if (count === 0 || batcher === null) return;
    this.#stagedCount = 0;
    if (this.isClosed) {
      this.stats.dropsOut += count;
      return;
    }
    const staged = this.#staged!;
    const n = batcher.sendmmsg(this.socket.fd, staged, count);
    const sent = n > 0 ? n : 0;
    for (let i = 0; i < sent; i++) {
      this.stats.framesOut++;
      this.stats.bytesOut += batcher.length(staged[i]!);
    }
    if (sent === count) return;
    const err = n < 0 ? -n : C.EAGAIN;
    if (err !== C.EAGAIN && err !== C.ENOBUFS) {
      this.#failed(err);
      this.stats.dropsOut += count - sent - 1;
      return;
    }
    for (let i = sent; i < count; i++) this.#enqueue(batcher.view(staged[i]!));
    poller().setWriteInterest(this.socket.fd, true);
  }

  #sendNow(frame: Uint8Array): void {
    const err = this.socket.send(frame);
    if (err === 0) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
    } else if (err === C.EAGAIN || err === C.ENOBUFS) {
      this.#enqueue(frame);
      poller().setWriteInterest(this.#fd, true);
    } else {
      this.#failed(err);
    }
  }

  #enqueue(frame: Uint8Array): void {
    if (this.#count >= OUTPUT_QUEUE_FRAMES) {
      this.stats.dropsOut++;
      return;
    }
    if (this.#queue === null) this.#queue = new Array(OUTPUT_QUEUE_FRAMES);
    this.#queue[(this.#head + this.#count) % OUTPUT_QUEUE_FRAMES] = frame.slice();
    this.#count++;
  }

  /** Sends queued frames until the peer is full again or the queue is empty. */
  #flush(): void {
    const q = this.#queue;
    while (q !== null && this.#count > 0 && !this.isClosed) {
      const frame = q[this.#head]!;
      const err = this.socket.send(frame);
      if (err === C.EAGAIN || err === C.ENOBUFS) return;
      q[this.#head] = undefined;
      this.#head = (this.#head + 1) % OUTPUT_QUEUE_FRAMES;
      this.#count--;
      if (err !== 0) {
        this.#failed(err);
        return;
      }
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
    }
    if (this.isClosed) return;
    poller().setWriteInterest(this.#fd, false);
    try {
      this.onDrain?.();
    } catch (err) {
      logOnce(`drain:${this.description}`, `drain handler failed on ${this.description}: ${err}`);
    }
  }

  #failed(err: number): void {
    this.stats.dropsOut++;
    logOnce(`send:${this.description}:${err}`, `send to ${this.description} failed: errno ${err}`);
    if (err === C.ECONNREFUSED || err === C.ENOTCONN || err === C.EPERM) this.close("peer socket is gone");
  }

  #drain(): void {
    if (this.isClosed) return;
    const before = this.#recv.oversize;
    const n = this.socket.recvBatch(this.#deliver, this.#recv);
    this.stats.dropsIn += this.#recv.oversize - before;
    if (n < 0) {
      this.close(`receive failed: errno ${-n}`);
      return;
    }
    const governor = this.#governor;
    const rx = this.#rx;
    if (
      governor !== null && governor.direct(this.#bytesSinceTold(), n) && rx?.canEngage &&
      !this.isClosed
    ) {
      // A stream: the receive thread reads from now on; this thread stops first (one reader at a time).
      poller().setReadInterest(this.#fd, false);
      rx.engage();
    }
  }

  protected teardown(): void {
    this.stats.dropsOut += this.#count;
    this.#count = 0;
    this.#queue = null;
    poller().remove(this.#fd);
    // A thread may be inside a system call on this fd: close it only once every thread has let go.
    const holders: Promise<unknown>[] = [];
    if (this.#rx !== null) {
      void this.#rx.stop();
      holders.push(this.#rx.released);
    }
    if (this.#lentUntil !== null) holders.push(this.#lentUntil);
    if (holders.length === 0) {
      this.socket.close();
      this.#released = Promise.resolve();
    } else this.#released = Promise.all(holders).then(() => this.socket.close());
  }

  /** Resolves once the link is closed and no thread of its own uses the socket any more. */
  get released(): Promise<void> {
    return this.#released ?? Promise.reject(new Error(`${this.description} is still open`));
  }
}
