/**
 * struct sockaddr_un as Linux lays it out: a 2-byte family in host order
 * (little-endian here) and a 108-byte NUL-padded path. VDE's handshake sends
 * it verbatim in both directions, so it is a wire format.
 */
import { C } from "../../ffi/libc.ts";
import { fail, type Parsed, parsed } from "./parse.ts";

/** Size of struct sockaddr_un on Linux. */
export const SOCKADDR_UN_LEN = 110;
/** Room for the path, including its terminating NUL. */
export const SUN_PATH_LEN = 108;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Builds a sockaddr_un for `path`; throws if the path does not fit. */
export function buildSockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(path);
  if (bytes.length >= SUN_PATH_LEN) {
    throw new Error(`socket path is ${bytes.length} bytes, the limit is ${SUN_PATH_LEN - 1}: ${path}`);
  }
  const out = new Uint8Array(SOCKADDR_UN_LEN);
  out[0] = C.AF_UNIX & 0xff;
  out[1] = C.AF_UNIX >> 8;
  out.set(bytes, 2);
  return out;
}

/** Parses a sockaddr_un at `offset` into its path, which ends at the first NUL. */
export function parseSockaddrUn(buf: Uint8Array, offset = 0): Parsed<string> {
  if (buf.length < offset + SOCKADDR_UN_LEN) return fail("sockaddr_un is truncated");
  const family = buf[offset]! | (buf[offset + 1]! << 8);
  if (family !== C.AF_UNIX) return fail(`address family is ${family}, not AF_UNIX`);
  const start = offset + 2;
  let end = start;
  const limit = start + SUN_PATH_LEN;
  while (end < limit && buf[end] !== 0) end++;
  return parsed(decoder.decode(buf.subarray(start, end)));
}
