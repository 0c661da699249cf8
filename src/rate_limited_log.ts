/**
 * A log that a flood cannot flood: at most `limit` lines per interval, then
 * one line counting what it held back. For lines a stranger can cause at
 * will, once per connection (a cable listener's refused handshakes, a
 * switch's refused ctl requests): the first few say why, the count says
 * how many more, and neither the log nor the disk behind it grows with the
 * attacker's patience.
 *
 * Theory of operation. The first line held back in an interval sets one
 * timer for the interval's end, which says the count then: a flood that
 * stops is still counted, at once, not at the next refusal (days later, and
 * then as if in the last interval). The timer is unref'd (it keeps no
 * process alive) and `close` says what is held back and clears it; after
 * `close` no timer is set. State is three numbers and one timer, whatever
 * the flood.
 */

/** Logs at most `limit` lines per `intervalMs`, then one line counting what it held back. */
export class RateLimitedLog {
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** `what`: what the held-back lines were about, for the line counting them. */
  constructor(
    readonly log: (message: string) => void,
    readonly limit = 10,
    readonly intervalMs = 10_000,
    readonly what = "refused connection(s)",
  ) {}

  /** Logs `message` unless the interval's budget is spent. */
  line(message: string): void {
    const now = Date.now();
    if (now - this.#windowStart >= this.intervalMs) {
      this.#flush();
      this.#windowStart = now;
      this.#lines = 0;
    }
    if (this.#lines < this.limit) {
      this.#lines++;
      this.log(message);
      return;
    }
    if (this.#suppressed++ > 0 || this.#closed) return;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#windowStart + this.intervalMs - now);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Says what is held back now and sets no more timers (the owner is closing). */
  close(): void {
    this.#closed = true;
    this.#flush();
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#suppressed === 0) return;
    this.log(
      `${this.#suppressed} more ${this.what} not logged in the last ${this.intervalMs / 1000} s`,
    );
    this.#suppressed = 0;
  }
}
