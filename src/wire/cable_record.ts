/**
 * Sealed records of an encrypted TCP cable, as bytes.
 *
 * After the handshake each direction is a sequence of records:
 *
 * ```
 * type u8 | length u24 (big-endian) | ciphertext[length]
 * ```
 *
 * The ciphertext is AES-256-GCM over the body with the 16-byte tag at its
 * end; the 4-byte header is the additional authenticated data, so neither
 * the type nor the length can be changed unseen. The nonce is not sent: it
 * is the record's number in its direction (src/cable/crypto.ts), so a
 * replayed, dropped or reordered record fails to open.
 *
 * A frames record's body is frames in VDE's stream framing (2-byte length,
 * frame), as many as one write carried. Echo records (both ends offered
 * them in the handshake) carry 8 bytes one end sends and the other returns,
 * to measure the round-trip time. The decoder here only cuts the byte
 * stream into records; it never allocates per record except to reassemble
 * one split across reads, into a single buffer of the largest size allowed.
 */
import type { ParseError } from "./parse.ts";

/** Bytes of a record header. */
export const RECORD_HEADER_SIZE = 4;
/** Bytes of the AES-GCM tag at the end of every ciphertext. */
export const TAG_SIZE = 16;
/** Largest body a sender puts in one record. */
export const MAX_RECORD_BODY = 256 * 1024;
/** Largest ciphertext a receiver accepts. */
export const MAX_RECORD_CIPHERTEXT = MAX_RECORD_BODY + TAG_SIZE;

/** Record types. */
export const RecordType = {
  /** Frames in stream framing. */
  frames: 1,
  /** The listener's accept message (first record from the listener). */
  accept: 2,
  /** Nothing; sent when idle so a dead path is noticed. */
  keepalive: 3,
  /** ECHO_BODY_SIZE bytes the peer sends back as an echoReply (only when both offered CableFlag.echo). */
  echoRequest: 4,
  /** The body of an echoRequest, returned. */
  echoReply: 5,
} as const;

/** Bytes of an echo body: a sequence number (u32) and 4 reserved bytes. */
export const ECHO_BODY_SIZE = 8;

/** Writes a record header for `type` and a ciphertext of `length` bytes into `out` at `at`. */
export function writeRecordHeader(out: Uint8Array, at: number, type: number, length: number): void {
  if (length < TAG_SIZE || length > 0xffffff) throw new RangeError(`record length ${length}`);
  out[at] = type;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
}

/** Called once per complete record with views valid only during the call. */
export type RecordHandler = (header: Uint8Array, type: number, ciphertext: Uint8Array) => void;

/**
 * RecordDecoder cuts a byte stream into records, whatever the chunking. A
 * length below a tag or above `maxCiphertext` is an error: the stream cannot
 * be trusted after it, so the decoder stops and reports it once.
 *
 * @example
 * ```ts
 * import { RecordDecoder } from "./cable_record.ts";
 * const dec = new RecordDecoder((_h, type, ct) => console.log(type, ct.length));
 * dec.push(new Uint8Array([1, 0, 0, 16]));
 * dec.push(new Uint8Array(16)); // logs 1 16
 * ```
 */
export class RecordDecoder {
  /** Records handed out. */
  records = 0;
  /** Why the stream was refused, once it was; nothing is decoded after that. */
  error: string | null = null;
  readonly #onRecord: RecordHandler;
  readonly #max: number;
  readonly #header = new Uint8Array(RECORD_HEADER_SIZE);
  #headerFill = 0;
  #buf: Uint8Array | null = null;
  #need = -1;
  #fill = 0;

  constructor(onRecord: RecordHandler, maxCiphertext = MAX_RECORD_CIPHERTEXT) {
    this.#onRecord = onRecord;
    this.#max = maxCiphertext;
  }

  /** Bytes held from earlier chunks. */
  get buffered(): number {
    return this.#headerFill + (this.#need >= 0 ? this.#fill : 0);
  }

  /**
   * Feeds one chunk; calls the handler once per complete record.
   *
   * @returns false once the stream has been refused (see `error`)
   */
  push(chunk: Uint8Array): boolean {
    if (this.error !== null) return false;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#need >= 0) {
        // Reassembling a record split across chunks.
        const take = Math.min(this.#need - this.#fill, n - i);
        this.#buf!.set(chunk.subarray(i, i + take), this.#fill);
        this.#fill += take;
        i += take;
        if (this.#fill === this.#need) {
          const len = this.#need;
          this.#need = -1;
          this.#fill = 0;
          this.#emit(this.#header, this.#buf!.subarray(0, len));
        }
        continue;
      }
      let header: Uint8Array;
      if (this.#headerFill > 0 || n - i < RECORD_HEADER_SIZE) {
        const take = Math.min(RECORD_HEADER_SIZE - this.#headerFill, n - i);
        this.#header.set(chunk.subarray(i, i + take), this.#headerFill);
        this.#headerFill += take;
        i += take;
        if (this.#headerFill < RECORD_HEADER_SIZE) return true;
        this.#headerFill = 0;
        header = this.#header;
      } else {
        header = chunk.subarray(i, i + RECORD_HEADER_SIZE);
        i += RECORD_HEADER_SIZE;
      }
      const len = (header[1]! << 16) | (header[2]! << 8) | header[3]!;
      if (len < TAG_SIZE || len > this.#max) {
        this.error = `record length ${len} outside ${TAG_SIZE}..${this.#max}`;
        return false;
      }
      if (n - i >= len) {
        this.#emit(header, chunk.subarray(i, i + len));
        i += len;
      } else {
        if (header !== this.#header) this.#header.set(header);
        this.#buf ??= new Uint8Array(this.#max);
        this.#need = len;
        this.#fill = 0;
      }
    }
    return true;
  }

  #emit(header: Uint8Array, ciphertext: Uint8Array): void {
    this.records++;
    this.#onRecord(header, header[0]!, ciphertext);
  }
}

/**
 * Splits a frames record's body into frames. Every length must be 1..`maxFrame`
 * and the frames must fill the body exactly.
 *
 * @returns null when all frames were handed out, else why the body is malformed
 */
export function forEachFrame(
  body: Uint8Array,
  maxFrame: number,
  onFrame: (frame: Uint8Array) => void,
): ParseError | null {
  const r = framesFrom(body, 0, maxFrame, onFrame);
  return typeof r === "number" ? null : r;
}

/**
 * `forEachFrame` from byte `from` of the body on (where an earlier call
 * stopped), stopping after a frame when `holds` says so: a receiver whose
 * peer is full goes on later from the offset returned.
 *
 * @returns the offset to go on from (the body's length once all were handed
 *   out), or why the body is malformed
 */
export function framesFrom(
  body: Uint8Array,
  from: number,
  maxFrame: number,
  onFrame: (frame: Uint8Array) => void,
  holds?: () => boolean,
): number | ParseError {
  let i = from;
  const n = body.length;
  while (i < n) {
    if (n - i < 2) return "a frame header is cut short";
    const len = (body[i]! << 8) | body[i + 1]!;
    i += 2;
    if (len === 0 || len > maxFrame) return `frame length ${len} outside 1..${maxFrame}`;
    if (n - i < len) return "a frame is cut short";
    onFrame(body.subarray(i, i + len));
    i += len;
    if (holds?.() === true) return i;
  }
  return i;
}
