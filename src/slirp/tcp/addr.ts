/**
 * IP addresses as the TCP engine handles them: 4 or 16 bytes, parsed from
 * and formatted to text, compared, and classified (loopback, multicast,
 * inside a prefix). Small and allocation-light; used on the control path
 * (forwards, connects), never per segment.
 */
import { formatIpv6 } from "../../wire/ipv6.ts";

/** An address prefix: `addr` with its first `length` bits significant. */
export interface IpPrefix {
  addr: Uint8Array;
  length: number;
}

/**
 * Parses an IPv4 dotted quad or an IPv6 address (with `::`, an embedded
 * IPv4 tail, optional brackets and no zone).
 *
 * @returns 4 or 16 bytes, or null when the text is not an address
 * @example
 * ```ts
 * import { parseIp } from "./addr.ts";
 * const a = parseIp("10.0.2.2");
 * if (a === null || a[3] !== 2) throw new Error("not parsed");
 * ```
 */
export function parseIp(text: string): Uint8Array | null {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  if (t.includes(":")) return parseIp6(t);
  return parseIp4(t);
}

function parseIp4(t: string): Uint8Array | null {
  const parts = t.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIp6(t: string): Uint8Array | null {
  if (t.includes("%")) return null;
  const halves = t.split("::");
  if (halves.length > 2) return null;
  const words: number[][] = [];
  for (const half of halves) {
    const ws: number[] = [];
    if (half !== "") {
      const groups = half.split(":");
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!;
        if (g.includes(".")) {
          if (i !== groups.length - 1 || half !== halves[halves.length - 1]) return null;
          const v4 = parseIp4(g);
          if (v4 === null) return null;
          ws.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
          continue;
        }
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        ws.push(parseInt(g, 16));
      }
    }
    words.push(ws);
  }
  let all: number[];
  if (words.length === 1) {
    all = words[0]!;
    if (all.length !== 8) return null;
  } else {
    const fill = 8 - words[0]!.length - words[1]!.length;
    if (fill < 1) return null;
    all = [...words[0]!, ...new Array<number>(fill).fill(0), ...words[1]!];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >> 8;
    out[2 * i + 1] = all[i]! & 0xff;
  }
  return out;
}

/** Formats 4 bytes as a dotted quad, 16 as compressed IPv6 (RFC 5952). */
export function formatIp(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  return a.length === 16 ? formatIpv6(a) : "?";
}

/** Parses "addr/len"; a bare address gets its full length. Null when malformed. */
export function parsePrefix(text: string): IpPrefix | null {
  const slash = text.indexOf("/");
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) return null;
  const bits = addr.length * 8;
  if (slash < 0) return { addr, length: bits };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  if (length > bits) return null;
  return { addr, length };
}

/** True when `a` and `b` hold the same bytes. */
export function ipEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `a` lies inside `p` (same family). */
export function inPrefix(a: Uint8Array, p: IpPrefix): boolean {
  if (a.length !== p.addr.length) return false;
  let bits = p.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((a[i]! & mask) !== (p.addr[i]! & mask)) return false;
  }
  return true;
}

/** 127.0.0.0/8, ::1, or an IPv4-mapped loopback. */
export function isLoopback(a: Uint8Array): boolean {
  if (a.length === 4) return a[0] === 127;
  const m = v4Mapped(a);
  if (m !== null) return m[0] === 127;
  for (let i = 0; i < 15; i++) if (a[i] !== 0) return false;
  return a[15] === 1;
}

/** Multicast, broadcast or unspecified: never a TCP peer. */
export function isNonUnicast(a: Uint8Array): boolean {
  if (a.length === 4) {
    if (a[0]! >= 224) return true; // multicast, reserved, broadcast
    return a[0] === 0;
  }
  if (a[0] === 0xff) return true;
  for (let i = 0; i < 16; i++) if (a[i] !== 0) return false;
  return true;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), or null. */
export function v4Mapped(a: Uint8Array): Uint8Array | null {
  if (a.length !== 16) return null;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return null;
  if (a[10] !== 0xff || a[11] !== 0xff) return null;
  return a.slice(12, 16);
}
