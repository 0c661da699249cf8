/**
 * Byte-array helpers shared by the wire formats, one small function per
 * operation as Deno std's `bytes/` has them. Readers and writers take an
 * offset the caller has already checked against the length: they are the
 * field accessors of a packet view, not parsers.
 */

/** The parts one after another in a new array (for building messages, not for the frame path). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads a big-endian unsigned 16-bit number. */
export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** Writes a big-endian 16-bit number. */
export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

/**
 * Reads a big-endian unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import { readU32, writeU32 } from "./bytes.ts";
 * const b = new Uint8Array(4);
 * writeU32(b, 0, 0xc0a80001);
 * if (readU32(b, 0) !== 0xc0a80001 || b[0] !== 0xc0) throw new Error("not big-endian");
 * ```
 */
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** Writes a big-endian 32-bit number. */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Reads a little-endian unsigned 32-bit number (vde_switch's request is in host order, x86 and arm64 alike). */
export function readU32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Writes a little-endian 32-bit number. */
export function writeU32le(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** True when `a[ao, ao+len)` and `b[bo, bo+len)` hold the same bytes (both ranges inside their arrays). */
export function equalAt(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** True when `a` and `b` have the same length and bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && equalAt(a, 0, b, 0, a.length);
}
