/**
 * `vde up --rootless`: a lab for a user without root, in namespaces of
 * their own, as podman and rootlesskit run containers rootless.
 *
 * Theory of operation. A lab's hosts are network namespaces and its links
 * taps, which need root; but any user may make a user namespace in which
 * they are root (`unshare --user --map-root-user`), with a network
 * namespace of their own in it. So this process runs `vde up` again there,
 * through util-linux's unshare (a process of several threads, as Deno is,
 * cannot enter a new user namespace itself), and waits for it: the copy is
 * root inside and brings the lab up as root would, in the new network
 * namespace. Before it starts, a small shell script gives it what
 * `ip netns` needs and a user may not make on the machine: a private tmpfs
 * on /run/netns (root's directory, whose namespaces stay root's), or, where
 * there is no /run/netns, on /run itself with everything /run held bound
 * back into it; and the namespace's loopback up, for the slirp's gateway
 * 10.0.2.2. The mounts are the namespace's own: the machine and its other
 * users see none of them, and all of it goes with the lab's last process.
 *
 * What stays reachable from outside is what lives in files: the copy's lab
 * runtime directory is the user's own (names.ts, user_namespace.ts), so
 * `vde term LAB`, `vde status`, `vde down` and the switches' sockets (QEMU,
 * `vde plug`) work from any shell of the user's. What lives in the network
 * namespace does not: the slirp's outside is that namespace's own loopback,
 * and a `--http` page or a slirp forward listens there too.
 */
import { ExitStatus, UsageError } from "./main.ts";
import { selfCommand } from "./daemon.ts";
import { onSignals } from "./signals.ts";
import { statFields } from "../os/processes.ts";
import { LAB_MARK_VARIABLE } from "../os/user_namespace.ts";

/**
 * Run by sh in the new namespaces before `vde up` itself ("$@"): the mounts
 * `ip netns` needs, then the loopback. Each failure is one line that says
 * what could not be done.
 */
const ROOTLESS_SETUP = `set -u
fail() { echo "vde up --rootless: $*" >&2; exit 1; }
run=$(readlink -f /var/run)
if [ -d "$run/netns" ]; then
  mount -t tmpfs -o mode=755 vde "$run/netns" || fail "cannot mount a private $run/netns"
else
  keep=$(mktemp -d) || fail "cannot make a directory in \${TMPDIR:-/tmp}"
  mount --rbind "$run" "$keep" || fail "cannot bind $run"
  mount -t tmpfs -o mode=755 vde "$run" || fail "cannot mount a private $run"
  for e in "$keep"/* "$keep"/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=$run/\${e##*/}
    if [ -L "$e" ]; then cp -P "$e" "$n"
    elif [ -d "$e" ]; then mkdir "$n" && mount --rbind "$e" "$n"
    else touch "$n" && mount --bind "$e" "$n"
    fi || fail "cannot bind $run/\${e##*/} back"
  done
  umount -l "$keep"; rmdir "$keep"
  mkdir "$run/netns" || fail "cannot make $run/netns"
fi
ip link set lo up || fail "cannot bring the namespace's loopback up"
exec "$@"
`;

/** The unshare command line that runs `command` (argv) in new user, network and mount namespaces. */
function rootlessArgv(command: readonly string[]): string[] {
  return [
    "unshare",
    "--user",
    "--map-root-user",
    "--net",
    "--mount",
    "sh",
    "-c",
    ROOTLESS_SETUP,
    "vde",
    ...command,
  ];
}

/** Why this machine lets this user make no user namespace, in one line; null when it does. */
async function userNamespacesRefused(): Promise<string | null> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("unshare", {
      args: ["--user", "--map-root-user", "--net", "true"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "it needs unshare, from util-linux (Debian: util-linux)";
    throw err;
  }
  if (out.success) return null;
  const said = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
  return `this machine lets no user make a user namespace (${said}): ` +
    "its admin enables them (sysctl user.max_user_namespaces=10000; on Debian 11 and older also " +
    "kernel.unprivileged_userns_clone=1), or run vde up as root";
}

/**
 * Runs this `vde up` again inside new namespaces (see above) and returns
 * once it has ended, with its status; it shares the terminal, so a lab
 * shell or a Ctrl-C reach it as they would this process.
 *
 * @throws UsageError for `--http` (see above) or when user namespaces cannot be made; ExitStatus with the
 *   copy's failing status
 */
export async function upRootless(http?: string): Promise<void> {
  if (http !== undefined) {
    throw new UsageError(
      `vde up --rootless: --http ${http} would listen in the lab's own network namespace, which no browser ` +
        "outside reaches; `vde term LAB -c watch` and `vde status LAB --json` show its counters",
    );
  }
  const refused = await userNamespacesRefused();
  if (refused !== null) throw new UsageError(`vde up --rootless: ${refused}`);
  const self = selfCommand();
  const argv = rootlessArgv([self.cmd, ...self.args]);
  // A mark of its own, even where this shell is another lab's (state.ts, user_namespace.ts).
  const env = { [LAB_MARK_VARIABLE]: crypto.randomUUID() };
  const child = new Deno.Command(argv[0]!, { args: argv.slice(1), env }).spawn();
  // unshare execs sh, which execs vde: one pid, the lab's. A terminal's Ctrl-C reaches it itself (the same
  // process group, in the terminal's foreground), so that one is not passed on (a second would hurry its
  // stop); a SIGINT sent to this process alone (kill -INT, a supervisor, timeout -s INT) is, as a SIGTERM or
  // hang-up is.
  const remove = onSignals((signal) => {
    if (signal === "SIGINT" && inTerminalForeground()) return;
    try {
      child.kill(signal);
    } catch { /* ended */ }
  });
  try {
    const { code } = await child.status;
    if (code !== 0) throw new ExitStatus(code);
  } finally {
    remove();
  }
}

/**
 * Whether this process is in its terminal's foreground process group (its
 * pgrp is the terminal's tpgid, /proc/self/stat), where the terminal's
 * Ctrl-C reaches every process of the group.
 */
function inTerminalForeground(): boolean {
  // state ppid pgrp session tty_nr tpgid
  const f = statFields("self");
  return f?.[2] !== undefined && f[2] === f[5];
}
