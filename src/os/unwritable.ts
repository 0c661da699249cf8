/**
 * What to do about a file a program is told to write and may not (`--logfile`
 * and `--pidfile` under /var/log or /run, root's, given by a user). The
 * OS says only "Permission denied (os error 13)", which names neither the
 * file nor whose directory refused it; the line here names both, and the
 * two ways out: a file in a directory of the user's own, or one root makes
 * for the user beforehand (then the program only opens it).
 */
import { dirOf, exists } from "./paths.ts";
import { ownerAndMode, userName } from "./users.ts";

/**
 * `: WHY; what to do`, to follow a line naming `path`, for a failure `err` to
 * create or open it as option `option`; the OS's words where the refusal is no permission.
 */
export function unwritable(path: string, option: string, err: unknown, uid = Deno.uid() ?? -1): string {
  if (!(err instanceof Deno.errors.PermissionDenied)) return `: ${(err as Error).message}`;
  const absolute = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  const dir = dirOf(absolute);
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
