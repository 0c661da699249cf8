/**
 * Tab completion for the switch's console and `vde term`: command names,
 * then each argument by what the command's `help` syntax says it is (port
 * numbers for `N` in the port menu, MAC addresses for `MAC`, 0/1, on/off,
 * debug categories, command names for `help`, file names for `load`).
 * Driving it by the syntax text means a remote switch's `help` is all
 * `vde term` needs to complete its commands too.
 */

/** Where completion candidates come from: the local switch or a remote one. */
export interface CompletionSource {
  /** Every runnable command path. */
  commands(): Promise<string[]>;
  /** The syntax column of `help` for a command, if known. */
  syntax(path: string): Promise<string | undefined>;
  /** Allocated port numbers. */
  ports(): Promise<number[]>;
  /** Learnt MAC addresses. */
  macs(): Promise<string[]>;
  /** Debug category paths. */
  debugCategories(): Promise<string[]>;
  /**
   * When `word` opens a console of its own (a lab's switch: `sw1 port/print`),
   * the source for the rest of the line.
   */
  nested?(word: string): Promise<CompletionSource | undefined>;
}

/** What kind of value an argument position takes. */
export type ArgKind = "port" | "bool" | "onoff" | "mac" | "debug" | "command" | "path" | "all" | "none";

/** The kind of argument `index` (0-based) of `command`, from its syntax text. */
export function argKind(command: string, syntax: string, index: number): ArgKind {
  const token = syntax.split(/\s+/).filter((t) => t !== "")[index];
  if (token === undefined) return "none";
  const bare = token.replace(/^\[|\]$/g, "");
  if (bare === "0/1" || bare === "1/0") return "bool";
  if (bare === "on|off") return "onoff";
  if (bare === "MAC") return "mac";
  if (bare === "dbgpath") return "debug";
  if (bare === "arg" && command === "help") return "command";
  if (bare === "path") return "path";
  if (bare === "all") return "all";
  // N is a port only in the port menu (hash/setsize N is a size); PORT always is.
  if (bare === "PORT" || (bare === "N" && command.startsWith("port/"))) return "port";
  return "none";
}

/**
 * Completes `line`: returns the candidates and the word they replace, in
 * node:readline's completer shape.
 */
export async function complete(line: string, source: CompletionSource): Promise<[string[], string]> {
  const leading = line.match(/^\s*/)![0];
  const rest = line.slice(leading.length);
  const parts = rest.split(/\s+/);
  const partial = parts.at(-1) ?? "";
  if (parts.length <= 1) {
    const all = await source.commands();
    return [unique(all.filter((c) => c.startsWith(partial))), partial];
  }
  const command = parts[0]!;
  const inner = await source.nested?.(command);
  if (inner !== undefined) return await complete(rest.slice(command.length).replace(/^\s+/, ""), inner);
  const syntax = await source.syntax(command);
  if (syntax === undefined) return [[], partial];
  const kind = argKind(command, syntax, parts.length - 2);
  const candidates = await candidatesFor(kind, partial, source);
  return [unique(candidates.filter((c) => c.startsWith(partial))), partial];
}

async function candidatesFor(kind: ArgKind, partial: string, source: CompletionSource): Promise<string[]> {
  switch (kind) {
    case "port":
      return (await source.ports()).map(String);
    case "bool":
      return ["0", "1"];
    case "onoff":
      return ["on", "off"];
    case "all":
      return ["all"];
    case "mac":
      return await source.macs();
    case "debug":
      return await source.debugCategories();
    case "command":
      return await source.commands();
    case "path":
      return listPaths(partial);
    default:
      return [];
  }
}

// File names for `load`: entries of the directory part of what was typed,
// directories with a trailing slash so Tab can go on descending.
function listPaths(partial: string): string[] {
  const slash = partial.lastIndexOf("/");
  const dir = slash < 0 ? "." : partial.slice(0, slash + 1) || "/";
  const prefix = slash < 0 ? "" : partial.slice(0, slash + 1);
  const out: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      out.push(`${prefix}${entry.name}${entry.isDirectory ? "/" : ""}`);
      if (out.length >= 1000) break;
    }
  } catch { /* unreadable: nothing to offer */ }
  return out.sort();
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
