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
