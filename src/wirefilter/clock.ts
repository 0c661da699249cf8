/**
 * Time for wirefilter: a clock that says what time it is and runs one
 * callback later. The filter keeps at most one timer pending (its queues
 * are time-ordered and drained by that timer), so the interface is tiny,
 * and a fake clock makes every test of delays, bandwidth and Markov
 * transitions deterministic and instant.
 */

/** A pending timer, to cancel it. */
export type TimerId = unknown;

/** Time in milliseconds and one-shot timers. */
export interface Clock {
  /** Milliseconds since some fixed origin (fractional). */
  now(): number;
  /** Runs `fn` once, `ms` milliseconds from now (at once for 0 or less). */
  setTimer(ms: number, fn: () => void): TimerId;
  /** Cancels a pending timer; unknown or fired ids are ignored. */
  clearTimer(id: TimerId): void;
}

/** The real clock: performance.now() and setTimeout. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, Math.max(0, ms)),
  clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * FakeClock is a Clock that moves only when told to: `advance(ms)` runs
 * every timer that falls due, in time order, each seeing `now()` equal to
 * its own due time.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * const clock = new FakeClock();
 * let fired = 0;
 * clock.setTimer(10, () => fired++);
 * clock.advance(9);
 * console.assert(fired === 0);
 * clock.advance(1);
 * console.assert(fired === 1);
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  #timers: FakeTimer[] = [];

  constructor(start = 0) {
    this.#now = start;
  }

  /** Implements Clock.now. */
  now(): number {
    return this.#now;
  }

  /** Implements Clock.setTimer. */
  setTimer(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    this.#timers.push({ id, at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Implements Clock.clearTimer. */
  clearTimer(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing due timers in order (ties in creation order). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let due: FakeTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= end && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id))) {
          due = t;
        }
      }
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
    }
    this.#now = end;
  }

  /** Moves time to the absolute `at` (never backwards). */
  advanceTo(at: number): void {
    if (at > this.#now) this.advance(at - this.#now);
  }
}
