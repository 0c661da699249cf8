/**
 * A file mode as people read and write it: octal, at least three digits
 * (`060`, `660`, `1777`), as `ls -l` and chmod count them. Plain
 * `toString(8)` printed a mode with no owner bits as `60`, which reads as
 * a different mode.
 */

/** `mode` as octal text of at least three digits; special bits (setgid, sticky) lead when set. */
export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, "0");
}
