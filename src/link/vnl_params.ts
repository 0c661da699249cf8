/**
 * The error for an option a VNL does not take: the keys it does, and the
 * nearest one when the name looks like a typo of it (`dealy` for `delay`).
 */
import { didYouMean, knownClause } from "../did_you_mean.ts";
export function unknownOption(scheme: string, name: string, keys: readonly string[]): Error {
  const near = name === "" ? undefined : didYouMean(name, keys);
  return new Error(`unknown ${scheme}:// option "${name}" ${knownClause(near, keys)}`);
}

/**
 * vdeplug4's slash-form VNL parameters (spec 3.2), used by `vxlan://`,
 * `vxvde://` and our `tcp://`: `ADDRESS/key=value/key/...`.
 *
 * - The first `/`-separated token is the address (it may be empty).
 * - Each further token is `key=value` or a bare `key` (value "").
 * - A key may be abbreviated: it matches the first known key it is a prefix
 *   of (`p=5` is `port=5` when `port` comes first). An unknown key is an error.
 * - Inside the address and values, `'...'` and `"..."` quote (so a value may
 *   hold `/`), `\x` escapes one character and `%HH` is a byte in hex.
 * - Ours: the value of a key listed in `pathKeys` (a file name) keeps its
 *   slashes unquoted, up to the next token that is a known key spelled in
 *   full: `tcp://h:5000/key=/etc/vde/cable.key/retry=10`.
 */

/** A parsed slash-form VNL. */
export interface SlashParams {
  address: string;
  /** Options by their full key name, in order of appearance (the last one wins). */
  options: Map<string, string>;
}

/**
 * Parses `rest` (the VNL after `scheme://`) against the known `keys`.
 *
 * @throws Error with a one-line message for an unknown key or an unterminated quote
 */
export function parseSlashParams(
  rest: string,
  keys: readonly string[],
  scheme = "vnl",
  pathKeys: readonly string[] = [],
): SlashParams {
  const tokens = splitTokens(rest, scheme);
  const address = tokens.shift()?.decoded ?? "";
  const options = new Map<string, string>();
  const isKeyToken = (raw: string) => {
    const name = raw.split("=", 1)[0]!;
    return keys.includes(name);
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.raw === "") continue;
    const eq = token.raw.indexOf("=");
    const name = eq < 0 ? token.raw : token.raw.slice(0, eq);
    const key = keys.find((k) => k.startsWith(name) && name !== "");
    if (key === undefined) {
      throw unknownOption(scheme, name, keys);
    }
    let value = eq < 0 ? "" : token.decoded.slice(token.decoded.indexOf("=") + 1);
    if (eq >= 0 && pathKeys.includes(key)) {
      // A file name keeps its slashes: it runs on until a token that is an option.
      while (i + 1 < tokens.length && !isKeyToken(tokens[i + 1]!.raw)) value += `/${tokens[++i]!.decoded}`;
    }
    options.set(key, value);
  }
  return { address, options };
}

/**
 * Splits vdeplug4 option text on `/` into decoded tokens: quotes removed,
 * `\x` escapes and `%HH` bytes decoded. Empty tokens are kept (an empty
 * address is one).
 *
 * @throws Error for an unterminated quote
 */
export function splitVnlOptions(text: string, scheme = "vnl"): string[] {
  return splitTokens(text, scheme).map((t) => t.decoded);
}

interface Token {
  /** The token with quotes and escapes as written (for finding the key). */
  raw: string;
  /** The token with quotes removed and escapes decoded. */
  decoded: string;
}

function splitTokens(s: string, scheme: string): Token[] {
  const out: Token[] = [];
  let raw = "";
  let bytes: number[] = [];
  let quote: string | null = null;
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const push = () => {
    out.push({ raw, decoded: dec.decode(new Uint8Array(bytes)) });
    raw = "";
    bytes = [];
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else bytes.push(...enc.encode(c));
      raw += c;
      continue;
    }
    if (c === "/") {
      push();
      continue;
    }
    raw += c;
    if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "\\" && i + 1 < s.length) {
      i++;
      raw += s[i];
      bytes.push(...enc.encode(s[i]!));
    } else if (c === "%" && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      raw += s.slice(i + 1, i + 3);
      i += 2;
    } else {
      bytes.push(...enc.encode(c));
    }
  }
  if (quote !== null) throw new Error(`unterminated ${quote} in ${scheme}:// VNL`);
  push();
  return out;
}

/**
 * Parses a size with an optional k/M/G suffix (powers of 1024), as vdeplug4's
 * `rcvbuf=` takes it.
 *
 * @returns the number of bytes, or null when the text is not a size
 */
export function parseSize(text: string): number | null {
  const m = text.match(/^(\d+)([kKmMgG]?)$/);
  if (!m) return null;
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * mult;
}
