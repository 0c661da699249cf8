/**
 * What to do about a file a program is told to write and may not (`--logfile`
 * and `--pidfile` under /var/log or /run, root's, given by a user). The
 * OS says only "Permission denied (os error 13)", which names neither the
 * file nor whose directory refused it; the line here names both, and the
 * two ways out: a file in a directory of the user's own, or one root makes
 * for the user beforehand (then the program only opens it). A directory a
 * program makes (a switch's `--sock`) is said the same way, and so is a
 * parent that is missing, which the OS says as "No such file or directory".
 */
import { dirOf, exists } from "./paths.ts";
import { ownerAndMode, userName } from "./users.ts";
import { writeFailure } from "./write_failure.ts";

/**
 * `: WHY; what to do`, to follow a line naming `path`, for a failure `err` to
 * create or open it as option `option` (a missing directory: which to make); the OS's words for any
 * other refusal.
 */
export function unwritable(path: string, option: string, err: unknown, uid = Deno.uid() ?? -1): string {
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = dirOf(absolute);
  if (err instanceof Deno.errors.NotFound && !exists(dir)) {
    return `: its directory ${dir} does not exist (mkdir -p ${dir} first, or give another ${option})`;
  }
  if (!(err instanceof Deno.errors.PermissionDenied)) return `: ${writeFailure(err)}`;
  const there = exists(absolute);
  const who = userName(uid);
  const refused = there
    ? `it is there and ${who} may not write it (${ownerAndMode(absolute)})`
    : `${who} may not create files in ${dir} (${ownerAndMode(dir)})`;
  const fix = there ? `chown ${who} ${absolute}` : `install -o ${who} -m 644 /dev/null ${absolute}`;
  return `: ${refused}; give one in a directory of yours (${option} ~/${
    absolute.slice(dir.length + 1)
  }), or have root make it yours first (${fix})`;
}

/**
 * `: WHY; what to do`, to follow a line naming directory `path` that could not be made as option
 * `option` (`--sock /var/run/net` given by a user, `--sock /tmp/lab/net` before /tmp/lab exists); the
 * OS's words for any other failure.
 */
export function unmakeableDir(path: string, option: string, err: unknown, uid = Deno.uid() ?? -1): string {
  const absolute = (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`).replace(/\/+$/, "");
  const parent = dirOf(absolute);
  if (err instanceof Deno.errors.NotFound && !exists(parent)) {
    return `: its parent ${parent} does not exist (mkdir -p ${parent} first, or give another ${option})`;
  }
  if (!(err instanceof Deno.errors.PermissionDenied)) return `: ${writeFailure(err)}`;
  const who = userName(uid);
  return `: ${who} may not create files in ${parent} (${ownerAndMode(parent)}); give one in a directory of ` +
    `yours (${option} /tmp/${who}-${absolute.slice(parent.length + 1)})`;
}
