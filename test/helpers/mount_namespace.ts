/**
 * A command line run in a mount namespace of its own (`unshare --mount`, private propagation), after a
 * setup of `sh -c` whose mounts only that command sees: a test's own /etc/subuid, /tmp or getent, where
 * changing the machine's would be seen by every other test and user.
 */

/** `argv` exec'd in a new mount namespace once `setup` (sh; `$0` is `arg0`) succeeded. */
export function inOwnMounts(setup: string, arg0: string, argv: string[]): string[] {
  return [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "sh",
    "-ec",
    `${setup}\nexec "$@"`,
    arg0,
    ...argv,
  ];
}

/**
 * `argv` run where /etc/subuid is `text` (0644, root's): an overlay on /etc in its own mount namespace, its
 * layers made under `dir` (which the caller removes), so no other test or user sees the file.
 */
export async function withOwnSubuid(dir: string, text: string, argv: string[]): Promise<string[]> {
  for (const d of ["upper", "work"]) await Deno.mkdir(`${dir}/${d}`, { mode: 0o700 });
  await Deno.writeTextFile(`${dir}/upper/subuid`, text, { mode: 0o644 });
  await Deno.chmod(`${dir}/upper/subuid`, 0o644);
  return inOwnMounts(
    'mount -t overlay vde-test-etc -o "$0" /etc',
    `lowerdir=/etc,upperdir=${dir}/upper,workdir=${dir}/work`,
    argv,
  );
}
