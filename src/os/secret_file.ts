/**
 * A small file holding a secret (a cable key, a web token), read where its
 * name may be another user's choice: root's `--key /tmp/lab.key` may name a
 * file, a FIFO or a link to /dev/zero that a user put there first.
 *
 * Theory of operation. The file is opened without blocking (a FIFO's open
 * waits for a writer, for good), and its descriptor decides: a regular file
 * that neither group nor others may read, whoever owns it (a secret others
 * could have read authenticates nobody; ssh asks that of the user's own
 * keys only). Only then is it read, up to a bound, through that very
 * descriptor. The caller words each outcome in its own terms.
 */
import { C, cstr, errno, fstatOf, libc, strerror } from "../../ffi/libc.ts";
import { readAtMost } from "../io/read_at_most.ts";

/** What reading a secret file came to. */
export type SecretFile =
  | { text: string }
  /** Group or others may read it: `mode` is its permission bits. */
  | { openTo: number }
  | { notRegular: "directory" | "other" }
  /** It could not be opened or read: the OS's words; `missing` when there is no such file. */
  | { failed: string; missing: boolean };

/** The first `maxBytes` of secret file `path` as text, or why it is not taken. */
export async function readSecretFile(path: string, maxBytes: number): Promise<SecretFile> {
  const c = libc();
  const fd = c.open(cstr(path), C.O_RDONLY | C.O_NONBLOCK | C.O_CLOEXEC, 0);
  if (fd < 0) {
    const code = errno();
    return { failed: `${strerror(code)} (os error ${code})`, missing: code === C.ENOENT };
  }
  try {
    const st = fstatOf(fd);
    const type = (st?.mode ?? 0) & C.S_IFMT;
    if (type === C.S_IFDIR) return { notRegular: "directory" };
    if (st === null || type !== C.S_IFREG) return { notRegular: "other" };
    if ((st.mode & 0o077) !== 0) return { openTo: st.mode & 0o777 };
    const bytes = await readAtMost(`/proc/self/fd/${fd}`, maxBytes);
    return { text: new TextDecoder().decode(bytes) };
  } catch (err) {
    return { failed: err instanceof Error ? err.message : String(err), missing: false };
  } finally {
    c.close(fd);
  }
}
