/**
 * A switch path mistyped by a letter (`/tmp/nte` for `/tmp/net`): the
 * switches serving beside it, by a name near the typed one, so the line that
 * says no switch is there also says which one was meant, as a lab switch's
 * name is answered (src/lab/switch_paths.ts). No lab code, so `vde plug`
 * may load it.
 */
import { isSocket } from "../os/paths.ts";
import { nearEntries } from "../os/near_entries.ts";
import { didYouMeanClause } from "../did_you_mean.ts";

/** Switch directories (a `ctl` socket inside) beside `path` by a name a typo away (os/near_entries.ts). */
export function nearSwitchDirs(path: string): string[] {
  return nearEntries(path, (entry) => isSocket(`${entry}/ctl`));
}

/** ` (did you mean /tmp/net?)` for a switch beside `path` by a near name, or "". */
export function nearSwitchClause(path: string): string {
  return didYouMeanClause(nearSwitchDirs(path));
}
