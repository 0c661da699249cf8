/**
 * A full disk for one program: a 4 KiB tmpfs at a directory, filled, in a
 * mount namespace of the program's own, so it goes with the program and the
 * machine's mounts are not touched. Needs root.
 */

/** Words that run a command with a full filesystem at `dir` (made first: `Deno.mkdir(dir)`), as a SwitchOptions prefix. */
export function onFullDisk(dir: string): string[] {
  const fill = `mount -t tmpfs -o size=4k vde-test-full "$0" && ` +
    `dd if=/dev/zero of="$0/fill" bs=4k count=2 2>/dev/null; exec "$@"`;
  return ["unshare", "--mount", "sh", "-c", fill, dir];
}
