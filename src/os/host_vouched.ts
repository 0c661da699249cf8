/**
 * What a process on the machine vouches for to one it starts or enters in a
 * rootless lab's user namespace (trusted_path.ts: there root's steps show
 * as the overflow uid, as every other unmapped user's do, and only those
 * vouched for are trusted).
 *
 * Theory of operation. Root's steps (and, for root run by sudo, that
 * user's: the trusted users the namespace will not map) on the ways to the
 * paths given and to this user's home, working, runtime and temporary
 * directories, where a file named later is found, each judged here as any
 * step is: `vde up --rootless` hands them to the lab (with the ways to its
 * lab file and the files it names), `vde exec` to a command it runs there,
 * which no process of the lab started and so inherits nothing.
 */
import { ownersOfSecrets } from "./owned_file.ts";
import { vouchedSteps } from "./trusted_path.ts";

/**
 * VDE_ROOTLESS_VOUCHED's value (user_namespace.ts) for the ways to `paths` and this user's directories,
 * and for `files` themselves (the lab file, judged by its reader here and read again inside).
 */
export function hostSideVouched(paths: readonly string[], files: readonly string[] = []): string {
  const me = Deno.uid() ?? -1;
  const trusted = ownersOfSecrets();
  let cwd: string[] = [];
  try {
    cwd = [Deno.cwd()];
  } catch { /* removed: nothing is found in it */ }
  const env = ["HOME", "TMPDIR", "XDG_RUNTIME_DIR"].flatMap((v) => Deno.env.get(v) ?? []);
  return vouchedSteps([...paths, ...cwd, ...env, "/tmp"], trusted, trusted.filter((u) => u !== me), files);
}
