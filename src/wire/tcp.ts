/**
 * TCP segments (RFC 9293): a header of 20 to 60 bytes, options, payload.
 *
 * Theory of operation: two views, as elsewhere in `src/wire`. The field
 * readers (`tcpSrcPort`, `tcpFlags`, ...) read one field of a segment that
 * is already known to be long enough; `parseTcp` checks a hostile segment
 * once, completely (length, data offset, every option's length, the urgent
 * pointer) and fills a reusable {@link TcpRepr}, or answers a reason. It
 * never throws and, given an `out` object, never allocates, because the TCP
 * engine parses every segment the guest sends. `writeTcpHeader` writes a
 * header with options into a caller's buffer (again without allocating),
 * and `setTcpChecksum` fills the checksum over the pseudo-header.
 *
 * Options understood: MSS (kind 2), window scale (3), SACK-permitted (4),
 * SACK blocks (5), timestamps (8). Unknown options are skipped by their
 * length. A window scale above 14 is clamped to 14 (RFC 7323 2.3). SACK
 * blocks are advisory, so a malformed SACK option (a length that is not
 * 2 + 8n) is skipped rather than failing the segment, and at most
 * {@link TCP_MAX_SACK_BLOCKS} blocks are kept; whether a block makes sense
 * (inside the window, not empty) is the connection's business.
 * `writeTcpAckOptions` writes the options of a data or ACK segment
 * (timestamps, SACK blocks) for the engine's hot path.
 */
import { readU32, writeU32 } from "./bytes.ts";
import type { ParseError } from "./parse.ts";
import { finishChecksum, pseudoHeaderSum, sumWords } from "./checksum.ts";

/** IP protocol number of TCP. */
export const IPPROTO_TCP = 6;
/** Length of a TCP header without options. */
export const TCP_HEADER_LEN = 20;
/** Largest TCP header: data offset 15 words. */
export const TCP_MAX_HEADER_LEN = 60;

/** FIN: the sender has no more data. */
export const TCP_FIN = 0x01;
/** SYN: synchronise sequence numbers. */
export const TCP_SYN = 0x02;
/** RST: reset the connection. */
export const TCP_RST = 0x04;
/** PSH: push. */
export const TCP_PSH = 0x08;
/** ACK: the acknowledgment field is significant. */
export const TCP_ACK = 0x10;
/** URG: the urgent pointer is significant. */
export const TCP_URG = 0x20;
/** ECE: ECN echo. */
export const TCP_ECE = 0x40;
/** CWR: congestion window reduced. */
export const TCP_CWR = 0x80;

/** Option kinds. */
export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

/** Largest window scale shift (RFC 7323). */
export const TCP_MAX_WSCALE = 14;
/** SACK blocks one option can hold (40 option bytes). */
export const TCP_MAX_SACK_BLOCKS = 4;

/** A checked TCP segment, as `parseTcp` fills it. Reuse one per parser loop. */
export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  /** Sequence number, unsigned 32-bit. */
  seq: number;
  /** Acknowledgment number, unsigned 32-bit (meaningful with ACK). */
  ack: number;
  /** The flag bits (FIN..CWR), the low 8 bits of byte 13. */
  flags: number;
  /** The window field, unscaled. */
  window: number;
  /** The checksum field as stored. */
  checksum: number;
  /** The urgent pointer (with URG), clamped to the payload when `urgentClamped`. */
  urgent: number;
  /** True when URG pointed past the payload and the pointer was clamped. */
  urgentClamped: boolean;
  /** Header length in bytes (data offset times four). */
  headerLength: number;
  /** Payload length in bytes: the segment's length minus the header. */
  payloadLength: number;
  /** MSS option value, or 0 when absent. */
  mss: number;
  /** Window scale shift, or -1 when absent (clamped to 14). */
  wscale: number;
  /** SACK-permitted option present. */
  sackPermitted: boolean;
  /** Timestamp option present. */
  hasTimestamp: boolean;
  /** TSval when `hasTimestamp`. */
  tsVal: number;
  /** TSecr when `hasTimestamp`. */
  tsEcr: number;
  /** SACK blocks kept (at most {@link TCP_MAX_SACK_BLOCKS}). */
  sackCount: number;
  /** Left and right edges of the SACK blocks: `[left0, right0, left1, right1, ...]`, `sackCount` pairs valid. */
  sackBlocks: number[];
}

/** A fresh, zeroed {@link TcpRepr}, to be reused across `parseTcp` calls. */
export function newTcpRepr(): TcpRepr {
  return {
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    checksum: 0,
    urgent: 0,
    urgentClamped: false,
    headerLength: 0,
    payloadLength: 0,
    mss: 0,
    wscale: -1,
    sackPermitted: false,
    hasTimestamp: false,
    tsVal: 0,
    tsEcr: 0,
    sackCount: 0,
    sackBlocks: new Array<number>(2 * TCP_MAX_SACK_BLOCKS).fill(0),
  };
}

/** What `parseTcp` does with an urgent pointer past the payload. */
export interface TcpParseOptions {
  /**
   * "reject" (default) answers a reason; "clamp" accepts the segment with the
   * pointer clamped to the payload and `urgentClamped` set. A pointer past the
   * data is legal TCP when urgent data follows in a later segment, so a stack
   * that treats urgent data as in-line data clamps.
   */
  urgentPastData?: "reject" | "clamp";
}

/** Reads the source port; the segment must hold at least 20 bytes. */
export function tcpSrcPort(b: Uint8Array, off = 0): number {
  return (b[off]! << 8) | b[off + 1]!;
}
/** Reads the destination port; the segment must hold at least 20 bytes. */
export function tcpDstPort(b: Uint8Array, off = 0): number {
  return (b[off + 2]! << 8) | b[off + 3]!;
}
/** Reads the sequence number as an unsigned 32-bit number. */
export function tcpSeq(b: Uint8Array, off = 0): number {
  return readU32(b, off + 4);
}
/** Reads the acknowledgment number as an unsigned 32-bit number. */
export function tcpAck(b: Uint8Array, off = 0): number {
  return readU32(b, off + 8);
}
/** Reads the header length in bytes (data offset times four), unchecked. */
export function tcpHeaderLength(b: Uint8Array, off = 0): number {
  return (b[off + 12]! >> 4) * 4;
}
/** Reads the flag bits. */
export function tcpFlags(b: Uint8Array, off = 0): number {
  return b[off + 13]!;
}
/** Reads the (unscaled) window field. */
export function tcpWindow(b: Uint8Array, off = 0): number {
  return (b[off + 14]! << 8) | b[off + 15]!;
}

/**
 * Checks a TCP segment completely and fills `out`.
 *
 * @param seg the segment: header, options and payload, exactly (the IP layer cut it to its length)
 * @param out the record to fill
 * @param options what to do with an urgent pointer past the data
 * @returns null once `out` is filled, or the reason the segment is malformed (parse.ts)
 * @example
 * ```ts
 * import { buildTcpSegment, newTcpRepr, parseTcp, TCP_SYN } from "./tcp.ts";
 * const seg = buildTcpSegment({ srcPort: 1, dstPort: 2, seq: 5, flags: TCP_SYN, mss: 1460 });
 * const r = newTcpRepr();
 * if (parseTcp(seg, r) !== null || r.mss !== 1460) throw new Error("not parsed");
 * ```
 */
export function parseTcp(
  seg: Uint8Array,
  out: TcpRepr,
  options?: TcpParseOptions,
): ParseError | null {
  const len = seg.length;
  if (len < TCP_HEADER_LEN) return `TCP segment of ${len} bytes is shorter than the 20-byte header`;
  const hlen = (seg[12]! >> 4) * 4;
  if (hlen < TCP_HEADER_LEN) return `TCP data offset of ${hlen / 4} words is below the minimum of 5`;
  if (hlen > len) return `TCP data offset says ${hlen} header bytes but the segment holds ${len}`;
  out.srcPort = (seg[0]! << 8) | seg[1]!;
  out.dstPort = (seg[2]! << 8) | seg[3]!;
  out.seq = readU32(seg, 4);
  out.ack = readU32(seg, 8);
  out.flags = seg[13]!;
  out.window = (seg[14]! << 8) | seg[15]!;
  out.checksum = (seg[16]! << 8) | seg[17]!;
  out.urgent = (seg[18]! << 8) | seg[19]!;
  out.urgentClamped = false;
  out.headerLength = hlen;
  out.payloadLength = len - hlen;
  out.mss = 0;
  out.wscale = -1;
  out.sackPermitted = false;
  out.hasTimestamp = false;
  out.tsVal = 0;
  out.tsEcr = 0;
  out.sackCount = 0;
  if ((out.flags & TCP_URG) !== 0 && out.urgent > out.payloadLength) {
    if (options?.urgentPastData !== "clamp") {
      return `TCP urgent pointer ${out.urgent} is past the ${out.payloadLength}-byte payload`;
    }
    out.urgent = out.payloadLength;
    out.urgentClamped = true;
  }
  let i = TCP_HEADER_LEN;
  while (i < hlen) {
    const kind = seg[i]!;
    if (kind === TCPOPT_EOL) break;
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= hlen) return `TCP option ${kind} at offset ${i} has no length byte`;
    const olen = seg[i + 1]!;
    if (olen < 2) return `TCP option ${kind} at offset ${i} has length ${olen}, below 2`;
    if (i + olen > hlen) {
      return `TCP option ${kind} at offset ${i} has length ${olen}, past the ${hlen}-byte header`;
    }
    switch (kind) {
      case TCPOPT_MSS:
        if (olen !== 4) return `TCP MSS option has length ${olen}, expected 4`;
        out.mss = (seg[i + 2]! << 8) | seg[i + 3]!;
        break;
      case TCPOPT_WSCALE:
        if (olen !== 3) return `TCP window scale option has length ${olen}, expected 3`;
        out.wscale = Math.min(seg[i + 2]!, TCP_MAX_WSCALE);
        break;
      case TCPOPT_SACK_PERMITTED:
        if (olen !== 2) return `TCP SACK-permitted option has length ${olen}, expected 2`;
        out.sackPermitted = true;
        break;
      case TCPOPT_TIMESTAMP:
        if (olen !== 10) return `TCP timestamp option has length ${olen}, expected 10`;
        out.hasTimestamp = true;
        out.tsVal = readU32(seg, i + 2);
        out.tsEcr = readU32(seg, i + 6);
        break;
      case TCPOPT_SACK:
        if ((olen - 2) % 8 === 0) readSackBlocks(seg, i + 2, (olen - 2) >> 3, out);
        break;
      default:
        // Unknown kinds are skipped by their length.
        break;
    }
    i += olen;
  }
  return null;
}

function readSackBlocks(seg: Uint8Array, at: number, n: number, out: TcpRepr): void {
  const blocks = out.sackBlocks;
  for (let k = 0; k < n && out.sackCount < TCP_MAX_SACK_BLOCKS; k++, at += 8) {
    const j = 2 * out.sackCount++;
    blocks[j] = readU32(seg, at);
    blocks[j + 1] = readU32(seg, at + 4);
  }
}

/** The fields `writeTcpHeader` writes; options are included when present. */
export interface TcpHeaderFields {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  urgent?: number;
  /** MSS option (SYN segments), omitted when 0 or absent. */
  mss?: number;
  /** Window scale option (SYN segments), omitted when negative or absent. */
  wscale?: number;
  /** SACK-permitted option (SYN segments). */
  sackPermitted?: boolean;
  /** Timestamp option values, included when `tsVal` is given. */
  tsVal?: number;
  tsEcr?: number;
}

/** Header length `writeTcpHeader` produces for these option choices. */
export function tcpHeaderLengthFor(
  mss: number,
  wscale: number,
  sackPermitted: boolean,
  timestamps: boolean,
): number {
  let n = TCP_HEADER_LEN;
  if (mss > 0) n += 4;
  if (wscale >= 0) n += 4; // NOP + 3
  if (timestamps) n += 12; // NOP NOP + 10, or SACK-permitted + 10
  else if (sackPermitted) n += 4; // NOP NOP + 2
  return n;
}

/**
 * Writes a TCP header with options at `b[off]`; the checksum field is zeroed.
 * Allocates nothing.
 *
 * @returns the header length, or -1 when the buffer has no room for it
 */
export function writeTcpHeader(b: Uint8Array, off: number, f: TcpHeaderFields): number {
  const mss = f.mss ?? 0;
  const wscale = f.wscale ?? -1;
  const sackOk = f.sackPermitted ?? false;
  const ts = f.tsVal !== undefined;
  const hlen = tcpHeaderLengthFor(mss, wscale, sackOk, ts);
  if (off < 0 || off + hlen > b.length) return -1;
  writeTcpBase(b, off, f.srcPort, f.dstPort, f.seq, f.ack ?? 0, hlen, f.flags, f.window ?? 0);
  b[off + 18] = ((f.urgent ?? 0) >> 8) & 0xff;
  b[off + 19] = (f.urgent ?? 0) & 0xff;
  let i = off + TCP_HEADER_LEN;
  if (mss > 0) {
    b[i] = TCPOPT_MSS;
    b[i + 1] = 4;
    b[i + 2] = (mss >> 8) & 0xff;
    b[i + 3] = mss & 0xff;
    i += 4;
  }
  if (wscale >= 0) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_WSCALE;
    b[i + 2] = 3;
    b[i + 3] = Math.min(wscale, TCP_MAX_WSCALE);
    i += 4;
  }
  if (ts) {
    if (sackOk) {
      b[i] = TCPOPT_SACK_PERMITTED;
      b[i + 1] = 2;
    } else {
      b[i] = TCPOPT_NOP;
      b[i + 1] = TCPOPT_NOP;
    }
    b[i + 2] = TCPOPT_TIMESTAMP;
    b[i + 3] = 10;
    writeU32(b, i + 4, f.tsVal!);
    writeU32(b, i + 8, f.tsEcr ?? 0);
    i += 12;
  } else if (sackOk) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_NOP;
    b[i + 2] = TCPOPT_SACK_PERMITTED;
    b[i + 3] = 2;
    i += 4;
  }
  return hlen;
}

/** Option bytes `writeTcpAckOptions` writes for these choices. */
export function tcpAckOptionsLength(timestamps: boolean, sackBlocks: number): number {
  return (timestamps ? 12 : 0) + (sackBlocks > 0 ? 4 + 8 * sackBlocks : 0);
}

/**
 * Writes the options of a synchronized segment at `b[off]`: the timestamp
 * option (NOP NOP TS) when `timestamps`, then `nBlocks` SACK blocks from
 * `blocks` (`[left, right, ...]`, NOP NOP SACK). The caller keeps the total
 * within 40 bytes (3 blocks with timestamps, 4 without) and guarantees room.
 * Allocates nothing.
 *
 * @returns the bytes written, a multiple of 4
 */
export function writeTcpAckOptions(
  b: Uint8Array,
  off: number,
  timestamps: boolean,
  tsVal: number,
  tsEcr: number,
  blocks: readonly number[],
  nBlocks: number,
): number {
  let i = off;
  if (timestamps) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_NOP;
    b[i + 2] = TCPOPT_TIMESTAMP;
    b[i + 3] = 10;
    writeU32(b, i + 4, tsVal);
    writeU32(b, i + 8, tsEcr);
    i += 12;
  }
  if (nBlocks > 0) {
    b[i] = TCPOPT_NOP;
    b[i + 1] = TCPOPT_NOP;
    b[i + 2] = TCPOPT_SACK;
    b[i + 3] = 2 + 8 * nBlocks;
    i += 4;
    for (let k = 0; k < 2 * nBlocks; k++, i += 4) writeU32(b, i, blocks[k]!);
  }
  return i - off;
}

/**
 * Writes the fixed 20 bytes of a header (checksum and urgent pointer zero)
 * from plain numbers: the engine's hot path. The caller guarantees room.
 */
export function writeTcpBase(
  b: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLength: number,
  flags: number,
  window: number,
): void {
  b[off] = (srcPort >> 8) & 0xff;
  b[off + 1] = srcPort & 0xff;
  b[off + 2] = (dstPort >> 8) & 0xff;
  b[off + 3] = dstPort & 0xff;
  writeU32(b, off + 4, seq);
  writeU32(b, off + 8, ack);
  b[off + 12] = (headerLength >> 2) << 4;
  b[off + 13] = flags & 0xff;
  b[off + 14] = (window >> 8) & 0xff;
  b[off + 15] = window & 0xff;
  b[off + 16] = 0;
  b[off + 17] = 0;
  b[off + 18] = 0;
  b[off + 19] = 0;
}

/**
 * Computes and stores the checksum of `seg` (whose checksum field is
 * overwritten) over the pseudo-header of `src` and `dst`.
 */
export function setTcpChecksum(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
  seg[16] = 0;
  seg[17] = 0;
  const sum = sumWords(seg, 0, seg.length, pseudoHeaderSum(src, dst, IPPROTO_TCP, seg.length));
  const c = finishChecksum(sum);
  seg[16] = c >> 8;
  seg[17] = c & 0xff;
}

/** True when the checksum of `seg` (as stored) is right for `src` and `dst`. */
export function verifyTcpChecksum(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): boolean {
  if (seg.length < TCP_HEADER_LEN) return false;
  const sum = sumWords(seg, 0, seg.length, pseudoHeaderSum(src, dst, IPPROTO_TCP, seg.length));
  return finishChecksum(sum) === 0;
}

/**
 * Builds a whole segment in a new buffer: header, options and payload, with
 * the checksum filled when `src` and `dst` are given. For tests and the
 * control path, not the data path.
 */
export function buildTcpSegment(
  f: TcpHeaderFields,
  payload: Uint8Array = new Uint8Array(0),
  src?: Uint8Array,
  dst?: Uint8Array,
): Uint8Array {
  const hlen = tcpHeaderLengthFor(
    f.mss ?? 0,
    f.wscale ?? -1,
    f.sackPermitted ?? false,
    f.tsVal !== undefined,
  );
  const seg = new Uint8Array(hlen + payload.length);
  writeTcpHeader(seg, 0, f);
  seg.set(payload, hlen);
  if (src !== undefined && dst !== undefined) setTcpChecksum(src, dst, seg);
  return seg;
}

/** Short text for a flag set, e.g. "SYN|ACK", for logs and test messages. */
export function formatTcpFlags(flags: number): string {
  const names = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) if ((flags & (1 << i)) !== 0) parts.push(names[i]!);
  return parts.length === 0 ? "none" : parts.join("|");
}
