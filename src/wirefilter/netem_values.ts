/**
 * Impairment values as tc netem and containerlab write them (`2%`, `5ms`,
 * `10mbit`), read by lab links and by wirefilter's netem words alike. Each
 * parser answers a value or a one-line reason (never throws), so a caller
 * can report every mistake at once.
 */
import { WIRE_LIMITS } from "./limits.ts";

/**
 * The size netem's packet counts are turned into bytes with, a full
 * Ethernet frame's payload: a lab link's `limit` in frames is wirefilter's
 * capacity in bytes by it, and the hints that say one as the other use it.
 */
export const NETEM_FRAME_BYTES = 1500;

/** A parsed value or why it was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function bad<T>(error: string): Parsed<T> {
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
