/**
 * The output side of flow control (link.ts's `congested` and `onDrain`) for a link that queues bytes to
 * write, up to a bound: a stream link, a cable connection.
 *
 * The link reads as congested while more than a quarter of its bound waits, so a source that can wait
 * (a stream, a TCP stack) holds back long before anything would drop, and whoever found it so is called
 * back (`onDrain`) once a write takes what waits below that mark again. Only a source that asked is owed
 * the call: a link nobody found congested calls nothing as it writes.
 */
import type { Link } from "./link.ts";

/** When a link that queues up to a bound of bytes is congested, and the `onDrain` it then owes. */
export class DrainMark {
  /** Bytes waiting at and above which the link is congested. */
  readonly #mark: number;
  /** Set when someone found the link congested: the next take below the mark calls `onDrain`. */
  #backedUp = false;
  readonly #link: Pick<Link, "onDrain">;
  /** What a throwing `onDrain` comes to: the source's own failure, never the link's. */
  readonly #failed: (err: unknown) => void;

  constructor(maxBytes: number, link: Pick<Link, "onDrain">, failed: (err: unknown) => void) {
    this.#mark = maxBytes / 4;
    this.#link = link;
    this.#failed = failed;
  }

  /** Whether `waiting` bytes make the link congested; a source told so is owed an `onDrain`. */
  congested(waiting: number): boolean {
    if (waiting < this.#mark) return false;
    this.#backedUp = true;
    return true;
  }

  /** A write took bytes out, `waiting` left: calls the `onDrain` owed, once below the mark. */
  tookOut(waiting: number): void {
    if (!this.#backedUp || waiting >= this.#mark) return;
    this.#backedUp = false;
    try {
      this.#link.onDrain?.();
    } catch (err) {
      this.#failed(err);
    }
  }
}
