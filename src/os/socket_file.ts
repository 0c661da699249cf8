/**
 * Mode and group for a socket file just bound in a directory others may
 * write: a client's in a C vde_switch's 2770 directory (no sticky bit), a
 * switch's own ctl, port and mgmt sockets in a directory it found and left
 * as it was (see switch_server's notASwitchDir). chmod and
 * chown by name follow a symlink, so a member of the directory's group who
 * swapped one in for the name between the bind and the chmod would have us
 * give our own files (a key, ~/.ssh) to the group. The name is opened
 * instead without following it (O_PATH, O_NOFOLLOW), checked to be a socket
 * of ours, and changed through that descriptor (/proc/self/fd/N, as glibc's
 * lchmod does): whatever is renamed meanwhile, only that socket is touched.
 */
import { C, cstr, errno, libc, SysError } from "../../ffi/libc.ts";
import { descriptorAdvice } from "./fd_limit.ts";

/**
 * Gives the socket at `path` `mode`, and first group `gid` and owner `uid` (root only) when given.
 *
 * @throws Error when the name is no socket of ours any more, or the kernel refuses
 */
export function giveSocketFile(path: string, mode: number, gid?: number, uid?: number): void {
  const fd = libc().open(cstr(path), C.O_PATH | C.O_NOFOLLOW | C.O_CLOEXEC, 0);
  if (fd < 0) {
    const err = new SysError("open", errno());
    const advice = descriptorAdvice(err, "this program", "about 2 a link");
    throw new Error(`cannot open ${path}: ${err.message}${advice === undefined ? "" : `: ${advice}`}`);
  }
  try {
    const held = `/proc/self/fd/${fd}`;
    const st = Deno.statSync(held);
    if (!st.isSocket || st.uid !== libc().geteuid()) {
      throw new Error(`${path} is no socket of ours any more (replaced since it was bound): left as it is`);
    }
    if (gid !== undefined || uid !== undefined) Deno.chownSync(held, uid ?? null, gid ?? null);
    Deno.chmodSync(held, mode);
  } finally {
    libc().close(fd);
  }
}
