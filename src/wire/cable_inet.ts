/**
 * IPv4 and IPv6 addresses and Linux socket addresses (sockaddr_in,
 * sockaddr_in6) as bytes, for the datagram cables (udp://, vxlan://,
 * vxvde://) that run on raw sockets.
 *
 * Layouts (Linux): sockaddr_in is 16 bytes: family u16 (host order), port
 * u16 (big-endian), address[4], zero[8]. sockaddr_in6 is 28 bytes: family
 * u16, port u16 (big-endian), flowinfo u32, address[16], scope id u32 (host
 * order). Parsers return null instead of throwing.
 */

/** AF_INET and AF_INET6 on Linux. */
export const AF_INET = 2;
export const AF_INET6 = 10;
/** Bytes of sockaddr_in and sockaddr_in6. */
export const SOCKADDR_IN_LEN = 16;
export const SOCKADDR_IN6_LEN = 28;
/** Large enough for either. */
export const SOCKADDR_MAX = 28;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** An IP address of either family. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** Parses dotted-quad IPv4 text. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

/** Parses IPv6 text (with `::`, and a trailing dotted quad); a `%zone` suffix is refused. */
export function parseIPv6(text: string): Uint8Array | null {
  if (text.includes("%") || !text.includes(":")) return null;
  let head = text;
  let tail4: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (tail4 === null) return null;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail4 !== null) out.set(tail4, 12);
  return out;
}

/** Parses an IP address literal of either family (IPv6 may be in brackets). */
export function parseIp(text: string): IpAddress | null {
  const t = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  const v4 = parseIPv4(t);
  if (v4 !== null) return { family: 4, bytes: v4 };
  const v6 = parseIPv6(t);
  return v6 === null ? null : { family: 6, bytes: v6 };
}

/** Formats an address for messages (IPv6 compressed at its longest zero run). */
export function formatIp(a: IpAddress): string {
  if (a.family === 4) return [...a.bytes].join(".");
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a.bytes[2 * i]! << 8) | a.bytes[2 * i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = g.map((v) => v.toString(16));
  if (best < 0) return hexes.join(":");
  return `${hexes.slice(0, best).join(":")}::${hexes.slice(best + bestLen).join(":")}`;
}

/** True for 224.0.0.0/4 and ff00::/8. */
export function isMulticastIp(a: IpAddress): boolean {
  return a.family === 4 ? (a.bytes[0]! & 0xf0) === 0xe0 : a.bytes[0] === 0xff;
}

/** The wildcard address of a family. */
export function anyAddress(family: 4 | 6): IpAddress {
  return { family, bytes: new Uint8Array(family === 4 ? 4 : 16) };
}

/** Builds a sockaddr_in or sockaddr_in6 for `addr` and `port`. */
export function buildSockaddr(addr: IpAddress, port: number, scopeId = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(addr.family === 4 ? SOCKADDR_IN_LEN : SOCKADDR_IN6_LEN);
  const v = new DataView(out.buffer);
  v.setUint16(0, addr.family === 4 ? AF_INET : AF_INET6, LITTLE_ENDIAN);
  v.setUint16(2, port);
  if (addr.family === 4) {
    out.set(addr.bytes, 4);
  } else {
    out.set(addr.bytes, 8);
    v.setUint32(24, scopeId, LITTLE_ENDIAN);
  }
  return out;
}

/** A decoded socket address. */
export interface SocketAddress {
  addr: IpAddress;
  port: number;
}

/** Decodes a sockaddr_in or sockaddr_in6 of `length` bytes; null for anything else. */
export function parseSockaddr(b: Uint8Array, length = b.length): SocketAddress | null {
  if (length < 2 || b.length < length) return null;
  const family = LITTLE_ENDIAN ? b[0]! | (b[1]! << 8) : (b[0]! << 8) | b[1]!;
  const port = (b[2]! << 8) | b[3]!;
  if (family === AF_INET && length >= SOCKADDR_IN_LEN) {
    return { addr: { family: 4, bytes: b.slice(4, 8) }, port };
  }
  if (family === AF_INET6 && length >= SOCKADDR_IN6_LEN) {
    return { addr: { family: 6, bytes: b.slice(8, 24) }, port };
  }
  return null;
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

/** "1.2.3.4:5" or "[::1]:5". */
export function formatSockaddr(b: Uint8Array, length = b.length): string {
  const s = parseSockaddr(b, length);
  if (s === null) return "?";
  const ip = formatIp(s.addr);
  return s.addr.family === 6 ? `[${ip}]:${s.port}` : `${ip}:${s.port}`;
}

/**
 * Splits "HOST:PORT" at the last colon (so an unbracketed IPv6 address
 * works, as vdeplug4 does); brackets around HOST are removed.
 *
 * @returns null when there is no port
 */
export function splitHostPort(text: string): { host: string; port: number } | null {
  const i = text.lastIndexOf(":");
  if (i < 0) return null;
  const portText = text.slice(i + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  let host = text.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: Number(portText) };
}
