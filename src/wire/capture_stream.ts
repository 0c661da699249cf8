/**
 * The capture socket's protocol (`vde capture` talking to `vde switch`).
 *
 * The client sends one request line of JSON (`CaptureRequest`), then only
 * reads. The switch answers with a stream of records, each a 20-byte
 * big-endian header (type u8, direction u8, port u16, payload length u32,
 * original length u32, value f64) and its payload:
 * - PORT: a port's first appearance in this capture; payload: its client's
 *   description (UTF-8);
 * - FRAME: a frame (cut to the snap length) crossing `port` in `direction`;
 *   original length: the frame's; value: microseconds since the epoch;
 * - DROPS: value: frames of `port` this capture lost so far to a slow reader;
 * - ERROR: the request was refused; payload: why (one line). The switch then closes.
 * - ACCEPTED: the request was taken, sent first (the client then starts its
 *   file: a refused capture leaves one it names untouched). A client that
 *   knows no ACCEPTED skips it, as any record type it does not know.
 * - NOTICE: something the user should know about a capture that goes on
 *   (the VLAN asked for does not exist yet); payload: one line.
 * The decoder treats the switch's bytes as hostile like any other input:
 * a record longer than the largest frame ends the stream.
 */

/** What a capture client asks for. */
export interface CaptureRequest {
  ports: number[];
  vlan: number | null;
  snaplen: number;
  /** A `tcpdump -ddd` listing, or null. */
  filter: string | null;
}

export const RECORD_PORT = 1;
export const RECORD_FRAME = 2;
export const RECORD_DROPS = 3;
export const RECORD_ERROR = 4;
export const RECORD_ACCEPTED = 5;
export const RECORD_NOTICE = 6;

export const RECORD_HEADER = 20;
/** Longest payload a decoder accepts: a VDE jumbo frame with room to spare. */
export const MAX_RECORD_PAYLOAD = 65536;

/** One decoded record; `payload` is a view into the decoder's buffer, valid until the next push. */
export interface CaptureRecord {
  type: number;
  direction: number;
  port: number;
  originalLength: number;
  value: number;
  payload: Uint8Array;
}

/** Builds a record (payload copied in). */
export function encodeRecord(
  type: number,
  direction: number,
  port: number,
  originalLength: number,
  value: number,
  payload: Uint8Array,
): Uint8Array {
  const bytes = new Uint8Array(RECORD_HEADER + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint8(1, direction);
  view.setUint16(2, port);
  view.setUint32(4, payload.length);
  view.setUint32(8, originalLength);
  view.setFloat64(12, value);
  bytes.set(payload, RECORD_HEADER);
  return bytes;
}

/** Splits the switch's byte stream into records. */
export class CaptureDecoder {
  #buf = new Uint8Array(0);

  /**
   * Adds bytes and returns the complete records.
   *
   * @throws Error if a record claims a payload over MAX_RECORD_PAYLOAD
   */
  push(bytes: Uint8Array): CaptureRecord[] {
    const joined = new Uint8Array(this.#buf.length + bytes.length);
    joined.set(this.#buf);
    joined.set(bytes, this.#buf.length);
    const view = new DataView(joined.buffer);
    const out: CaptureRecord[] = [];
    let at = 0;
    while (joined.length - at >= RECORD_HEADER) {
      const length = view.getUint32(at + 4);
      if (length > MAX_RECORD_PAYLOAD) throw new Error(`capture record of ${length} bytes: not a vde switch`);
      if (joined.length - at < RECORD_HEADER + length) break;
      out.push({
        type: view.getUint8(at),
        direction: view.getUint8(at + 1),
        port: view.getUint16(at + 2),
        originalLength: view.getUint32(at + 8),
        value: view.getFloat64(at + 12),
        payload: joined.subarray(at + RECORD_HEADER, at + RECORD_HEADER + length),
      });
      at += RECORD_HEADER + length;
    }
    this.#buf = joined.slice(at);
    return out;
  }
}
