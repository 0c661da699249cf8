/**
 * The value syntaxes of a lab file: links' MTUs and queue limits and IP
 * addresses here, and the impairments' percentages, durations and rates
 * (wirefilter/netem_values.ts). Each parser answers a value or a one-line
 * reason (never throws), so validation can report every mistake at once.
 */

import { inPrefix, parseIpText, parsePrefixText } from "../wire/ip_address.ts";
import { bad, NETEM_FRAME_BYTES, ok, type Parsed } from "../wirefilter/netem_values.ts";
import { DEFAULT_MAX_QUEUE_BYTES } from "../wirefilter/filter.ts";

export { type Parsed, parseDuration, parsePercent, parseRate } from "../wirefilter/netem_values.ts";

/** A link's MTU, in the file and the shell alike: IPv4's least (68) to a 16-bit length. */
export const LINK_MTU = [68, 65535] as const;

/** A link's MTU as a whole number within LINK_MTU. */
export function parseLinkMtu(v: unknown): Parsed<number> {
  return wholeIn(v, LINK_MTU, "mtu must be a whole number");
}

/** `v` as a whole number from `min` to `max`, else `what` with the range and what was given. */
function wholeIn(v: unknown, [min, max]: readonly [number, number], what: string): Parsed<number> {
  const text = String(v).trim();
  return /^\d+$/.test(text) && Number(text) >= min && Number(text) <= max
    ? ok(Number(text))
    : bad(`${what} from ${min} to ${max}, got ${JSON.stringify(v)}`);
}

/**
 * A link's queue bound (`limit`, tc netem's, in frames) in the file and the
 * shell alike: at least one frame, at most what wirefilter's own bound per
 * direction (8 MiB) holds of NETEM_FRAME_BYTES-byte frames (the link
 * bounds bytes: limit x that size).
 */
export const LINK_LIMIT = [1, Math.floor(DEFAULT_MAX_QUEUE_BYTES / NETEM_FRAME_BYTES)] as const;

/** What a link with a `rate` and no `limit` holds, in frames: tc netem's default limit. */
export const DEFAULT_RATE_LIMIT = 1000;

/** A link's `limit` as a whole number of frames within LINK_LIMIT. */
export function parseLinkLimit(v: unknown): Parsed<number> {
  return wholeIn(v, LINK_LIMIT, "limit must be a whole number of frames");
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
