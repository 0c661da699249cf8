/**
 * A switch path mistyped by a letter (`/tmp/nte` for `/tmp/net`): the
 * switches serving beside it, by a name near the typed one, so the line that
 * says no switch is there also says which one was meant, as a lab switch's
 * name is answered (src/lab/switch_paths.ts). Read on an error path only:
 * one listing of the parent directory, a look for `ctl` inside the entries
 * whose name is near; no lab code, so `vde plug` may load it.
 */
import { dirOf, isSocket } from "../os/paths.ts";
import { didYouMeanClause, editDistance } from "../did_you_mean.ts";

/** Entries of the parent read at most: /tmp may hold many, and this is only a hint. */
const MAX_ENTRIES = 4096;

/** The nearest names shown. */
const MAX_NEAR = 3;

/**
 * Switch directories (a `ctl` socket inside) beside `path` whose name is a
 * typo's distance from its last part, the nearest of them, written as `path` is
 * (`net`, `./net`, `/tmp/net`). Empty when none, or the parent is unreadable.
 */
export function nearSwitchDirs(path: string): string[] {
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
      if (d <= limit && isSocket(`${parent}/${e.name}/ctl`)) scored.push([d, e.name]);
    }
  } catch {
    return []; // a missing or unreadable parent: no hint, the error says the rest
  }
  // Only the nearest: `net` a letter off is meant over `w` two letters off.
  const best = Math.min(...scored.map(([d]) => d));
  return scored.filter(([d]) => d === best).map(([, n]) => n).sort().slice(0, MAX_NEAR)
    .map((n) => `${shownParent}${n}`);
}

/** ` (did you mean /tmp/net?)` for a switch beside `path` by a near name, or "". */
export function nearSwitchClause(path: string): string {
  return didYouMeanClause(nearSwitchDirs(path));
}
