/**
 * Splits a byte stream from a console client into command lines, with a
 * cap on line length so a client that never sends a newline costs at most
 * `maxLine` bytes. An overlong line is discarded up to its newline and
 * reported once, as one `overlong` item, so the client still gets an
 * answer for it.
 */

/** One item out of the splitter. */
export type SplitItem = { line: string } | { overlong: true };

/** Incremental line splitter with a length cap. */
export class LineSplitter {
  readonly maxLine: number;
  #buf: Uint8Array;
  #len = 0;
  #discarding = false;
  readonly #decoder = new TextDecoder();

  constructor(maxLine: number) {
    this.maxLine = maxLine;
    this.#buf = new Uint8Array(maxLine);
  }

  /** True while the bytes of an overlong line are being dropped. */
  get discarding(): boolean {
    return this.#discarding;
  }

  /** True when bytes of an unfinished line are held (or being dropped). */
  get hasPartial(): boolean {
    return this.#len > 0 || this.#discarding;
  }

  /**
   * Ends the unfinished line as if its newline had come: vdeterm sends each
   * command without one, relying on vde_switch taking every read as a
   * command, so a pause after a partial line finishes it.
   */
  flush(): SplitItem[] {
    if (this.#discarding) {
      this.#discarding = false;
      this.#len = 0;
      return [{ overlong: true }];
    }
    if (this.#len === 0) return [];
    const line = this.#decoder.decode(this.#buf.subarray(0, this.#len));
    this.#len = 0;
    return [{ line }];
  }

  /** Feeds bytes; returns the lines (without their newline) they completed. */
  push(chunk: Uint8Array): SplitItem[] {
    const items: SplitItem[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      this.#append(chunk.subarray(start, end));
      if (nl < 0) break;
      if (this.#discarding) {
        items.push({ overlong: true });
        this.#discarding = false;
      } else {
        items.push({ line: this.#decoder.decode(this.#buf.subarray(0, this.#len)) });
      }
      this.#len = 0;
      start = nl + 1;
    }
    return items;
  }

  #append(bytes: Uint8Array): void {
    if (this.#discarding) return;
    if (this.#len + bytes.length > this.maxLine) {
      this.#discarding = true;
      this.#len = 0;
      return;
    }
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }
}
