/**
 * A path mistyped by a letter or two (`/tmp/nte` for `/tmp/net`,
 * `lab.yml` for `lab.yaml`): the entries beside it whose name is that near,
 * of the kind the caller wants, so the error that says nothing is there also
 * says what was meant. Read on an error path only: one listing of the parent
 * directory (bounded), and `accept` asked of the near names alone.
 */
import { dirOf } from "./paths.ts";
import { editDistance } from "../did_you_mean.ts";

/** Entries of the parent read at most: /tmp may hold many, and this is only a hint. */
const MAX_ENTRIES = 4096;

/** The nearest names given. */
const MAX_NEAR = 3;

/**
 * Entries beside `path` whose name is a typo's distance from its last part
 * and that `accept` (given the entry's path) takes, the nearest of them,
 * written as `path` is (`net`, `./net`, `/tmp/net`). Empty when none, or
 * the parent is missing or unreadable.
 */
export function nearEntries(path: string, accept: (entry: string) => boolean): string[] {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  const name = trimmed.slice(slash + 1);
  if (name === "" || name === "." || name === "..") return [];
  const shownParent = slash < 0 ? "" : `${slash === 0 ? "" : dirOf(trimmed)}/`;
  const parent = slash < 0 ? "." : dirOf(trimmed);
  // A typo is a letter or two: a long name (`ci-4242`) is not near another job's (`ci-4243x`) by its length.
  const limit = Math.min(2, Math.max(1, Math.ceil(name.length / 3)));
  const scored: [number, string][] = [];
  try {
    let seen = 0;
    for (const e of Deno.readDirSync(parent)) {
      if (++seen > MAX_ENTRIES) break;
      if (e.name === name) continue;
      const d = editDistance(name, e.name, limit);
      if (d <= limit && accept(`${parent}/${e.name}`)) scored.push([d, e.name]);
    }
  } catch {
    return []; // a missing or unreadable parent: no hint, the error says the rest
  }
  // Only the nearest: `net` a letter off is meant over `w` two letters off.
  const best = Math.min(...scored.map(([d]) => d));
  return scored.filter(([d]) => d === best).map(([, n]) => n).sort().slice(0, MAX_NEAR)
    .map((n) => `${shownParent}${n}`);
}
