/**
 * IP addresses of both families as one type, the way passt's `inany.h` and
 * smoltcp's `wire::IpAddress` hold them: an {@linkcode IpAddress} is its
 * bytes in network order, 4 for IPv4 and 16 for IPv6, so the length is the
 * family and no code forks on the family just to carry an address. Parsed
 * from and formatted to text (RFC 4291 section 2.2 in, RFC 5952 out),
 * compared, and classified (loopback, multicast, inside a prefix).
 *
 * This is the control path (configuration, forwards, connects, link URLs),
 * never per frame: the header parsers in ipv4.ts and ipv6.ts read addresses
 * in place, and slirp's IPv4 path keeps a u32 where that saves work
 * ({@linkcode ipv4ToU32}). Text parsers follow the contract of parse.ts.
 */
import { bytesEqual, readU32, writeU32 } from "./bytes.ts";
import { formatIpv6 } from "./ipv6.ts";
import { fail, type Parsed, parsed } from "./parse.ts";

/** An IP address: 4 bytes (IPv4) or 16 bytes (IPv6), network order. */
export type IpAddress = Uint8Array;

/** An address prefix: `addr` with its first `length` bits significant. */
export interface IpPrefix {
  addr: IpAddress;
  length: number;
}

/** An IP address and a port. */
export interface SocketAddress {
  addr: IpAddress;
  port: number;
}

/** 4 or 6, from the address's length. */
export function ipFamily(a: IpAddress): 4 | 6 {
  return a.length === 16 ? 6 : 4;
}

/** Parses a dotted quad ("10.0.2.15"). */
export function parseIpv4Text(text: string): Parsed<IpAddress> {
  const t = text.trim();
  const parts = t.split(".");
  if (parts.length !== 4) return fail(`${t} is not an IPv4 address`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return fail(`${t} is not an IPv4 address`);
    out[i] = Number(p);
  }
  return parsed(out);
}

/** Parses IPv6 text: `::`, an embedded IPv4 tail, optional brackets; a `%zone` is refused. */
export function parseIpv6Text(text: string): Parsed<IpAddress> {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const bad = fail(`${text.trim()} is not an IPv6 address`);
  if (!t.includes(":") || /[^0-9a-fA-F:.]/.test(t)) return bad;
  const halves = t.split("::");
  if (halves.length > 2) return bad;
  const words: number[][] = [];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h]!;
    const ws: number[] = [];
    const groups = half === "" ? [] : half.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (g.includes(".")) {
        if (i !== groups.length - 1 || h !== halves.length - 1) return bad;
        const v4 = parseIpv4Text(g);
        if (!v4.ok) return bad;
        ws.push((v4.value[0]! << 8) | v4.value[1]!, (v4.value[2]! << 8) | v4.value[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return bad;
      ws.push(parseInt(g, 16));
    }
    words.push(ws);
  }
  let all: number[];
  if (words.length === 1) {
    all = words[0]!;
    if (all.length !== 8) return bad;
  } else {
    const fill = 8 - words[0]!.length - words[1]!.length;
    if (fill < 1) return bad;
    all = [...words[0]!, ...new Array<number>(fill).fill(0), ...words[1]!];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return parsed(out);
}

/**
 * Parses an address of either family (IPv6 may be in brackets).
 *
 * @example
 * ```ts
 * import { formatIp, parseIpText } from "./ip_address.ts";
 * const a = parseIpText("10.0.2.2");
 * if (!a.ok || a.value.length !== 4 || formatIp(a.value) !== "10.0.2.2") throw new Error("not parsed");
 * const b = parseIpText("[fd00:0::2]");
 * if (!b.ok || formatIp(b.value) !== "fd00::2") throw new Error("not parsed");
 * if (parseIpText("host.example").ok) throw new Error("a name is not an address");
 * ```
 */
export function parseIpText(text: string): Parsed<IpAddress> {
  const t = text.trim();
  if (t.includes(":")) return parseIpv6Text(t);
  const v4 = parseIpv4Text(t);
  return v4.ok ? v4 : fail(`${t} is not an IP address`);
}

/**
 * The address of a literal written in the code ("fd00::2"); throws when it is
 * not one. For constants and tests, never for input.
 */
export function ipLiteral(text: string): IpAddress {
  const r = parseIpText(text);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

/** Dotted quad for 4 bytes, compressed IPv6 (RFC 5952) for 16. */
export function formatIp(a: IpAddress): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  return a.length === 16 ? formatIpv6(a) : "?";
}

/** "1.2.3.4:5" or "[::1]:5", for messages. */
export function formatSocketAddress(s: SocketAddress): string {
  const ip = formatIp(s.addr);
  return s.addr.length === 16 ? `[${ip}]:${s.port}` : `${ip}:${s.port}`;
}

/** Parses "addr/len"; a bare address gets its full length. */
export function parsePrefixText(text: string): Parsed<IpPrefix> {
  const slash = text.indexOf("/");
  const addr = parseIpText(slash < 0 ? text : text.slice(0, slash));
  if (!addr.ok) return addr;
  const bits = addr.value.length * 8;
  if (slash < 0) return parsed({ addr: addr.value, length: bits });
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) {
    return fail(`prefix length ${lenText} is not between 0 and ${bits}`);
  }
  return parsed({ addr: addr.value, length: Number(lenText) });
}

/** True when `a` and `b` are the same address (same family). */
export function ipEqual(a: IpAddress, b: IpAddress): boolean {
  return bytesEqual(a, b);
}

/** True when `a` lies inside `p` (same family). */
export function inPrefix(a: IpAddress, p: IpPrefix): boolean {
  if (a.length !== p.addr.length) return false;
  let bits = p.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (p.addr[i]! & mask)) return false;
  }
  return true;
}

/** 127.0.0.0/8, ::1, or an IPv4-mapped loopback. */
export function isLoopback(a: IpAddress): boolean {
  if (a.length === 4) return a[0] === 127;
  const m = v4Mapped(a);
  if (m !== null) return m[0] === 127;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** True for 224.0.0.0/4 and ff00::/8. */
export function isMulticastIp(a: IpAddress): boolean {
  return a.length === 4 ? (a[0]! & 0xf0) === 0xe0 : a[0] === 0xff;
}

/** Multicast, broadcast or unspecified: never a TCP peer. */
export function isNonUnicast(a: IpAddress): boolean {
  if (a.length === 4) {
    if (a[0]! >= 224) return true; // multicast, reserved, broadcast
    return a[0] === 0;
  }
  if (a[0] === 0xff) return true;
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or null when it is not one. */
export function v4Mapped(a: IpAddress): IpAddress | null {
  if (a.length !== 16) return null;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return null;
  if (a[10] !== 0xff || a[11] !== 0xff) return null;
  return a.slice(12, 16);
}

/** The wildcard address of a family (0.0.0.0 or ::). */
export function anyAddress(family: 4 | 6): IpAddress {
  return new Uint8Array(family === 4 ? 4 : 16);
}

/** An IPv4 address as the u32 the IPv4 header fields hold. */
export function ipv4ToU32(a: IpAddress): number {
  return readU32(a, 0);
}

/** The IPv4 address of a u32 header field. */
export function ipv4FromU32(v: number, out: IpAddress = new Uint8Array(4)): IpAddress {
  writeU32(out, 0, v);
  return out;
}

/**
 * Splits "HOST:PORT" at the last colon (so an unbracketed IPv6 address
 * works, as vdeplug4 does); brackets around HOST are removed. HOST may be a
 * name: it is not parsed here.
 */
export function parseHostPortText(text: string): Parsed<{ host: string; port: number }> {
  const i = text.lastIndexOf(":");
  if (i < 0) return fail(`${text} has no :PORT`);
  const portText = text.slice(i + 1);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    return fail(`port ${portText} is not a number from 0 to 65535`);
  }
  let host = text.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return parsed({ host, port: Number(portText) });
}
