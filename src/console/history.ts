/**
 * Command history kept across sessions in the user's home (`~/.vde_history`,
 * shared by the switch's console and `vde term`), oldest line first, at
 * most `MAX_HISTORY` lines. A history that cannot be read or written is
 * not an error: the console simply starts without one.
 */

/** Lines kept. */
export const MAX_HISTORY = 1000;

/** The history file: $VDE_HISTORY, else ~/.vde_history; undefined without a home. */
export function historyPath(): string | undefined {
  const explicit = Deno.env.get("VDE_HISTORY");
  if (explicit !== undefined && explicit !== "") return explicit;
  const home = Deno.env.get("HOME");
  return home === undefined || home === "" ? undefined : `${home}/.vde_history`;
}

/** Reads the history newest first (node:readline's order); [] when there is none. */
export function loadHistory(path: string | undefined): string[] {
  if (path === undefined) return [];
  try {
    const lines = Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "");
    return lines.slice(-MAX_HISTORY).reverse();
  } catch {
    return [];
  }
}

/** Writes the history (given newest first) back, oldest first, readable only by the user. */
export function saveHistory(path: string | undefined, newestFirst: readonly string[]): void {
  if (path === undefined) return;
  const lines = newestFirst.slice(0, MAX_HISTORY).reverse();
  try {
    Deno.writeTextFileSync(path, lines.length === 0 ? "" : `${lines.join("\n")}\n`, { mode: 0o600 });
  } catch { /* no writable home: keep the history in memory only */ }
}
