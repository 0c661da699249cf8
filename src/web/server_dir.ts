/**
 * The private directory a guarded HTTP server's unix socket lives in, and
 * the sweep of those that killed servers left behind.
 *
 * A server killed by SIGKILL (or the OOM killer) cannot remove its
 * directory and socket, so every such death left one in the temp directory
 * for good. Each directory's name carries its server's pid
 * (`vde-http-PID-XXXXXX`), and a new server removes those of its own uid
 * whose server is gone: the pid runs no process here, and the socket
 * answers no connect (a server in another pid namespace that shares /tmp
 * still answers, so it keeps its directory). Only a real directory (not a
 * symlink another user planted: lstat), owned by this uid, mode 0700, is
 * touched, and only its socket `s` (a socket: connect refuses a regular
 * file as it refuses a dead socket) is unlinked before the empty directory
 * is removed: nothing recursive, so nothing outside it can be reached. An
 * abstract unix socket (which Deno 2.9.6 can bind) would leave nothing, but
 * it has no permissions: any local user could connect to the server around
 * the guard.
 */

import { exists } from "../os/paths.ts";

/** The socket's name inside the directory. */
export const SOCKET_NAME = "s";

const PREFIX = "vde-http-";
const NAME = /^vde-http-(\d+)-[^/]+$/;

/** Makes this process's server directory (0700 whatever the umask); returns its path. */
export function makeServerDir(): string {
  return Deno.makeTempDirSync({ prefix: `${PREFIX}${Deno.pid}-` });
}

/**
 * Removes the server directories in `parent` (but `keep`) of this uid whose
 * server is gone; says how many. Never throws.
 */
export async function sweepDeadServerDirs(parent: string, keep: string): Promise<number> {
  let removed = 0;
  const uid = Deno.uid();
  try {
    for await (const entry of Deno.readDir(parent)) {
      const pid = NAME.exec(entry.name)?.[1];
      const dir = `${parent}/${entry.name}`;
      if (pid === undefined || Number(pid) === Deno.pid || dir === keep) continue;
      if (await isDeadServerDir(dir, Number(pid), uid)) {
        try {
          await Deno.remove(`${dir}/${SOCKET_NAME}`).catch((err) => {
            if (!(err instanceof Deno.errors.NotFound)) throw err;
          });
          await Deno.remove(dir);
          removed++;
        } catch { /* not ours to take after all, or gone */ }
      }
    }
  } catch { /* the temp directory cannot be read: nothing to sweep */ }
  return removed;
}

async function isDeadServerDir(dir: string, pid: number, uid: number | null): Promise<boolean> {
  try {
    const st = await Deno.lstat(dir);
    if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o777) !== 0o700) return false;
  } catch {
    return false;
  }
  if (exists(`/proc/${pid}`)) return false;
  const socket = `${dir}/${SOCKET_NAME}`;
  try {
    // Only a socket is a server's: connect refuses a regular file alike, which would be unlinked.
    if ((await Deno.lstat(socket)).isSocket !== true) return false;
  } catch (err) {
    return err instanceof Deno.errors.NotFound; // a server killed before it bound
  }
  try {
    (await Deno.connect({ transport: "unix", path: socket })).close();
    return false;
  } catch (err) {
    // Refused: a socket nobody listens on.
    return err instanceof Deno.errors.ConnectionRefused;
  }
}
