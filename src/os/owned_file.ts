/**
 * A small file of one user's, read by root (or anyone) who must not trust
 * what the path leads to: root's `vde status` reads users' lab state files
 * at paths their processes' environments name, which those users choose.
 *
 * Theory of operation. A plain read would follow a symlink the user put
 * there (to /dev/zero: a read without end) and block for good on a FIFO,
 * hanging root's command. So the file is opened without following a final
 * symlink and without blocking (O_NOFOLLOW | O_NONBLOCK), and is taken only
 * when, by its descriptor, it is a regular file owned by that user; its
 * text is read up to a bound, and a longer one is not taken.
 */
import { C, cstr, fstatOf, libc } from "../../ffi/libc.ts";

/** Most a state file is: a lab's record is a few hundred bytes, its variables a few more. */
const MAX_BYTES = 1 << 20;

/** The text of regular file `path` when it is user `uid`'s and at most `maxBytes` long; else undefined. */
export function readOwnedFile(path: string, uid: number, maxBytes = MAX_BYTES): string | undefined {
  const c = libc();
  const fd = c.open(cstr(path), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    const st = fstatOf(fd);
    if (st === null || (st.mode & C.S_IFMT) !== C.S_IFREG || st.uid !== uid) return undefined;
    const buf = new Uint8Array(maxBytes + 1);
    let got = 0;
    while (got < buf.length) {
      const n = c.read(fd, buf.subarray(got), buf.length - got);
      if (n < 0) return undefined;
      if (n === 0) break;
      got += n;
    }
    return got > maxBytes ? undefined : new TextDecoder().decode(buf.subarray(0, got));
  } finally {
    c.close(fd);
  }
}
