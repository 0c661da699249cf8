/**
 * VDE's stream framing: each frame travels as a 2-byte big-endian length L
 * followed by L bytes of Ethernet frame, nothing else (spec §2). vde_plug's
 * stdin/stdout, dpipe cables, ssh cables and cmd:// all speak it.
 *
 * Theory of operation:
 * - The encoder appends frames into one growable buffer, so a caller writes
 *   a whole batch with a single write (one write per frame is ~20x slower).
 *   The buffer is bounded: past `maxBytes` frames are refused, not queued.
 * - The decoder is incremental: `push(chunk)` may carry many frames, part of
 *   a frame, or part of a header. A frame wholly inside a chunk is handed out
 *   as a view of the chunk; only a frame split across chunks is copied, into
 *   one reassembly buffer of the largest accepted size. Memory is bounded by
 *   that buffer whatever the peer sends.
 * - A length above the limit means the stream lost sync. Like libvdestream,
 *   the decoder counts it, discards the rest of the chunk and expects the
 *   next chunk to begin with a header. Unlike libvdestream it reassembles a
 *   header split across chunks instead of dropping its first byte.
 * - A reader whose frames go somewhere that can be full (a switch's socket)
 *   gives `holds`: asked after each frame, true stops the push there, and
 *   `push` returns the bytes it used; the caller pushes the rest of the
 *   chunk once there is room, and reads nothing more meanwhile, so the
 *   writer of the stream waits instead of frames being dropped.
 */

/** Bytes of the length prefix. */
export const HEADER_SIZE = 2;

/** Largest frame ever encoded: vdeplug4's 9216-byte MTU + 14 header + 4 VLAN tag. */
export const MAX_FRAME_OUT = 9234;

/** Largest length field the decoder accepts by default, as vdeplug4's libvdestream does. */
export const MAX_FRAME_IN = 9236;

/** Default bound of an encoder's buffer. */
export const DEFAULT_MAX_ENCODED_BYTES = 4 * 1024 * 1024;

/** Outcome of `StreamEncoder.append`: `invalid` is empty or too long, `full` is the buffer bound. */
export type AppendResult = "ok" | "invalid" | "full";

/** Options of a StreamEncoder. */
export interface StreamEncoderOptions {
  /** Initial buffer size in bytes; it grows by doubling. */
  initialCapacity?: number;
  /** Bound of the encoded bytes held; frames that would pass it are refused. */
  maxBytes?: number;
}

/**
 * StreamEncoder collects length-prefixed frames into one reusable buffer.
 *
 * @example
 * ```ts
 * import { StreamEncoder } from "./stream_framing.ts";
 * const enc = new StreamEncoder();
 * enc.append(new Uint8Array(60));
 * enc.append(new Uint8Array(1514));
 * // one write carries both: await file.write(enc.bytes); enc.reset();
 * ```
 */
export class StreamEncoder {
  /** Bound of the encoded bytes held. */
  readonly maxBytes: number;
  /** Frames refused because they were empty or longer than MAX_FRAME_OUT. */
  invalid = 0;
  #buf: Uint8Array;
  #length = 0;
  #frames = 0;
  #frameBytes = 0;

  constructor(options: StreamEncoderOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_ENCODED_BYTES;
    const initial = Math.min(options.initialCapacity ?? 64 * 1024, this.maxBytes);
    this.#buf = new Uint8Array(Math.max(initial, HEADER_SIZE + 1));
  }

  /** Encoded bytes held, headers included. */
  get length(): number {
    return this.#length;
  }

  /** Frames held. */
  get frames(): number {
    return this.#frames;
  }

  /** Frame bytes held, headers excluded. */
  get frameBytes(): number {
    return this.#frameBytes;
  }

  /** The encoded bytes: a view valid until the next append or reset. */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }

  /** Appends one frame with its length prefix; copies it, never keeps the view. */
  append(frame: Uint8Array): AppendResult {
    const n = frame.length;
    if (n === 0 || n > MAX_FRAME_OUT) {
      this.invalid++;
      return "invalid";
    }
    const end = this.#length + HEADER_SIZE + n;
    if (end > this.maxBytes) return "full";
    if (end > this.#buf.length) this.#grow(end);
    const buf = this.#buf;
    buf[this.#length] = n >>> 8;
    buf[this.#length + 1] = n & 0xff;
    buf.set(frame, this.#length + HEADER_SIZE);
    this.#length = end;
    this.#frames++;
    this.#frameBytes += n;
    return "ok";
  }

  /** Empties the buffer, keeping its capacity for the next batch. */
  reset(): void {
    this.#length = 0;
    this.#frames = 0;
    this.#frameBytes = 0;
  }

  #grow(needed: number): void {
    let size = this.#buf.length;
    while (size < needed) size *= 2;
    const next = new Uint8Array(Math.min(size, this.maxBytes));
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }
}

/** Options of a StreamDecoder. */
export interface StreamDecoderOptions {
  /** Largest length field accepted; larger ones are errors. Default MAX_FRAME_IN. */
  maxFrame?: number;
  /** Told the length of each refused oversize frame, e.g. to log it. */
  onOversize?: (length: number) => void;
  /** Asked after each frame: true stops the push after it (see `push`). */
  holds?: () => boolean;
}

/**
 * StreamDecoder turns a byte stream back into frames, whatever the chunking.
 * It never throws: oversize lengths and a throwing callback are counted.
 *
 * @example
 * ```ts
 * import { StreamDecoder } from "./stream_framing.ts";
 * const dec = new StreamDecoder((frame) => console.log(frame.length));
 * dec.push(new Uint8Array([0, 3, 1]));
 * dec.push(new Uint8Array([2, 3])); // logs 3
 * ```
 */
export class StreamDecoder {
  /** Largest length field accepted. */
  readonly maxFrame: number;
  /** Frames handed to the callback. */
  frames = 0;
  /** Zero length fields skipped. */
  empty = 0;
  /** Oversize length fields, each followed by a resync. */
  oversize = 0;
  /** Calls of the callback that threw. */
  callbackErrors = 0;
  readonly #onFrame: (frame: Uint8Array) => void;
  readonly #onOversize: ((length: number) => void) | undefined;
  readonly #holds: (() => boolean) | undefined;
  readonly #reassembly: Uint8Array;
  /** First header byte when a chunk ended after it, else -1. */
  #headerByte = -1;
  /** Length of the frame being reassembled, or 0 when expecting a header. */
  #need = 0;
  #fill = 0;

  /** `onFrame` gets a view valid only during the call. */
  constructor(onFrame: (frame: Uint8Array) => void, options: StreamDecoderOptions = {}) {
    this.#onFrame = onFrame;
    this.#onOversize = options.onOversize;
    this.#holds = options.holds;
    this.maxFrame = Math.min(Math.max(options.maxFrame ?? MAX_FRAME_IN, 1), 0xffff);
    this.#reassembly = new Uint8Array(this.maxFrame);
  }

  /** Bytes held from earlier chunks (a partial header or frame). */
  get buffered(): number {
    return this.#headerByte >= 0 ? 1 : this.#fill;
  }

  /** Forgets any partial frame, e.g. after the stream restarts. */
  reset(): void {
    this.#headerByte = -1;
    this.#need = 0;
    this.#fill = 0;
  }

  /**
   * Feeds one chunk of the stream; calls the callback once per complete
   * frame. Stops after a frame when `holds` says so.
   *
   * @returns the bytes of `chunk` used: all of them, unless `holds` stopped
   *   the push (push the rest later, before anything read after it)
   */
  push(chunk: Uint8Array): number {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#need > 0) {
        const take = Math.min(this.#need - this.#fill, n - i);
        this.#reassembly.set(chunk.subarray(i, i + take), this.#fill);
        this.#fill += take;
        i += take;
        if (this.#fill === this.#need) {
          const len = this.#need;
          this.#need = 0;
          this.#fill = 0;
          this.#emit(this.#reassembly.subarray(0, len));
          if (this.#holds?.() === true) return i;
        }
        continue;
      }
      let len: number;
      if (this.#headerByte >= 0) {
        len = (this.#headerByte << 8) | chunk[i]!;
        this.#headerByte = -1;
        i += 1;
      } else if (n - i >= HEADER_SIZE) {
        len = (chunk[i]! << 8) | chunk[i + 1]!;
        i += HEADER_SIZE;
      } else {
        this.#headerByte = chunk[i]!;
        return n;
      }
      if (len === 0) {
        this.empty++;
      } else if (len > this.maxFrame) {
        this.oversize++;
        this.reset();
        try {
          this.#onOversize?.(len);
        } catch {
          this.callbackErrors++;
        }
        return n;
      } else if (n - i >= len) {
        this.#emit(chunk.subarray(i, i + len));
        i += len;
        if (this.#holds?.() === true) return i;
      } else {
        this.#need = len;
      }
    }
    return n;
  }

  #emit(frame: Uint8Array): void {
    this.frames++;
    try {
      this.#onFrame(frame);
    } catch {
      this.callbackErrors++;
    }
  }
}
