/**
 * Linux socket addresses for IP (sockaddr_in, sockaddr_in6) as bytes: the
 * one encoder and decoder the raw-fd sockets use (io/inet_dgram.ts and
 * slirp's host side). Addresses are wire/ip_address.ts's `IpAddress`; the
 * constants come from ffi/libc.ts.
 *
 * Layouts (Linux): sockaddr_in is 16 bytes: family u16 (host order), port
 * u16 (big-endian), address[4], zero[8]. sockaddr_in6 is 28 bytes: family
 * u16, port u16 (big-endian), flowinfo u32, address[16], scope id u32 (host
 * order). The decoder follows wire/parse.ts: the kernel filled the bytes,
 * but a length it reports is still checked.
 */
import { C } from "../../ffi/libc.ts";
import { formatSocketAddress, type IpAddress, type SocketAddress } from "../wire/ip_address.ts";
import { fail, type Parsed, parsed } from "../wire/parse.ts";

/** Bytes of sockaddr_in and sockaddr_in6. */
export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
/** Large enough for either. */
export const SOCKADDR_MAX = 28;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Encodes a sockaddr_in (4-byte `addr`) or sockaddr_in6 (16-byte `addr`). */
export function encodeSockaddr(addr: IpAddress, port: number, scopeId = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(addr.length === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
  encodeSockaddrInto(out, addr.length === 4 ? 4 : 6, addr, 0, port, scopeId);
  return out;
}

/**
 * Encodes into `out` (at least {@linkcode SOCKADDR_MAX} bytes, reused by a
 * sender on the frame path) the address of `family` read at `addr[addrOff]`,
 * or the wildcard when `addr` is undefined; returns the length to pass to
 * the kernel. Allocates nothing.
 */
export function encodeSockaddrInto(
  out: Uint8Array,
  family: 4 | 6,
  addr: Uint8Array | undefined,
  addrOff: number,
  port: number,
  scopeId = 0,
): number {
  out.fill(0, 0, SOCKADDR_MAX);
  const af = family === 4 ? C.AF_INET : C.AF_INET6;
  out[LITTLE_ENDIAN ? 0 : 1] = af;
  out[2] = (port >>> 8) & 0xff;
  out[3] = port & 0xff;
  if (family === 4) {
    if (addr !== undefined) { for (let i = 0; i < 4; i++) out[4 + i] = addr[addrOff + i]!; }
    return SOCKADDR_IN_LEN;
  }
  if (addr !== undefined) { for (let i = 0; i < 16; i++) out[8 + i] = addr[addrOff + i]!; }
  for (let i = 0; i < 4; i++) out[24 + (LITTLE_ENDIAN ? i : 3 - i)] = (scopeId >>> (8 * i)) & 0xff;
  return SOCKADDR_IN6_LEN;
}

/** Decodes a sockaddr_in or sockaddr_in6 of `length` bytes. */
export function decodeSockaddr(b: Uint8Array, length = b.length): Parsed<SocketAddress> {
  if (length < 2 || b.length < length) return fail(`a socket address of ${length} bytes is too short`);
  const family = LITTLE_ENDIAN ? b[0]! | (b[1]! << 8) : (b[0]! << 8) | b[1]!;
  const port = (b[2]! << 8) | b[3]!;
  if (family === C.AF_INET && length >= SOCKADDR_IN_LEN) return parsed({ addr: b.slice(4, 8), port });
  if (family === C.AF_INET6 && length >= SOCKADDR_IN6_LEN) return parsed({ addr: b.slice(8, 24), port });
  return fail(`address family ${family} in ${length} bytes is not IPv4 or IPv6`);
}

/** The port of a sockaddr (either family), or -1. */
export function sockaddrPort(b: Uint8Array): number {
  return b.length >= 4 ? (b[2]! << 8) | b[3]! : -1;
}

/** Writes `port` into a sockaddr of either family. */
export function setSockaddrPort(b: Uint8Array, port: number): void {
  b[2] = (port >>> 8) & 0xff;
  b[3] = port & 0xff;
}

/** {@linkcode formatSocketAddress} of an encoded sockaddr; "?" when it is not one. */
export function formatSockaddr(b: Uint8Array, length = b.length): string {
  const s = decodeSockaddr(b, length);
  return s.ok ? formatSocketAddress(s.value) : "?";
}
