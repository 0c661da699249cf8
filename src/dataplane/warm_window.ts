/**
 * The keep-warm window the switch and plug threads share: for
 * `keepWarmMs` (keep_warm.ts) after traffic, the thread's blocking wait
 * times out after KEEP_WARM_WAIT_MS instead of its idle wait, and the empty
 * turn that follows runs the thread's own wait, clock and bookkeeping again,
 * so the next frame of a sparse flow finds V8's code and data warm (each
 * thread's module says what a cold wake-up cost it). Each short wait is
 * counted in a word of the thread's shared block, which its owner reads
 * (`warmWaits`): an idle thread stops counting, and that is what the tests
 * pin, never a time. Past the window the wait is the thread's own again,
 * so an idle thread pays nothing.
 *
 * The two differ only in where they wait and what counts as traffic;
 * the choice is made here, with no branch a thread's warm-up might never
 * take (a path V8 compiled without type feedback is thrown away the first
 * time a real frame takes it). The slirp thread keeps no such window:
 * tried, it made connections through a forward no faster and each one
 * cost more CPU (README, "Not yet here").
 */

/** The short wait while warm, in ms (epoll's unit). */
export const KEEP_WARM_WAIT_MS = 1;

/** One thread's window and its count of short waits. */
export class WarmWindow {
  /** When traffic was last seen; a double from the start (a field that changes kind costs optimized code). */
  #last = -Infinity;
  readonly #ms: number;
  readonly #count: Int32Array;
  readonly #at: number;

  /**
   * @param ms the window after traffic (0: never keep warm)
   * @param count the shared block's words; `at` is the one that counts short waits
   */
  constructor(ms: number, count: Int32Array, at: number) {
    this.#ms = ms;
    this.#count = count;
    this.#at = at;
  }

  /** Traffic came at `now` when `seen`; nothing changes otherwise (a choice, not a branch). */
  saw(now: number, seen: boolean): void {
    this.#last = seen ? now : this.#last;
  }

  /**
   * The timeout of a wait at `now`: 0 when `busy` (work is known), else
   * `idleMs` (negative: none), cut to KEEP_WARM_WAIT_MS and counted while
   * the window is open.
   */
  timeout(now: number, idleMs: number, busy: boolean): number {
    const warm = !busy && now - this.#last < this.#ms;
    this.#count[this.#at]! += warm ? 1 : 0;
    const cut = warm && (idleMs < 0 || idleMs > KEEP_WARM_WAIT_MS);
    return busy ? 0 : cut ? KEEP_WARM_WAIT_MS : idleMs;
  }

  /** Forgets the traffic seen and the count so far (a warm-up's throwaway frames are no traffic). */
  reset(): void {
    this.#last = -Infinity;
    Atomics.store(this.#count, this.#at, 0);
  }
}
