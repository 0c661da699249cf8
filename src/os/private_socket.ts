/**
 * A unix socket only its owner may connect to, whatever the umask: a
 * rootless lab's `NODE.outside`, which the lab takes as its process outside
 * (the first connection is the node), in a directory made 0711 once a
 * switch lets others in, whose names a guess finds; or one of a mode given
 * (a switch's capture socket, `--capture-mode`), never wider meanwhile.
 *
 * Theory of operation. bind() gives the socket file 0777 less the umask,
 * and a chmod after it leaves a moment in which another user could connect
 * first. The process-wide umask cannot be narrowed for the bind alone
 * (Deno's file operations on other threads would make their files under
 * it). So the socket is bound in a directory of its own made mode 700 in
 * the same directory, given 0600 there (nobody else can reach it yet), and
 * renamed onto its name, where it is whole from its first moment; the
 * directory is then removed. Without `replace` it is linked there instead,
 * which fails on a name taken, as a bind there would.
 */

/**
 * Listens on unix socket `path`, mode `mode` (0600) from the start; `replace` (the default) takes the
 * name whatever is there, else a name taken fails (AlreadyExists).
 *
 * @throws Deno's error when the socket cannot be bound or put at `path`
 */
export function listenPrivate(path: string, mode = 0o600, replace = true): Deno.UnixListener {
  const staging = stagingBeside(path);
  try {
    const bound = `${staging}/s`;
    const listener = Deno.listen({ transport: "unix", path: bound });
    try {
      // By name, safely: nobody else may enter the directory, so nothing can be swapped in for it.
      Deno.chmodSync(bound, mode);
      if (replace) Deno.renameSync(bound, path);
      else {
        Deno.linkSync(bound, path);
        Deno.removeSync(bound);
      }
    } catch (err) {
      listener.close();
      try {
        Deno.removeSync(bound);
      } catch { /* not made, or moved */ }
      throw err;
    }
    return listener;
  } finally {
    Deno.removeSync(staging);
  }
}

/** Who a socket file is given to before it appears at its name (chown's; root alone may give a uid). */
export interface SocketOwner {
  uid?: number;
  gid?: number;
}

/**
 * Puts a socket file at `path` whose mode is `mode` from its first moment,
 * as listenPrivate does: `bind(staged)` binds it in a private directory, and
 * the name is then linked onto `path`, which never replaces one there (a
 * name taken in the meantime is AlreadyExists, as bind's EADDRINUSE).
 * `owner`, when given, is the file's owner and group from that moment too.
 *
 * @throws what `bind` throws, or Deno's error when the name cannot be put at `path`
 */
export function bindPrivately(
  path: string,
  mode: number,
  bind: (staged: string) => void,
  owner?: SocketOwner,
): void {
  const staging = stagingBeside(path);
  const staged = `${staging}/s`;
  try {
    bind(staged);
    // By name, safely: nobody else may enter the directory, so nothing can be swapped in for it.
    if (owner?.uid !== undefined || owner?.gid !== undefined) {
      Deno.chownSync(staged, owner.uid ?? null, owner.gid ?? null);
    }
    Deno.chmodSync(staged, mode);
    Deno.linkSync(staged, path);
  } finally {
    try {
      Deno.removeSync(staged);
    } catch { /* never bound */ }
    Deno.removeSync(staging);
  }
}

/** A new private directory (stagingDir) in the directory of `path`. */
function stagingBeside(path: string): string {
  const cut = path.lastIndexOf("/");
  const dir = cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
  return stagingDir(dir === "/" ? "" : dir);
}

/**
 * A new directory of mode 700 in `dir`, `.N`: short, so that its socket's path is no longer than the
 * socket's own name there (a unix socket's path has a bound; a rename's has none), and made anew
 * (mkdir fails on a name taken), so nobody else's.
 */
function stagingDir(dir: string): string {
  for (let n = 0;; n++) {
    try {
      Deno.mkdirSync(`${dir}/.${n}`, { mode: 0o700 });
      // mkdir's mode is cut by the umask too: under 0277 or 0777 the directory came 0500 or 0000 and the
      // bind in it failed (EACCES) for any user but root. Only the owner's bits are given back.
      Deno.chmodSync(`${dir}/.${n}`, 0o700);
      return `${dir}/.${n}`;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists) || n >= 99) throw err;
    }
  }
}
