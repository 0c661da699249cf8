/**
 * A directory of the user's own under a shared one, such as `/tmp/vde-UID`
 * where a user without a runtime directory keeps labs and cable locks.
 * Its name is predictable, so another user may make it first: anything
 * put in it then is theirs to rename, replace or read (a lab's control
 * socket, its log, a cable's lock). It is therefore made mode 700, and one
 * already there is taken only when it is a real directory of this user's;
 * one that others may write is narrowed to 700 first, through a descriptor
 * (held_dir.ts): in a /tmp without its sticky bit another user could swap
 * the name between our look and our chmod.
 */
import { holdDirectory } from "./held_dir.ts";
import { ownerAndMode } from "./users.ts";

/**
 * `path`, made (mode 700) when missing, once it is known to be this user's alone.
 *
 * @throws Error in one line when it is a symlink, no directory, or another user's
 */
export function privateDir(path: string, uid: number = Deno.uid() ?? -1): string {
  Deno.mkdirSync(path, { mode: 0o700, recursive: true });
  const st = Deno.lstatSync(path);
  if (st.isSymlink || !st.isDirectory || st.uid !== uid) {
    throw notYours(
      path,
      st.isSymlink ? "a symlink" : !st.isDirectory ? "not a directory" : ownerAndMode(path),
    );
  }
  if (((st.mode ?? 0) & 0o077) !== 0) {
    const dir = holdDirectory(path);
    try {
      if (dir.uid !== uid) throw notYours(path, ownerAndMode(path));
      dir.chmod(0o700);
    } finally {
      dir.close();
    }
  }
  return path;
}

function notYours(path: string, what: string): Error {
  return new Error(
    `${path} is not a directory of yours alone (${what}): another user made it first, where your labs and ` +
      `cable locks would go; have it removed (root: rm -r ${path}), or set XDG_RUNTIME_DIR to a directory of yours`,
  );
}
