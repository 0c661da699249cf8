/**
 * A log that a flood cannot flood: at most `limit` lines per interval, then
 * one line counting what it held back. For lines a stranger can cause at
 * will, once per connection (a cable listener's refused handshakes, a
 * switch's refused ctl requests): the first few say why, the count says
 * how many more, and neither the log nor the disk behind it grows with the
 * attacker's patience.
 */

/** Logs at most `limit` lines per `intervalMs`, then one line counting what it held back. */
export class RateLimitedLog {
  #windowStart = 0;
  #lines = 0;
  #suppressed = 0;

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
      if (this.#suppressed > 0) {
        this.log(
          `${this.#suppressed} more ${this.what} not logged in the last ${this.intervalMs / 1000} s`,
        );
      }
      this.#windowStart = now;
      this.#lines = 0;
      this.#suppressed = 0;
    }
    if (this.#lines < this.limit) {
      this.#lines++;
      this.log(message);
    } else {
      this.#suppressed++;
    }
  }
}
