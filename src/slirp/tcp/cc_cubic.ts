/**
 * CUBIC congestion avoidance (RFC 9438) for the slirp TCP sender: pure
 * arithmetic on the sender's window, in bytes, on the caller's clock
 * (milliseconds). No I/O, no timers: the sender calls it on each ACK that
 * grows the window outside recovery and on each congestion event.
 *
 * Theory of operation. After a congestion event the window is cut to
 * beta (0.7) of what the network held, and `wMax`, the size at which the
 * loss happened, is remembered. Growth then follows a cubic of the time
 * since the epoch began, W(t) = C (t - K)^3 + wMax, which rises fast while
 * far below wMax, flattens around it (the last place losses started), and
 * probes beyond it ever faster. Each ACK moves the window a fraction of the
 * way to W(t + RTT), at most 1.5x per RTT. Alongside, `wEst` follows what
 * Reno would reach with the same decrease (alpha = 3(1 - beta)/(1 + beta)
 * segments per RTT, 1 once past wMax) and wins where the cubic is slower:
 * on short RTTs, like the few hundred microseconds between slirp and its
 * guest, CUBIC grows as Reno does while its decrease keeps more of the
 * window. Fast convergence: a loss below the previous wMax lowers wMax
 * further, so a newcomer gets room. A reduction can be undone (a spurious
 * recovery or timeout): the state before it comes back.
 *
 * The basis of a reduction is the flight (the bytes the network held), not
 * the window: a sender limited by the peer's window or by the application
 * may carry a window far larger than anything the path ever took.
 */

/** Multiplicative decrease: the window keeps this fraction of the flight at a loss. */
export const CUBIC_BETA = 0.7;
/** The cubic's scale, segments per second cubed. */
export const CUBIC_C = 0.4;
/** Reno-friendly additive increase, segments per RTT, while below wMax (RFC 9438 4.3). */
const ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** CUBIC's state for one connection. */
export class Cubic {
  /** Segment size in bytes: the cubic counts in segments. */
  mss: number;
  /** The window at the last congestion event, bytes (0: none yet). */
  wMax = 0;
  /** Start of the current avoidance epoch in ms, or -1 until the next avoidance ACK starts one. */
  #epoch = -1;
  /** Seconds from the epoch's start until W(t) reaches wMax again. */
  #k = 0;
  /** The Reno-friendly estimate, bytes. */
  #wEst = 0;
  /** Fractions of a byte of growth not yet added. */
  #frac = 0;
  /** When `avoid` last ran, ms. */
  #lastAck = 0;
  // What `reduce` found, for `undo`.
  #undoWMax = 0;
  #undoEpoch = -1;
  #undoK = 0;
  #undoWEst = 0;

  /** @param mss the sender's segment size, bytes */
  constructor(mss: number) {
    this.mss = mss;
  }

  /**
   * Congestion avoidance: the window after `acked` bytes were newly
   * acknowledged at `now` (ms), given the smoothed RTT `rttMs`.
   *
   * @example
   * ```ts
   * import { Cubic } from "./cc_cubic.ts";
   * const cc = new Cubic(1000);
   * let cwnd = cc.reduce(100_000); // a loss at 100 segments: 70 left
   * cwnd = cc.avoid(cwnd, 1000, 0, 10);
   * console.assert(cwnd > 70_000 && cwnd < 71_000);
   * ```
   */
  avoid(cwnd: number, acked: number, now: number, rttMs: number): number {
    const mss = this.mss;
    // A pause in the ACKs (nothing to send, or the peer's window) is not time spent probing: the
    // curve resumes where it stood, as Linux shifts its epoch, instead of leaping ahead.
    const gap = now - this.#lastAck;
    this.#lastAck = now;
    if (this.#epoch >= 0 && gap > Math.max(2 * rttMs, 1)) this.#epoch += gap;
    if (this.#epoch < 0) {
      this.#epoch = now;
      if (this.wMax > cwnd) {
        this.#k = Math.cbrt((this.wMax - cwnd) / mss / CUBIC_C);
      } else {
        // No loss yet, or the window already passed it: probe from here.
        this.#k = 0;
        this.wMax = cwnd;
      }
      this.#wEst = cwnd;
    }
    const t = (now - this.#epoch + Math.max(0, rttMs)) / 1000 - this.#k;
    const cubic = this.wMax + CUBIC_C * t * t * t * mss;
    this.#wEst += ((this.#wEst >= this.wMax ? 1 : ALPHA) * mss * acked) / cwnd;
    let target: number;
    if (this.#wEst > cubic) {
      target = this.#wEst;
    } else {
      target = Math.min(cubic, 1.5 * cwnd);
    }
    if (target <= cwnd) return cwnd;
    this.#frac += ((target - cwnd) * acked) / cwnd;
    const grow = Math.floor(this.#frac);
    this.#frac -= grow;
    // Never past the target in one ACK (a large ACK after a stall).
    return Math.min(cwnd + grow, Math.max(cwnd, Math.floor(target)));
  }

  /**
   * A congestion event (a fast retransmit, or a retransmission timeout):
   * remembers where it happened and returns the new slow-start threshold,
   * beta of `flight` (at least two segments). A loss in slow start
   * (`slowStart`) ends a round that doubled the window: the path held
   * about half the flight, and that half is both the threshold and wMax
   * (0.7 of the overshoot would keep losing, retransmissions too).
   */
  reduce(flight: number, slowStart = false): number {
    this.#undoWMax = this.wMax;
    this.#undoEpoch = this.#epoch;
    this.#undoK = this.#k;
    this.#undoWEst = this.#wEst;
    const mss = this.mss;
    this.#epoch = -1;
    this.#frac = 0;
    if (slowStart) {
      this.wMax = Math.max(Math.floor(flight / 2), 2 * mss);
      return this.wMax;
    }
    // Fast convergence (RFC 9438 4.7): a second loss below the first gives way.
    this.wMax = flight < this.wMax ? (flight * (1 + CUBIC_BETA)) / 2 : flight;
    return Math.max(Math.floor(flight * CUBIC_BETA), 2 * mss);
  }

  /** The last reduction was spurious: back to the state before it. */
  undo(): void {
    this.wMax = this.#undoWMax;
    this.#epoch = this.#undoEpoch;
    this.#k = this.#undoK;
    this.#wEst = this.#undoWEst;
  }
}
