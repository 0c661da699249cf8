/**
 * Who reads a datagram socket that two threads can read: the thread whose
 * link it is (the owner: the slirp thread) or the owner's receive thread
 * (rx_worker.ts), never both, and never out of order.
 *
 * Theory of operation. The owner reads the socket itself by default: the
 * socket sits in its own epoll set and each frame costs one wake-up, as in
 * libslirp's loop. While a stream flows (see HandoverGovernor) the
 * receive thread reads it instead, copying frames into the ring as they
 * come, so a sender that drops on a full queue (Debian's vde_switch) finds
 * ours empty while the owner is busy with a round. One Int32 word in
 * shared memory says who reads:
 *
 * - DIRECT: the owner. It reads with EPOLLIN in its own set; the receive
 *   thread does not watch the socket.
 * - RELAY: the receive thread. The owner took EPOLLIN out of its set
 *   before it stored RELAY (`engage`), and wakes the receive thread, which
 *   adds the socket to its set. Frames the owner read before were
 *   delivered before `engage`; those read after go through the ring, behind
 *   them.
 * - RETURNING: the owner asked for the socket back (`release`, a
 *   compare-and-exchange from RELAY) and woke the receive thread. That
 *   thread stops reading at its next look (between two `recvmmsg`s, never
 *   inside one), takes the socket out of its set, publishes what it read,
 *   stores DIRECT (`rxReturn`) and wakes the owner. The owner keeps
 *   delivering from the ring meanwhile.
 *
 * The owner reads directly again (`reclaim`) only once it has seen DIRECT
 * and then found the ring empty: the receive thread stored its ring's
 * write counter before DIRECT (both sequentially consistent), so the owner
 * that sees DIRECT sees every frame published before it, delivers them,
 * and only then reads the socket. No frame is read by two threads, and none
 * overtakes another. The owner keeps its own view (`mode`): only it moves
 * the word out of DIRECT and into RETURNING, only the receive thread out of
 * RETURNING. A second word says the receive thread runs (`rxStarted`): a
 * Worker takes a while to start, and the owner does not hand the socket to
 * a thread that cannot read it yet.
 */

/** The owner reads the socket. */
const DIRECT = 0;
/** The receive thread reads the socket. */
const RELAY = 1;
/** The owner asked for the socket back; the receive thread has not let go yet. */
const RETURNING = 2;
/** Index of the word that says who reads, and of the one that says the receive thread runs. */
const WHO = 0;
const STARTED = 1;

/** The owner's view of the socket. */
export type HandoverMode = "direct" | "relayed" | "returning";

/** The shared word, seen by either thread; each thread makes its own instance over the same buffer. */
export class ReadHandover {
  readonly sab: SharedArrayBuffer;
  readonly #word: Int32Array;
  #mode: HandoverMode = "direct";

  private constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.#word = new Int32Array(sab, 0, 2);
  }

  /** A new word, DIRECT: the owner reads (the owner's side). */
  static create(): ReadHandover {
    return new ReadHandover(new SharedArrayBuffer(8));
  }

  /** The word another thread created (the receive thread's side). */
  static attach(sab: SharedArrayBuffer): ReadHandover {
    return new ReadHandover(sab);
  }

  // ---- owner side ----

  /** Owner: what it may do with the socket (read it only when "direct"). */
  get mode(): HandoverMode {
    return this.#mode;
  }

  /**
   * Owner: true when it may hand the socket over (it reads it, and the
   * receive thread runs).
   */
  get canEngage(): boolean {
    return this.#mode === "direct" && this.rxRunning;
  }

  /** True once the receive thread runs (see `rxStarted`). */
  get rxRunning(): boolean {
    return Atomics.load(this.#word, STARTED) !== 0;
  }

  /**
   * Owner, having taken the socket out of its own epoll set (after
   * `canEngage` said yes): the receive thread reads from now on (wake it).
   * False when it may not (nothing changes).
   */
  engage(): boolean {
    if (!this.canEngage) return false;
    this.#mode = "relayed";
    Atomics.store(this.#word, WHO, RELAY);
    return true;
  }

  /**
   * Owner: asks the receive thread to let go of the socket (wake it). False
   * when it was not reading for the owner (nothing changes).
   */
  release(): boolean {
    if (this.#mode !== "relayed") return false;
    this.#mode = "returning";
    Atomics.compareExchange(this.#word, WHO, RELAY, RETURNING);
    return true;
  }

  /**
   * Owner, after delivering what the ring held: true when the socket is its
   * own again (it may put it back in its epoll set). `ringEmpty` is asked
   * only after the receive thread was seen to let go, so it covers every
   * frame that thread read.
   */
  reclaim(ringEmpty: () => boolean): boolean {
    if (this.#mode !== "returning" || Atomics.load(this.#word, WHO) !== DIRECT || !ringEmpty()) return false;
    this.#mode = "direct";
    return true;
  }

  // ---- receive thread side ----

  /** Receive thread: true while it is to read the socket (keep it in its set, go on reading). */
  get rxReads(): boolean {
    return Atomics.load(this.#word, WHO) === RELAY;
  }

  /**
   * Receive thread, having stopped reading, taken the socket out of its set
   * and published what it read: gives the socket back if the owner asked.
   * True when it did (then wake the owner).
   */
  rxReturn(): boolean {
    return Atomics.compareExchange(this.#word, WHO, RETURNING, DIRECT) === RETURNING;
  }

  /** Receive thread: it runs, and will see a wake-up. */
  rxStarted(): void {
    Atomics.store(this.#word, STARTED, 1);
  }
}

/** Length of the governor's rate window. */
const WINDOW_MS = 10;
/**
 * Bytes per ms into the socket above which the receive thread reads it:
 * 100 Mbit/s. Below it a late owner leaves fewer than about 90 full-size
 * frames (what Debian's switch holds for us) waiting after 10 ms. Only
 * what comes in counts: a download's acknowledgements are small frames,
 * of which the switch holds about 270 for us, and relaying them cost a
 * wake-up of the receive thread per batch (about 40% of the slirp's CPU in
 * a download behind Debian's switch); a late read still engages it (see
 * LATE_FRAMES).
 */
const BULK_BYTES_PER_MS = 12_500;
/** Bytes within one window that mark a stream before the window ends: half a millisecond at 1 Gbit/s. */
const EARLY_BYTES = 64 * 1024;
/**
 * Bytes one read of the owner may find waiting before the receive thread
 * takes over: 5 full-size frames (32 acknowledgements are 2-3 KB).
 */
const LATE_BYTES = 6 * 1024;
/**
 * Frames one read may find waiting before the receive thread takes over,
 * whatever their size: the owner is late, and Debian's switch holds only
 * about 270 small frames for us. A download's acknowledgements (one for
 * every two or three segments) that the owner reads between its rounds
 * stay below it, so they are not relayed (see BULK_BYTES_PER_MS).
 */
const LATE_FRAMES = 80;
/**
 * How long the receive thread keeps reading after the last sign of a
 * stream: beyond a TCP retransmission timeout (200 ms at least in Linux),
 * so a stream that pauses to recover from a loss finds it still reading.
 */
const HOLD_MS = 250;

/**
 * When the receive thread reads in the owner's place: while a stream
 * comes in. The owner reports each read it makes itself (`direct`: true
 * means engage the receive thread) and each batch the ring delivers
 * (`relayed`: true means ask for the socket back), with the bytes received
 * since its last report. Signs of a stream: a read that found
 * LATE_FRAMES or LATE_BYTES (a backlog: the owner is late), EARLY_BYTES
 * within a window, or a window of WINDOW_MS whose bytes pass
 * BULK_BYTES_PER_MS. The socket goes back HOLD_MS after the last sign, so
 * a stream's short pauses do not bounce it. Pure logic on the owner's
 * clock (ms).
 *
 * No stream is relayed until the owner is told of a loss on the way in
 * (`lossSeen`): the TCP window the slirp offers on a short path is a few
 * frames below what the switch queues for it (tcp/tcb.ts), so one flow
 * cannot overflow that queue however late the owner reads, and the
 * owner's nap between rounds batches the frames where the receive thread
 * paid a wake-up, a copy into the ring and a wake-up of the owner for
 * every frame or two. Behind Debian's switch, iperf3 guest->host at MTU
 * 1500: the receive thread took 1.6-3.1 ms of CPU per MB (350-690
 * wake-ups per MB), the slirp process 7.5-10.4 ms per MB in all; read by
 * the owner, 3.0-4.2 ms per MB in all (5 alternating rounds on a shared
 * machine), and the switch's count of frames sent to our port matched
 * ours (none lost). At MTU 65520 behind our switch,
 * the slirp process took 1.7-2.8 ms of CPU per MB with the relay and
 * 0.9-1.8 without (6 alternating pairs). A sender that drops what a late
 * reader leaves queued (Debian's switch, with more than one flow or other
 * traffic) shows as a segment out of order, after which streams are
 * relayed as the signs above say.
 */
export class HandoverGovernor {
  readonly #now: () => number;
  #windowStart: number;
  #bytes = 0;
  #lastBulk = -Infinity;
  /** Frames were lost on their way in: streams are relayed from now on. */
  #lossy = false;

  constructor(now: () => number) {
    this.#now = now;
    this.#windowStart = now();
  }

  /** After the owner read `frames` itself in one go; `bytes` received since its last report. True: engage. */
  direct(bytes: number, frames: number): boolean {
    if (!this.#lossy) return false;
    const now = this.#now();
    if (frames < LATE_FRAMES && bytes < LATE_BYTES && !this.#bulkWindow(bytes, now)) return false;
    this.#lastBulk = now;
    return true;
  }

  /**
   * Frames were lost between the sender and the socket (the owner's TCP
   * saw a segment out of order): from now on streams are relayed, since
   * the sender drops what a late reader leaves queued.
   */
  lossSeen(): void {
    this.#lossy = true;
  }

  /** After the ring delivered a batch; `bytes` received since the last report. True: ask for the socket back. */
  relayed(bytes: number): boolean {
    const now = this.#now();
    if (this.#bulkWindow(bytes, now)) this.#lastBulk = now;
    return now - this.#lastBulk > HOLD_MS;
  }

  /** Counts `bytes` into the window; true when the window shows a stream. */
  #bulkWindow(bytes: number, now: number): boolean {
    this.#bytes += bytes;
    const elapsed = now - this.#windowStart;
    if (elapsed < WINDOW_MS) {
      // A stream that fills a whole window's worth early need not wait for the window's end.
      if (this.#bytes < EARLY_BYTES) return false;
      this.#restart(now);
      return true;
    }
    // Judged by its rate only: EARLY_BYTES spread over a window long past (a stream's tail, a pause, then
    // a few frames) are no stream, and held the socket another HOLD_MS.
    const bulk = this.#bytes >= BULK_BYTES_PER_MS * elapsed;
    this.#restart(now);
    return bulk;
  }

  #restart(now: number): void {
    this.#bytes = 0;
    this.#windowStart = now;
  }
}
