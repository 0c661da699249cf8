/**
 * Variables in a lab file, expanded in its text before the YAML is read, as
 * containerlab expands its topology files: `${VAR}` is VAR's value, and
 * `${VAR:=default}` (or `:-`) its value unless it is unset or empty, then
 * the default; `${VAR=default}` (or `-`) only when it is unset;
 * `${VAR:+other}` (`+`) is `other` when VAR is set (and not empty), else
 * nothing. `$${` writes a plain `${` (and `$$X` a plain `$X`).
 *
 * Theory of operation. One pass over the text finds each `${`; what stands
 * inside the braces up to the matching `}` is a name, an operator and a
 * default, which may hold variables itself (expanded the same way). A
 * variable with no value and no default is a mistake, reported at its line
 * and column as the validator reports the file's others, never left empty:
 * an empty `name:` or port would be reported as something it is not. A
 * bare `$VAR` (containerlab's other spelling) is left as written, so a
 * shell variable in a host's `exec` (`for i in 1 2; do echo $i; done`) and
 * the `# yaml-language-server: $schema=...` line keep their meaning.
 * Each variable read from the environment is recorded with its value: the
 * lab keeps them (state.json), so what reads its file later (`vde graph`
 * of the running lab) sees the file as the lab was brought up.
 *
 * The text is the user's, but it is still input: defaults nest at most
 * MAX_NESTING deep (the expansion recurses once per level, and a file of
 * `${A:=${A:=...` would otherwise end in a stack overflow, not a line), and
 * an unclosed `${` ends its line's expansion (the rest is kept as written),
 * so a line of many unclosed `${` costs one scan, not one per `${`. A name
 * is looked up as written, even one Object.prototype has (`${constructor}`):
 * `used` is built without a prototype, and what looks it up again
 * (recordedLookup) asks for own properties only.
 */
import type { LabError } from "./validate.ts";

/** A variable's value where it is set; undefined where it is not. */
export type Lookup = (name: string) => string | undefined;

/** A file's text with its variables expanded, or the mistakes that stop it. */
export interface Expanded {
  text: string;
  errors: LabError[];
  /** Each variable whose value came from `lookup`, with that value. */
  used: Record<string, string>;
  /**
   * Where in the file a line and column of `text` came from: the same
   * place in what was copied as written, the `${` of what a variable gave.
   * The validator reads `text`; its mistakes are said where the file has them.
   */
  at(line: number, col: number): { line: number; col: number };
}

/** A run of the expanded text from `src` on: copied as written (`literal`), or what the `${` there gave. */
interface Piece {
  out: number;
  src: number;
  literal: boolean;
}

/** The line starts of `text` (offsets), for turning an offset into a line and column and back. */
function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return starts;
}

/** The 1-based line and column of `offset` in the text whose line starts are `starts`. */
function lineCol(starts: number[], offset: number): { line: number; col: number } {
  let lo = 0;
  for (let hi = starts.length - 1; lo < hi;) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 };
}

/** A variable's name, as a shell takes it. */
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Operators after a name: `:=` and `:-` (unset or empty), `=` and `-` (unset), `:+` and `+` (set). */
const OPERATOR = /^(:?[-=+])/;

/** How deep defaults may nest (`${A:=${B:=${C}}}` is 3): far beyond a real file's, far short of the stack's. */
export const MAX_NESTING = 32;

/** Whether `text` has a variable to expand (a `${` that is not `$${`). */
export function hasVariables(text: string): boolean {
  return /(^|[^$])\$\{/.test(text);
}

/**
 * The lookup of the variables `used` recorded (a running lab's, from its
 * state.json): one it did not record is unset. Own properties only:
 * `${constructor}` is a variable the lab did not have, not Object's.
 */
export function recordedLookup(used: Record<string, string>): Lookup {
  return (name) => Object.hasOwn(used, name) ? used[name] : undefined;
}

/**
 * The variables this environment (`here`: what a file's expansion took from
 * it) gives other values than the running lab recorded (`had`), each as
 * `NAME=value` here and what the lab keeps: `vde up --apply` from another
 * shell reads the file with the lab's values, and says which of this
 * shell's it did not take (a new value takes `vde up -c`).
 */
export function variablesNotTaken(
  here: Record<string, string>,
  had: Record<string, string>,
): { name: string; here: string; kept: string | undefined }[] {
  const kept = recordedLookup(had);
  return Object.keys(here).filter((n) => kept(n) !== here[n]).map((name) => ({
    name,
    here: here[name]!,
    kept: kept(name),
  }));
}

/** Expands the variables of `text` with `lookup` (the environment, by default). */
export function expandVariables(text: string, lookup: Lookup = (n) => Deno.env.get(n)): Expanded {
  const errors: LabError[] = [];
  // No prototype: a variable named `__proto__` is recorded as any other.
  const used: Record<string, string> = Object.create(null);
  const lineStarts = lineStartsOf(text);
  const error = (at: number, message: string) => errors.push({ ...lineCol(lineStarts, at), message });
  // The top level's output, piece by piece, so a position in it is found in the file.
  const pieces: Piece[] = [];
  const value = (name: string): string | undefined => {
    const v = lookup(name);
    if (v !== undefined) used[name] = v;
    return v;
  };

  /** Expands text[from, to): the whole file, or a default inside braces. */
  const expand = (from: number, to: number, depth: number): string => {
    let out = "";
    const emit = (piece: string, src: number, literal: boolean) => {
      if (depth === 0 && piece.length > 0) pieces.push({ out: out.length, src, literal });
      out += piece;
    };
    let i = from;
    while (i < to) {
      const at = text.indexOf("$", i);
      if (at < 0 || at >= to) {
        emit(text.slice(i, to), i, true);
        break;
      }
      emit(text.slice(i, at), i, true);
      // containerlab's escape: `$${X}` and `$$X` are a plain `${X}` and `$X` (a shell's `$$` stays).
      if (text[at + 1] === "$" && /[{A-Za-z_]/.test(text[at + 2] ?? "")) {
        emit("$", at, false);
        i = at + 2;
        continue;
      }
      if (text[at + 1] !== "{") {
        emit("$", at, true);
        i = at + 1;
        continue;
      }
      const close = matchingBrace(text, at + 2, to);
      if (close < 0) {
        error(at, "`${` without its `}` on its line: write `$${` for a plain `${`");
        // The rest of the line as written: each later `${` on it would scan it again.
        const end = text.indexOf("\n", at);
        i = end < 0 || end > to ? to : end;
        emit(text.slice(at, i), at, true);
        continue;
      }
      if (depth >= MAX_NESTING) {
        error(at, `variables nested more than ${MAX_NESTING} deep`);
        i = close + 1;
        continue;
      }
      emit(variable(at, close, depth + 1), at, false);
      i = close + 1;
    }
    return out;
  };

  /** The value of the `${...}` at text[at, close]. */
  const variable = (at: number, close: number, depth: number): string => {
    const inside = text.slice(at + 2, close);
    const name = NAME.exec(inside)?.[0];
    if (name === undefined) {
      error(
        at,
        `\`\${${inside}}\` is no variable: a name is letters, digits and _ (write \`$\${\` for a plain \`\${\`)`,
      );
      return "";
    }
    const op = OPERATOR.exec(inside.slice(name.length))?.[0];
    if (op === undefined && name.length !== inside.length) {
      error(
        at,
        `\`\${${inside}}\`: after the name comes \`}\`, or a default as \`\${${name}:=VALUE}\``,
      );
      return "";
    }
    const v = value(name);
    if (op === undefined) {
      if (v !== undefined) return v;
      error(at, `variable ${name} is not set (set it, or give a default: \${${name}:=VALUE})`);
      return "";
    }
    const start = at + 2 + name.length + op.length;
    const set = op.startsWith(":") ? v !== undefined && v !== "" : v !== undefined;
    if (op.endsWith("+")) return set ? expand(start, close, depth) : "";
    return set ? v! : expand(start, close, depth);
  };

  const expanded = expand(0, text.length, 0);
  let outStarts: number[] | undefined;
  const at = (line: number, col: number) => {
    outStarts ??= lineStartsOf(expanded);
    const offset = (outStarts[line - 1] ?? expanded.length) + col - 1;
    // The last piece that starts at or before it (pieces are in order).
    let lo = 0;
    for (let hi = pieces.length - 1; lo < hi;) {
      const mid = (lo + hi + 1) >> 1;
      if (pieces[mid]!.out <= offset) lo = mid;
      else hi = mid - 1;
    }
    const p = pieces[lo];
    if (p === undefined) return { line, col };
    return lineCol(lineStarts, p.literal ? p.src + offset - p.out : p.src);
  };
  // A plain object again; spreading defines `__proto__` as its own property, as it was recorded.
  return { text: expanded, errors, used: { ...used }, at };
}

/** Where the `}` that closes a `${` opened before `from` is (nested `${...}` skipped), or -1. */
function matchingBrace(text: string, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (c === "\n") return -1;
    if (c === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}
