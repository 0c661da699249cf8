/**
 * TFTP packets (RFC 1350) with option negotiation (RFC 2347): the read and
 * write requests a client sends, the ACK and ERROR it answers with, and the
 * DATA, OACK and ERROR a server sends. Options (blksize RFC 2348, timeout
 * and tsize RFC 2349) are name/value strings; names are case-insensitive.
 *
 * Every request is hostile: strings must be NUL-terminated inside the
 * packet, at most `MAX_OPTIONS` options are read, and a malformed packet is
 * a reason under the one parse contract (parse.ts), never an exception.
 */
import { fail, type Parsed, parsed } from "./parse.ts";

/** TFTP's well-known server port. */
export const TFTP_PORT = 69;
/** Opcodes (RFC 1350 section 5, RFC 2347). */
export const TFTP_OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;
/** Error codes (RFC 1350 appendix, RFC 2347). */
export const TFTP_ERR = {
  UNDEFINED: 0,
  NOT_FOUND: 1,
  ACCESS: 2,
  DISK_FULL: 3,
  ILLEGAL_OP: 4,
  UNKNOWN_TID: 5,
  EXISTS: 6,
  NO_USER: 7,
  OPTION: 8,
} as const;
/** The block size without negotiation. */
export const TFTP_DEFAULT_BLKSIZE = 512;
/** Limits of the blksize option (RFC 2348). */
export const TFTP_MIN_BLKSIZE = 8;
export const TFTP_MAX_BLKSIZE = 65464;
/** Header of DATA: opcode and block number. */
export const TFTP_DATA_HLEN = 4;
/** Options read from one request at most. */
const MAX_OPTIONS = 16;

/** A read or write request. */
export interface TftpRequest {
  op: typeof TFTP_OP.RRQ | typeof TFTP_OP.WRQ;
  filename: string;
  /** Lower-cased ("octet", "netascii", "mail"). */
  mode: string;
  /** Option names lower-cased, values as sent, in order. */
  options: Map<string, string>;
}

/** A packet a client sends after its request. */
export type TftpClientPacket =
  | { op: typeof TFTP_OP.ACK; block: number }
  | { op: typeof TFTP_OP.ERROR; code: number; message: string };

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Reads the NUL-terminated string at `b[at]` inside `[at, end)`; null when it has no NUL. */
function cstring(b: Uint8Array, at: number, end: number): [string, number] | null {
  for (let i = at; i < end; i++) {
    if (b[i] === 0) return [decoder.decode(b.subarray(at, i)), i + 1];
  }
  return null;
}

/**
 * Parses a read or write request at `b[off, off+len)`.
 *
 * @returns the request, or why it is not one
 * @example
 * ```ts
 * import { parseTftpRequest } from "./tftp.ts";
 * const rrq = new TextEncoder().encode("\0\x01boot.ipxe\0octet\0blksize\x001428\0");
 * const r = parseTftpRequest(rrq, 0, rrq.length);
 * if (!r.ok || r.value.options.get("blksize") !== "1428") throw new Error("not parsed");
 * ```
 */
export function parseTftpRequest(b: Uint8Array, off: number, len: number): Parsed<TftpRequest> {
  if (len < 4 || off + len > b.length) return fail("shorter than a TFTP request");
  const op = (b[off]! << 8) | b[off + 1]!;
  if (op !== TFTP_OP.RRQ && op !== TFTP_OP.WRQ) return fail(`opcode ${op} is not a request`);
  const end = off + len;
  const name = cstring(b, off + 2, end);
  if (name === null) return fail("file name is not NUL-terminated");
  const mode = cstring(b, name[1], end);
  if (mode === null) return fail("mode is not NUL-terminated");
  const options = new Map<string, string>();
  let at = mode[1];
  while (at < end && options.size < MAX_OPTIONS) {
    const k = cstring(b, at, end);
    if (k === null) break;
    const v = cstring(b, k[1], end);
    if (v === null) return fail(`option ${k[0]} has no NUL-terminated value`);
    options.set(k[0].toLowerCase(), v[0]);
    at = v[1];
  }
  return parsed({ op, filename: name[0], mode: mode[0].toLowerCase(), options });
}

/**
 * Parses what a client sends during a transfer (ACK or ERROR).
 *
 * @returns the packet, or why it is neither
 */
export function parseTftpClientPacket(b: Uint8Array, off: number, len: number): Parsed<TftpClientPacket> {
  if (len < 4 || off + len > b.length) return fail("shorter than a TFTP packet");
  const op = (b[off]! << 8) | b[off + 1]!;
  const word = (b[off + 2]! << 8) | b[off + 3]!;
  if (op === TFTP_OP.ACK) return parsed({ op, block: word });
  if (op === TFTP_OP.ERROR) {
    const m = cstring(b, off + 4, off + len);
    return parsed({ op, code: word, message: m === null ? "" : m[0] });
  }
  return fail(`opcode ${op} is not an ACK or ERROR`);
}

/** Writes the DATA header for `block` at `b[off]`; the data follows at `off + 4`. */
export function writeTftpDataHeader(b: Uint8Array, off: number, block: number): void {
  b[off] = 0;
  b[off + 1] = TFTP_OP.DATA;
  b[off + 2] = (block >>> 8) & 0xff;
  b[off + 3] = block & 0xff;
}

/** Builds an ERROR packet. */
export function buildTftpError(code: number, message: string): Uint8Array {
  const m = encoder.encode(message);
  const b = new Uint8Array(4 + m.length + 1);
  b[1] = TFTP_OP.ERROR;
  b[2] = code >>> 8;
  b[3] = code & 0xff;
  b.set(m, 4);
  return b;
}

/** Builds an OACK with the accepted options in order. */
export function buildTftpOack(options: [string, string][]): Uint8Array {
  return opStrings(TFTP_OP.OACK, options.flat());
}

/** An opcode followed by NUL-terminated strings: the shape of requests and OACKs. */
function opStrings(op: number, strings: string[]): Uint8Array {
  const parts = strings.map((s) => encoder.encode(s));
  const b = new Uint8Array(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  b[1] = op;
  let at = 2;
  for (const p of parts) {
    b.set(p, at);
    at += p.length + 1;
  }
  return b;
}

/** Builds a request (for tests and tools). */
export function buildTftpRequest(
  op: typeof TFTP_OP.RRQ | typeof TFTP_OP.WRQ,
  filename: string,
  mode = "octet",
  options: [string, string][] = [],
): Uint8Array {
  return opStrings(op, [filename, mode, ...options.flat()]);
}
