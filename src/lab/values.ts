/**
 * The value syntaxes of a lab file: percentages, durations, rates and IP
 * addresses. Each parser answers a value or a one-line reason (never
 * throws), so validation can report every mistake at once.
 */

import { inPrefix, parseIpText, parsePrefixText } from "../wire/ip_address.ts";
import { WIRE_LIMITS } from "../wirefilter/limits.ts";

/** A parsed value or why it was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function bad<T>(error: string): Parsed<T> {
  return { ok: false, error };
}

const NUMBER_UNIT = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z%/]*)\s*$/;

/** `2%`, `2.5%` or a bare number: a percentage 0..100. */
export function parsePercent(v: unknown): Parsed<number> {
  const m = NUMBER_UNIT.exec(String(v));
  if (m === null || (m[2] !== "" && m[2] !== "%") || typeof v === "boolean") {
    return bad(`expected a percentage such as 2%, got ${JSON.stringify(v)}`);
  }
  const n = Number(m[1]);
  return n > 100 ? bad(`a percentage is at most 100%, got ${n}%`) : ok(n);
}

const TIME_UNITS: Record<string, number> = { "": 1, ms: 1, s: 1000, us: 0.001 };

/** `5ms`, `1s`, `250us` or a bare number of ms: milliseconds, at most a wirefilter delay's limit (a day). */
export function parseDuration(v: unknown): Parsed<number> {
  const m = NUMBER_UNIT.exec(String(v));
  const unit = m?.[2]?.toLowerCase();
  if (m === null || unit === undefined || !Object.hasOwn(TIME_UNITS, unit) || typeof v === "boolean") {
    return bad(`expected a duration such as 5ms or 1s, got ${JSON.stringify(v)}`);
  }
  const ms = Number(m[1]) * TIME_UNITS[unit]!;
  const max = WIRE_LIMITS.delay.max;
  return ms > max
    // Said after the key (`delay: `, `jitter: `), in the file and the shell: no noun of its own to get wrong.
    ? bad(`at most ${max / 1000}s (a day), got ${JSON.stringify(v)}`)
    : ok(ms);
}

/** A link's MTU, in the file and the shell alike: IPv4's least (68) to a 16-bit length. */
export const LINK_MTU = [68, 65535] as const;

/** A link's MTU as a whole number within LINK_MTU. */
export function parseLinkMtu(v: unknown): Parsed<number> {
  const [min, max] = LINK_MTU;
  const text = String(v).trim();
  return /^\d+$/.test(text) && Number(text) >= min && Number(text) <= max
    ? ok(Number(text))
    : bad(`mtu must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
}

const RATE_UNITS: Record<string, number> = {
  "": 1000,
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
};

/**
 * A rate as tc and containerlab write it: `10mbit`, `512kbit`, `1gbit`,
 * bytes with `kbps`/`mbps`, or a bare number of kbit/s (containerlab's
 * unit). The value is in bytes per second, wirefilter's unit.
 */
export function parseRate(v: unknown): Parsed<number> {
  const m = NUMBER_UNIT.exec(String(v));
  const unit = m?.[2]?.toLowerCase();
  if (m === null || unit === undefined || !Object.hasOwn(RATE_UNITS, unit) || typeof v === "boolean") {
    return bad(`expected a rate such as 10mbit or 512kbit, got ${JSON.stringify(v)}`);
  }
  const bytes = Number(m[1]) * RATE_UNITS[unit]! / 8;
  return bytes < 1 ? bad(`a rate must be at least 8bit, got ${JSON.stringify(v)}`) : ok(bytes);
}

/** True for a dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** True for an IPv6 address in any of its textual forms (no zone). */
export function isIpv6(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  let head = text;
  let groups = 0;
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIpv4(tail)) return false;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return false;
  for (const half of halves) {
    if (half === "") continue;
    for (const g of half.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      groups++;
    }
  }
  return halves.length === 2 ? groups < 8 : groups === 8;
}

/** True when IPv4 `addr` lies in the subnet of `cidr`: 10.0.2.2 is in 10.0.2.15/24. */
export function ipv4InSubnet(addr: string, cidr: string): boolean {
  const a = parseIpText(addr);
  const p = parsePrefixText(cidr);
  return a.ok && p.ok && a.value.length === 4 && inPrefix(a.value, p.value);
}

/** An IPv4 or IPv6 address. */
export function isIp(text: string): boolean {
  return isIpv4(text) || isIpv6(text);
}

/** `10.0.2.15/24` or `fd00::2/64`: an address with its prefix length. */
export function parseCidr(v: unknown): Parsed<string> {
  const text = String(v);
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text);
  if (m === null) return bad(`expected an address with a prefix length such as 10.0.2.15/24, got "${text}"`);
  const [addr, len] = [m[1]!, Number(m[2])];
  if (isIpv4(addr)) return len <= 32 ? ok(text) : bad(`an IPv4 prefix length is at most 32, got ${len}`);
  if (isIpv6(addr)) return len <= 128 ? ok(text) : bad(`an IPv6 prefix length is at most 128, got ${len}`);
  return bad(`"${addr}" is not an IPv4 or IPv6 address`);
}
