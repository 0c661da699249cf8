/**
 * A Link over a pair of byte streams, framed with VDE's 2-byte length prefix.
 *
 * Theory of operation:
 * - Output: `send()` appends the frame to a pending encoder and, if no write
 *   is running, schedules one on a microtask. So every frame sent in the same
 *   turn (a drain pass of a switch, a batch from the peer link) leaves in one
 *   write. While a write is in flight further frames accumulate in the other
 *   encoder and go in the next write: two buffers, swapped per write.
 * - The pending encoder is bounded (`maxPendingBytes`, 4 MiB by default).
 *   A peer that stops reading makes sends drop and count in `dropsOut`;
 *   memory never grows past the two buffers.
 * - Input: one read loop feeds a StreamDecoder, which calls `deliver()` once
 *   per frame. Oversize length fields are counted in `dropsIn` and logged once.
 * - Flow control: a stream can always wait (stop reading and its writer
 *   blocks), so it never makes a full peer drop. While the link its frames
 *   go to (`feeds`: the switch's socket in `vde plug`, a switch thread's
 *   ring) reads as congested, decoding stops after the frame that found it
 *   full and nothing more is read; the rest of the chunk is kept and
 *   decoded on the peer's `onDrain`. Nothing is allocated while the peer
 *   keeps up. As a peer itself this link is congested while more than a
 *   quarter of its bound waits to be written, and calls `onDrain` once that
 *   is being written, so a stream feeding a stream waits too.
 *   Bytes read before any frame handler is set are held (one read's worth;
 *   the rest waits in the stream) until one is, not decoded into frames
 *   nobody receives: `vde plug` opens its second link while the first is
 *   already reading. The end of the stream is noticed meanwhile as long as
 *   no bytes are held.
 * - End: EOF or an error on either stream calls `streamEnded(reason)`, which
 *   closes the link; a subclass may override it to find a better reason
 *   (cmd:// waits for the child's exit status).
 *
 * Sources and sinks are either web streams or Deno.FsFile-like objects
 * (`read(p)` / `write(p)`). A write to an FsFile-like sink is complete when
 * its promise resolves, so the buffer is reused as is; a web stream may keep
 * the chunk it was given (an in-memory TransformStream hands it to the
 * reader), so each batch is copied before it is written there.
 */
import { BaseLink, CongestionWatch, discard, type FlowPeer, type LinkKind, logOnce } from "./link.ts";
import { MAX_FRAME_IN, StreamDecoder, StreamEncoder } from "../wire/stream_framing.ts";
import { DrainMark } from "./drain_mark.ts";

/** Something read like Deno.FsFile: fills `p`, returns the count or null at EOF. */
export interface ByteReader {
  read(p: Uint8Array): Promise<number | null>;
}

/** Something written like Deno.FsFile: writes a prefix of `p`, returns its length. */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** Where a stream link reads bytes from. */
export type ByteSource = ReadableStream<Uint8Array> | ByteReader;

/** Where a stream link writes bytes to. */
export type ByteSink = WritableStream<Uint8Array> | ByteWriter;

/** Default bound of the bytes waiting to be written. */
export const DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024;

/** Reason given when the peer ends its stream. */
export const PEER_CLOSED = "peer closed the stream";

/** Options of a StreamLink. */
export interface StreamLinkOptions {
  /** Bound of the encoded bytes waiting for the next write. */
  maxPendingBytes?: number;
  /** Largest length field accepted on input (default 9236). */
  maxFrameIn?: number;
  /** Size of the read buffer. */
  readBufferSize?: number;
  /** Releases FsFile-like source and sink when the link closes (web streams are cancelled here). */
  release?: () => void;
}

/** StreamLink is a Link over a byte source and a byte sink using VDE's stream framing. */
export class StreamLink extends BaseLink {
  readonly kind: LinkKind = "stream";
  #pending: StreamEncoder;
  #spare: StreamEncoder;
  #writing = false;
  readonly #decoder: StreamDecoder;
  readonly #write: (bytes: Uint8Array) => Promise<void>;
  readonly #stopWriting: () => void;
  #stopReading: () => void = () => {};
  readonly #release: (() => void) | undefined;
  /** Where this link's frames go, when it can say it is full. */
  readonly #out = new CongestionWatch(() => this.#wake());
  /** Wakes the read loop waiting for the peer to drain (or the link to close). */
  #wakeReader: (() => void) | null = null;
  /** When this link reads as congested to whoever feeds it; its next write below the mark calls `onDrain`. */
  readonly #drain: DrainMark;
  onDrain: (() => void) | null = null;

  constructor(description: string, source: ByteSource, sink: ByteSink, options: StreamLinkOptions = {}) {
    super(description);
    const maxBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.#drain = new DrainMark(maxBytes, this, (err) => {
      logOnce(`drain:${this.description}`, `drain handler failed on ${this.description}: ${err}`);
    });
    this.#pending = new StreamEncoder({ maxBytes, initialCapacity: 64 * 1024 });
    this.#spare = new StreamEncoder({ maxBytes, initialCapacity: 64 * 1024 });
    this.#release = options.release;
    this.#decoder = new StreamDecoder((frame) => this.deliver(frame), {
      maxFrame: options.maxFrameIn ?? MAX_FRAME_IN,
      holds: () => this.#out.congested,
      onOversize: (length) => {
        this.stats.dropsIn++;
        logOnce(
          `oversize:${description}`,
          `${description}: frame length ${length} above ${this.#decoder.maxFrame}, stream resynchronised`,
        );
      },
    });
    if (sink instanceof WritableStream) {
      const writer = sink.getWriter();
      this.#write = (bytes) => writer.write(bytes.slice());
      this.#stopWriting = () => {
        writer.close().catch(() => {});
      };
    } else {
      this.#write = async (bytes) => {
        let off = 0;
        while (off < bytes.length) off += await sink.write(bytes.subarray(off));
      };
      this.#stopWriting = () => {};
    }
    const size = options.readBufferSize ?? 64 * 1024;
    const reading = source instanceof ReadableStream
      ? this.#readStream(source, size)
      : this.#readFile(source, size);
    reading.then(
      () => this.#ended(PEER_CLOSED),
      (err) => this.#ended(`read failed: ${errorText(err)}`),
    );
  }

  /** Encoded bytes waiting for the next write (bounded by maxPendingBytes). */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** True while more than a quarter of the bound waits to be written: a source that can wait should. */
  get congested(): boolean {
    return this.#drain.congested(this.#pending.length);
  }

  /** Stops decoding and reading while `peer` is congested, until its `onDrain` (null: nobody to wait for). */
  feeds(peer: FlowPeer | null): void {
    this.#out.set(peer);
    if (!this.#out.congested) this.#wake();
  }

  /** Queues one frame; drops and counts it when closed, invalid or over the bound. Implements Link.send. */
  send(frame: Uint8Array): void {
    if (this.isClosed) {
      this.stats.dropsOut++;
      return;
    }
    const result = this.#pending.append(frame);
    if (result !== "ok") {
      this.stats.dropsOut++;
      if (result === "invalid") {
        logOnce(
          `invalid-out:${this.description}`,
          `${this.description}: dropped a ${frame.length}-byte frame`,
        );
      }
      return;
    }
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /**
   * Called once the stream ended on its own (EOF, read or write error).
   * The default closes the link with `reason`.
   */
  protected streamEnded(reason: string): void {
    this.close(reason);
  }

  protected teardown(): void {
    this.#out.set(null);
    this.#wake();
    this.stats.dropsOut += this.#pending.frames;
    this.#pending.reset();
    this.#stopReading();
    this.#stopWriting();
    this.#release?.();
  }

  #ended(reason: string): void {
    if (!this.isClosed) this.streamEnded(reason);
  }

  async #flush(): Promise<void> {
    try {
      while (!this.isClosed && this.#pending.length > 0) {
        const batch = this.#pending;
        this.#pending = this.#spare;
        this.#spare = batch;
        // What waited is being written: a source told it was congested may fill the empty buffer again.
        this.#drain.tookOut(this.#pending.length);
        await this.#write(batch.bytes);
        this.stats.framesOut += batch.frames;
        this.stats.bytesOut += batch.frameBytes;
        batch.reset();
      }
    } catch (err) {
      this.#ended(isBrokenPipe(err) ? PEER_CLOSED : `write failed: ${errorText(err)}`);
    } finally {
      this.#writing = false;
    }
  }

  #wake(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
  }

  /**
   * Decodes `chunk`, waiting whenever the peer is full for it to drain;
   * false when the link closed meanwhile. Nothing read is lost, and nothing
   * is allocated unless the peer is full.
   */
  async #decode(chunk: Uint8Array): Promise<boolean> {
    // Asked before the first frame too: a peer that would drop it (a cable not yet connected) holds it back.
    if (this.#out.congested && !(await this.#roomAhead())) return false;
    let used = this.#decoder.push(chunk);
    while (used < chunk.length) {
      chunk = chunk.subarray(used);
      if (!(await this.#roomAhead())) return false;
      used = this.#decoder.push(chunk);
    }
    return !this.#out.congested || await this.#roomAhead();
  }

  /** Waits while the peer reads as congested; false when the link closed meanwhile. */
  async #roomAhead(): Promise<boolean> {
    while (!this.isClosed && this.#out.congested) {
      await new Promise<void>((wake) => this.#wakeReader = wake);
    }
    return !this.isClosed;
  }

  /**
   * Before bytes are decoded: waits, holding the one chunk read, until a
   * frame handler is set. False when the link closed meanwhile.
   */
  async #heldUntilListening(): Promise<boolean> {
    await this.whenAttached();
    return !this.isClosed;
  }

  async #readStream(stream: ReadableStream<Uint8Array>, size: number): Promise<void> {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = stream.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: fall back to the default reader below.
    }
    if (byob !== undefined) {
      const reader = byob;
      this.#stopReading = () => void reader.cancel().catch(() => {});
      // A BYOB read transfers the buffer and hands it back: one buffer for the whole life of the link.
      let buf = new ArrayBuffer(size);
      while (!this.isClosed) {
        const { value, done } = await reader.read(new Uint8Array(buf));
        if (done || value === undefined || this.isClosed) return;
        if (this.onFrame === discard && !(await this.#heldUntilListening())) return;
        if (!(await this.#decode(value))) return;
        buf = value.buffer as ArrayBuffer;
      }
      return;
    }
    const reader = stream.getReader();
    this.#stopReading = () => void reader.cancel().catch(() => {});
    while (!this.isClosed) {
      const { value, done } = await reader.read();
      if (done || this.isClosed) return;
      if (this.onFrame === discard && !(await this.#heldUntilListening())) return;
      if (!(await this.#decode(value))) return;
    }
  }

  async #readFile(file: ByteReader, size: number): Promise<void> {
    const buf = new Uint8Array(size);
    while (!this.isClosed) {
      const n = await file.read(buf);
      if (n === null || this.isClosed) return;
      if (this.onFrame === discard && !(await this.#heldUntilListening())) return;
      if (!(await this.#decode(buf.subarray(0, n)))) return;
    }
  }
}

function isBrokenPipe(err: unknown): boolean {
  return err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
