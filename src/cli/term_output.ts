/**
 * A scripted `vde term`'s stdout: replies and the switch's event lines
 * (after `debug/add`) in the order they came, each written whole, so an
 * event never splits a reply's lines.
 *
 * Events come as fast as the switch makes them (`debug/add hash/+` on a busy
 * LAN) and the socket is read whatever stdout's reader does: a reader that
 * stalls (a logger blocked on its socket) would have them pile up here
 * without bound. So past `maxEventBacklog` bytes not yet written, event
 * lines are dropped and counted, and once stdout catches up one line on
 * stderr says how many, as a switch drops events for a console that does
 * not read. Replies are never dropped: the script waits for them.
 */
import type { Writer } from "../console/output_queue.ts";

/** Bytes not yet written past which event lines are dropped. */
export const MAX_EVENT_BACKLOG = 1 << 20;

const encoder = new TextEncoder();

/** Ordered writes of replies and event lines to one writer. */
export class TermOutput {
  #chain: Promise<void> = Promise.resolve();
  #backlog = 0;
  #dropped = 0;

  constructor(
    private readonly out: Writer,
    private readonly warn: (line: string) => void,
    private readonly maxEventBacklog = MAX_EVENT_BACKLOG,
  ) {}

  /** Writes `text` after everything before it; rejects once the writer failed. */
  write(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    this.#backlog += bytes.length;
    this.#chain = this.#chain.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.out.write(bytes.subarray(off));
    }).finally(() => {
      this.#backlog -= bytes.length;
    });
    return this.#chain;
  }

  /** Writes an event line as `write` does, or drops and counts it while the backlog is over its bound. */
  event(line: string): void {
    if (this.#backlog >= this.maxEventBacklog) {
      this.#dropped++;
      return;
    }
    this.#sayDropped();
    this.write(`${line}\n`).catch(() => {/* stdout is gone: the next reply's write says so */});
  }

  /** Resolves once everything is written, and says how many event lines were dropped, if any. */
  async flush(): Promise<void> {
    await this.write("");
    this.#sayDropped();
  }

  #sayDropped(): void {
    if (this.#dropped === 0) return;
    this.warn(`${this.#dropped} event line${this.#dropped === 1 ? "" : "s"} dropped: stdout did not keep up`);
    this.#dropped = 0;
  }
}
