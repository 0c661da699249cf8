/**
 * Why a file could not be read, in the words every lab command says it:
 * `cannot read /x/lab.yaml: no such file`, for the lab file (`vde up`, the
 * shell's `diff`/`apply`) and for the files it names (`rc`, `key`). The
 * OS's own text (`No such file or directory (os error 2): readfile '...'`)
 * repeats the path the line names already, so it is cut to its reason.
 */

/** The reason in a read's error: `no such file`, `it is a directory`, `permission denied`, else the OS's words. */
export function unreadableReason(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return (err as Error).message.replace(/ \(os error \d+\)/, "").replace(/: \w+ '.*'$/, "");
}

/** The one line that says it: `cannot read [the ROLE ]PATH: WHY`. */
export function cannotRead(path: string, why: string, role?: string): string {
  return `cannot read ${role === undefined ? "" : `the ${role} `}${path}: ${why}`;
}
