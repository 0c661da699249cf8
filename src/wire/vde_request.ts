/**
 * The vde_switch control handshake request (spec section 1.2).
 *
 * A client writes one request on the `ctl` stream: magic 0xfeedface, then
 * either version 3 (type word with the port in bits 8-31) or the legacy v1
 * layout (kind word, 6-byte MAC), a sockaddr_un naming the client's bound
 * datagram socket, and a free-text description. Integers are in host byte
 * order, which on every platform VDE runs on is little-endian.
 */
import { readU32le, writeU32le } from "./bytes.ts";
import type { Parsed } from "./parse.ts";
import { parseSockaddrUn, SOCKADDR_UN_LEN } from "./sockaddr_un.ts";

/** The request magic number. */
export const VDE_MAGIC = 0xfeedface;
/** Header length of a version-3 request (before the description). */
export const V3_HEADER_LEN = 12 + SOCKADDR_UN_LEN;
/** Header length of a version-1 request. */
export const V1_HEADER_LEN = 8 + 6 + SOCKADDR_UN_LEN;
/** The switch reads at most this many bytes of request, like vde_switch. */
export const MAX_REQUEST_LEN = 256;
/** Longest description clients send (vdeplug4 caps it at 127 bytes). */
export const MAX_DESCRIPTION_LEN = 127;

/** Request kinds (low byte of the type word). */
export const REQ_NEW_CONTROL = 0;
export const REQ_NEW_PORT0 = 1;

/** A validated handshake request. */
export interface VdeRequest {
  version: 1 | 3;
  /** REQ_NEW_CONTROL or REQ_NEW_PORT0. */
  kind: number;
  /** Requested port: 0 means "any" for REQ_NEW_CONTROL. */
  port: number;
  /** Path of the client's bound datagram socket ("" when unnamed). */
  socketPath: string;
  description: string;
}

const decoder = new TextDecoder();

function description(b: Uint8Array, from: number): string {
  let end = from;
  while (end < b.length && b[end] !== 0) end++;
  return decoder.decode(b.subarray(from, end));
}

/**
 * Parses a request (parse.ts). `incomplete` is set when more bytes could make it valid
 * (a header cut short), so a server may wait for the rest with a deadline.
 */
export function parseVdeRequest(b: Uint8Array): Parsed<VdeRequest> {
  if (b.length < 8) return { ok: false, reason: "request is shorter than its header", incomplete: true };
  const magic = readU32le(b, 0);
  if (magic !== VDE_MAGIC) {
    return {
      ok: false,
      reason: `bad magic 0x${magic.toString(16).padStart(8, "0")} (V0 request not supported)`,
    };
  }
  const version = readU32le(b, 4);
  if (version === 3) {
    if (b.length < V3_HEADER_LEN) {
      return {
        ok: false,
        reason: `v3 request is ${b.length} bytes, its header needs ${V3_HEADER_LEN}`,
        incomplete: true,
      };
    }
    const type = readU32le(b, 8);
    const kind = type & 0xff;
    if (kind !== REQ_NEW_CONTROL && kind !== REQ_NEW_PORT0) {
      return { ok: false, reason: `bad request type ${kind}` };
    }
    const addr = parseSockaddrUn(b, 12);
    if (!addr.ok) return addr;
    return {
      ok: true,
      value: {
        version: 3,
        kind,
        port: kind === REQ_NEW_PORT0 ? 0 : type >>> 8,
        socketPath: addr.value,
        description: description(b, V3_HEADER_LEN),
      },
    };
  }
  if (version === 0 || version === 1) {
    // v1 has no version word: these bytes are its request kind.
    if (b.length < V1_HEADER_LEN) {
      return {
        ok: false,
        reason: `v1 request is ${b.length} bytes, its header needs ${V1_HEADER_LEN}`,
        incomplete: true,
      };
    }
    const addr = parseSockaddrUn(b, 14);
    if (!addr.ok) return addr;
    return {
      ok: true,
      value: {
        version: 1,
        kind: version,
        port: 0,
        socketPath: addr.value,
        description: description(b, V1_HEADER_LEN),
      },
    };
  }
  return { ok: false, reason: `request for a version ${version} port, which this switch does not support` };
}

const encoder = new TextEncoder();

/** Builds a v3 request (what every current client sends). */
export function buildVdeRequest(r: Omit<VdeRequest, "version">): Uint8Array<ArrayBuffer> {
  let descr = encoder.encode(r.description);
  if (descr.length > MAX_DESCRIPTION_LEN) descr = descr.subarray(0, MAX_DESCRIPTION_LEN);
  const out = new Uint8Array(V3_HEADER_LEN + descr.length);
  writeU32le(out, 0, VDE_MAGIC);
  writeU32le(out, 4, 3);
  writeU32le(out, 8, r.kind === REQ_NEW_PORT0 ? REQ_NEW_PORT0 : ((r.port << 8) | r.kind) >>> 0);
  const path = encoder.encode(r.socketPath);
  if (path.length >= 108) throw new Error(`socket path too long for sockaddr_un: ${r.socketPath}`);
  out[12] = 1;
  out.set(path, 14);
  out.set(descr, V3_HEADER_LEN);
  return out;
}

/** Builds a legacy v1 request (kept for tests of old clients). */
export function buildVdeRequestV1(kind: number, socketPath: string, descr: string): Uint8Array<ArrayBuffer> {
  const d = encoder.encode(descr);
  const out = new Uint8Array(V1_HEADER_LEN + d.length);
  writeU32le(out, 0, VDE_MAGIC);
  writeU32le(out, 4, kind);
  out[14] = 1;
  out.set(encoder.encode(socketPath), 16);
  out.set(d, V1_HEADER_LEN);
  return out;
}
