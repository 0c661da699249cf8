/**
 * The one parse contract of src/wire/, smoltcp's `Result<T, Error>` said in
 * TypeScript.
 *
 * Every byte off the wire and every line a user types is hostile, so a parser
 * never throws: it says why the input is not what was asked, as a short
 * sentence fit for a log line or a console reply. One rule holds everywhere:
 * **a failure is a `reason` string, and `null` never means failure.** Two
 * shapes carry it:
 *
 * - A parser that returns a value returns {@linkcode Parsed}: `{ ok: true,
 *   value }` or `{ ok: false, reason }`. Text parsers (`parseIpText`,
 *   `parseMacText`) and parsers that build objects (DNS, DHCP, the cable
 *   handshake, the vde_switch request) use it.
 * - A parser on the frame path fills a record the caller owns and allocates
 *   nothing (`parseIpv4(b, off, len, out)`); it returns
 *   {@linkcode ParseError} ` | null`: the reason, or null once the record is
 *   filled, as Go's `err == nil`.
 *
 * Text parsers end in `Text` (`parseIpText`) so they cannot be confused with
 * the header parsers (`parseIpv4`).
 */

/** Why the input is not what was asked; one sentence, no trailing period. */
export type ParseError = string;

/** A failed parse. `incomplete` is set when more bytes could make it valid. */
export interface ParseFailure {
  ok: false;
  reason: ParseError;
  incomplete?: boolean;
}

/**
 * A parse outcome: the value, or why the input is not one.
 *
 * @example
 * ```ts
 * import { fail, type Parsed, parsed } from "./parse.ts";
 * function parseBit(text: string): Parsed<0 | 1> {
 *   return text === "0" ? parsed(0) : text === "1" ? parsed(1) : fail(`expected 0 or 1, found ${text}`);
 * }
 * const r = parseBit("1");
 * if (!r.ok || r.value !== 1) throw new Error("not parsed");
 * ```
 */
export type Parsed<T> = { ok: true; value: T } | ParseFailure;

/** A successful outcome. */
export function parsed<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

/** A failed outcome. */
export function fail(reason: ParseError, incomplete = false): ParseFailure {
  return incomplete ? { ok: false, reason, incomplete } : { ok: false, reason };
}
