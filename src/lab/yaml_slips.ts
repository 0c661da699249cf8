/**
 * Two slips a lab file's author makes in YAML's flow style
 * (`h1: { kind: host, address: 10.0.2.10/24 }`, as README's examples write
 * nodes), said in words where the parser or the key check names only a
 * symptom:
 *
 * - a `,` left out between two `key: value` in `{ }` makes the second a
 *   block mapping inside the flow one, which the parser calls "Block
 *   collections are not allowed within flow collections";
 * - a space left out after a colon (`address:10.0.2.10/24`, `kind:switch`)
 *   is no key and value but one plain word, which YAML reads as a key of
 *   its own (or a node's whole value), so the check saw an unknown key or
 *   a node with no `kind`; on a line of its own the parser finds a key
 *   with no value ("Implicit map keys need to be followed by map values").
 *
 * - a second value after a comma in `{ }` (`address: 10.0.2.10/24,
 *   10.0.2.11/24`, `vlans: 10, 20`) is a key of its own, with no value: the
 *   list it continues is written in brackets.
 *
 * Pure text in, words out; validate.ts adds them to its FILE:LINE:COL lines.
 */
import { isScalar, type Pair, type Scalar } from "yaml";
import { isIpv6 } from "./values.ts";

/**
 * What the parser's error (npm:yaml's `code` and first line, `line` the
 * file's line it points at) means in a lab file, where its message does
 * not say; undefined where it does.
 */
export function yamlErrorHint(code: string, message: string, line = ""): string | undefined {
  if (code === "BLOCK_IN_FLOW") {
    return "a `,` missing before it? inside { } and [ ], items are separated by commas: { kind: host, address: ... }";
  }
  // `delay:5ms` on a line of its own (a key with no value), or before the next key (one key of two lines).
  // (A flow sequence's "Implicit keys of flow sequence pairs" is another matter, garbage as often as not.)
  const noValue = code === "MISSING_CHAR" && message.startsWith("Implicit map keys");
  const twoLines = code === "MULTILINE_IMPLICIT_KEY" &&
    message.startsWith("Implicit keys need to be on a single line");
  if (!noValue && !twoLines) return undefined;
  // `kind switch`, the colon itself left out: the space-after-the-colon example would be no help.
  const noColon = /^([A-Za-z_][\w-]*)\s+([^\s:#][^:#]*)$/.exec(line.trim());
  return noColon !== null
    ? `each line of a mapping is \`key: value\`, and this one has no colon (\`${noColon[1]}: ${noColon[2]}\`)`
    : "each line of a mapping is `key: value`, a space after the colon (`delay: 5ms`, not `delay:5ms`)";
}

/**
 * The `key: value` that `word` was meant to be when it is one of `keys`
 * joined to a value with no space after the colon (`address:10.0.2.10/24`
 * gives `address: 10.0.2.10/24`); undefined for any other word.
 */
export function missingSpaceAfterColon(word: string, keys: readonly string[]): string | undefined {
  const colon = word.indexOf(":");
  if (colon <= 0 || colon === word.length - 1) return undefined;
  const key = word.slice(0, colon);
  return keys.includes(key) ? `${key}: ${word.slice(colon + 1)}` : undefined;
}

/** The clause that says so: `: a space is missing after the colon (address: 10.0.2.10/24)`. */
export function missingSpaceClause(word: string, keys: readonly string[]): string {
  const meant = missingSpaceAfterColon(word, keys);
  return meant === undefined ? "" : `: a space is missing after the colon (\`${meant}\`)`;
}

/**
 * Whether `word` is a value, not a key: a number, an address, a CIDR (`20`,
 * `10.0.2.11/24`, `fd00::2/64`). In linear time: a key is the file's to
 * make as long as it likes (a regular expression with two `[0-9a-f:]*`
 * around a colon took minutes over a key of `a:` repeated).
 */
function valueWord(word: string): boolean {
  if (/^[\d.]+(\/\d+)?$/.test(word)) return true;
  const slash = word.indexOf("/");
  const addr = slash < 0 ? word : word.slice(0, slash);
  return (slash < 0 || /^\d+$/.test(word.slice(slash + 1))) && isIpv6(addr);
}

/** Whether `pair` is a value-looking key with no value: one item of a list written without brackets. */
function strayValue(pair: Pair | undefined): boolean {
  return pair !== undefined && pair.value === null && isScalar(pair.key) &&
    valueWord(String(pair.key.value));
}

/**
 * For a key with no value in a flow map (`{ vlans: 10, 20 }` holds the key
 * `20`) that looks like a value, the list the pair before it meant (`vlans:
 * [10, 20]`), said at the first such key with every one that follows it, and
 * "" at those (said already); undefined for any other key.
 */
export function listAfterComma(items: readonly Pair[], pair: Pair): string | undefined {
  const at = items.indexOf(pair);
  if (!strayValue(pair)) return undefined;
  if (strayValue(items[at - 1])) return "";
  const first = items[at - 1];
  if (first === undefined || !isScalar(first.key) || !isScalar(first.value)) return undefined;
  let end = at;
  while (strayValue(items[end + 1])) end++;
  const values = [first.value, ...items.slice(at, end + 1).map((p) => p.key)].map((n) =>
    String((n as Scalar).value)
  );
  return `a second value after a comma is a key of its own; a list is written in brackets: ` +
    `${first.key.value}: [${values.join(", ")}]`;
}
