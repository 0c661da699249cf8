/**
 * The queue of outgoing bytes for one console client (a management socket
 * connection, or stdout). Writes are async, so a client that does not read
 * never blocks the event loop, and with it the data plane. The queue itself
 * has no limit: its owner watches `pending` and stops producing (or drops
 * lines) when it grows, which is what keeps memory bounded.
 *
 * A write can take part of what it was given and the next one fail (a disk
 * that fills): `whole` counts the bytes of the pushes written entire, so a
 * file's owner can cut it back to its last whole record (pcap readers refuse a
 * file that ends mid-record).
 */

/** Where the bytes go: a Deno.Conn, Deno.stdout, ... */
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}

const encoder = new TextEncoder();
/** Largest single write: batches small replies without holding big buffers. */
const WRITE_CHUNK = 64 * 1024;

/** Per-client queue of outgoing bytes, written in order by one pump. */
export class OutputQueue {
  readonly #conn: Writer;
  readonly #chunks: Uint8Array[] = [];
  #pending = 0;
  #pumping = false;
  #failed = false;
  #waiters: (() => void)[] = [];
  #whole = 0;
  /** The length of each push joined into the chunk being written, reused: no allocation per push. */
  readonly #pieces: number[] = [];
  readonly #onError: (err: unknown) => void;

  /** `onError` is told once, with the write's error, when a write fails: the queue then takes nothing more. */
  constructor(conn: Writer, onError: (err: unknown) => void) {
    this.#conn = conn;
    this.#onError = onError;
  }

  /** Bytes queued but not yet accepted by the socket. */
  get pending(): number {
    return this.#pending;
  }

  /** Bytes of the pushes written entire: at a failed write, where the last whole one ends. */
  get whole(): number {
    return this.#whole;
  }

  /** Queues text; never blocks. */
  push(text: string): void {
    if (text !== "") this.pushBytes(encoder.encode(text));
  }

  /** Queues bytes, which the queue now owns; never blocks. */
  pushBytes(bytes: Uint8Array): void {
    if (this.#failed || bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.#pending += bytes.length;
    if (!this.#pumping) this.#pump();
  }

  /** Resolves once at most `limit` bytes are unsent (or the client failed). */
  below(limit: number): Promise<void> {
    if (this.#pending <= limit || this.#failed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.#pending <= limit || this.#failed) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#chunks.length > 0) {
        const chunk = this.#take();
        let off = 0, piece = 0, end = this.#pieces[0]!;
        while (off < chunk.length) {
          off += await this.#conn.write(chunk.subarray(off));
          while (piece < this.#pieces.length && end <= off) {
            this.#whole += this.#pieces[piece]!;
            end += this.#pieces[++piece] ?? 0;
          }
        }
        this.#pending -= chunk.length;
        this.#wake();
      }
    } catch (err) {
      this.#failed = true;
      this.#chunks.length = 0;
      this.#pending = 0;
      this.#wake();
      this.#onError(err);
    } finally {
      this.#pumping = false;
    }
  }

  // Joins small queued chunks into one write of at most WRITE_CHUNK bytes.
  #take(): Uint8Array {
    const first = this.#chunks.shift()!;
    this.#pieces.length = 0;
    this.#pieces.push(first.length);
    if (first.length >= WRITE_CHUNK || this.#chunks.length === 0) return first;
    let size = first.length;
    let count = 0;
    while (count < this.#chunks.length && size + this.#chunks[count]!.length <= WRITE_CHUNK) {
      size += this.#chunks[count]!.length;
      count++;
    }
    if (count === 0) return first;
    const out = new Uint8Array(size);
    out.set(first);
    let at = first.length;
    for (const c of this.#chunks.splice(0, count)) {
      this.#pieces.push(c.length);
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
