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
 * namespace does not reach the machine's network, so the parts of the lab
 * that must (its slirp and cable nodes, its `--http` page) run here, in
 * this process, and plug into the copy through sockets in that directory
 * (lab/outside.ts): they are opened before the copy starts (one added to
 * the running lab when the copy asks for it) and end when it ends. With `-d` this process is itself the background copy of
 * `vde up -d` (daemon.ts): it reports ready once the lab serves, and the
 * copy in the namespaces runs in the foreground under it, logging to the
 * lab's log. A SIGTERM of either ends both: this one's is passed on, and
 * the end of the lab's is this one's.
 *
 * In the namespace the machine's root owns its files as the overflow uid,
 * as every other user does, so the copy cannot tell root's `/` from another
 * user's /tmp/x on the way to an rc or a key. This process, which can,
 * vouches for root's steps on the ways to the lab's files, and the copy
 * trusts those alone (trusted_path.ts).
 */
import { ExitStatus, UsageError } from "./main.ts";
import { isDaemonChild, reportReady, selfCommand } from "./daemon.ts";
import { onSignals } from "./signals.ts";
import { log } from "../log.ts";
import { labDir } from "../lab/names.ts";
import { OutsideNodes, pageSocket, relayPage } from "../lab/outside.ts";
import type { Lab } from "../lab/spec.ts";
import { readState, type RecordedProcess } from "../lab/state.ts";
import { isSocket } from "../os/paths.ts";
import { thisInForeground } from "../os/foreground.ts";
import { httpListenFailure, parseHttpAddress } from "../web/address.ts";

/**
 * In the copy's environment: "background" when this process is a background
 * `vde up -d` (the copy then logs to the lab's log, as that would), else
 * "foreground"; and the page's address here, when it relays one.
 */
const INNER_MARK = "VDE_ROOTLESS_INNER";
const PAGE_MARK = "VDE_ROOTLESS_PAGE";
/** This process, `PID START` (its start time, processes.ts), which the copy records in the lab's state. */
const OUTSIDE_MARK = "VDE_ROOTLESS_OUTSIDE";

/** What the copy in the namespaces is told by the process that started it. */
export interface RootlessInner {
  background: boolean;
  /** The address the process outside serves the lab's page on (`--http`). */
  pageUrl?: string;
  /** The process outside, for the lab's state: `vde down` ends it if it outlives the lab. */
  outside?: RecordedProcess;
}

/**
 * Whether this process is that copy, read once and then taken out of the
 * environment: a `vde up` a lab host runs is no copy.
 */
const INNER: RootlessInner | undefined = (() => {
  const mark = Deno.env.get(INNER_MARK);
  const pageUrl = Deno.env.get(PAGE_MARK);
  const [pid, pidStart] = (Deno.env.get(OUTSIDE_MARK) ?? "").split(" ").map(Number);
  Deno.env.delete(INNER_MARK);
  Deno.env.delete(PAGE_MARK);
  Deno.env.delete(OUTSIDE_MARK);
  if (mark === undefined) return undefined;
  return {
    background: mark === "background",
    ...(pageUrl === undefined ? {} : { pageUrl }),
    ...(pid === undefined || !(pid > 0) ? {} : { outside: { pid, ...(pidStart! > 0 ? { pidStart } : {}) } }),
  };
})();

/** In the copy in the namespaces: what its starter told it; undefined in any other `vde up`. */
export function rootlessInner(): RootlessInner | undefined {
  return INNER;
}
import { processStartTime } from "../os/processes.ts";
import { LAB_MARK_VARIABLE, VOUCHED_VARIABLE } from "../os/user_namespace.ts";
import { hostSideVouched } from "../os/host_vouched.ts";

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
 * Refuses, in one line, a machine where this user may make no user namespace.
 *
 * @throws UsageError saying what its admin sets
 */
export async function checkUserNamespaces(): Promise<void> {
  const refused = await userNamespacesRefused();
  if (refused !== null) throw new UsageError(`vde up --rootless: ${refused}`);
}

/**
 * Runs this `vde up` of lab `lab` again inside new namespaces (see above),
 * with its slirp and cable nodes and its page (`http`) here, and returns
 * once it has ended, with its status; it shares the terminal, so a lab
 * shell or a Ctrl-C reach it as they would this process. In the background
 * copy of `vde up -d`, it reports ready once the lab serves, and calls `claimed` (which opens the lab's
 * log) once the copy has the lab's name: a copy refused before that leaves no log behind.
 *
 * @throws UsageError when a node or the page cannot open here (nothing was made); ExitStatus with the
 *   copy's failing status
 */
export async function upRootless(
  lab: Lab,
  baseDir: string,
  http?: string,
  labFile?: string,
  claimed?: () => void,
): Promise<void> {
  const say = (m: string) => log("vde up", `lab ${lab.name}: ${m}`);
  const dir = labDir(lab.name);
  const nodes = await OutsideNodes.open(lab, baseDir, say).catch((err) => {
    throw new UsageError(`lab ${lab.name}: ${(err as Error).message} (nothing was made)`);
  });
  let page: ReturnType<typeof relayPage> | undefined;
  if (http !== undefined) {
    try {
      page = relayPage(parseHttpAddress(http), pageSocket(dir));
    } catch (err) {
      nodes.close();
      throw new UsageError(httpListenFailure(http, err));
    }
  }
  const web = page === undefined ? undefined : `web view on ${page.url} (metrics at ${page.url}metrics)`;
  // In the background the lab's log is started afresh by the copy in there once it has the lab's name
  // (lab.ts's openLog): the line is said once it serves, where `vde up -d` reads it, not emptied away.
  if (web !== undefined && !isDaemonChild()) say(web);
  const self = selfCommand();
  const argv = rootlessArgv([self.cmd, ...self.args]);
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env: {
      // A mark of its own, even where this shell is another lab's (state.ts, user_namespace.ts).
      [LAB_MARK_VARIABLE]: crypto.randomUUID(),
      [INNER_MARK]: isDaemonChild() ? "background" : "foreground",
      ...(page === undefined ? {} : { [PAGE_MARK]: page.url }),
      [OUTSIDE_MARK]: `${Deno.pid} ${processStartTime(Deno.pid) ?? 0}`,
      [VOUCHED_VARIABLE]: labVouched(lab, baseDir, dir, labFile),
    },
  }).spawn();
  // unshare execs sh, which execs vde: one pid, the lab's. A terminal's Ctrl-C reaches it itself (the same
  // process group, in the terminal's foreground), so that one is not passed on (a second would hurry its
  // stop); a SIGINT sent to this process alone (kill -INT, a supervisor, timeout -s INT, or to the
  // background copy, which has no terminal) is, as a SIGTERM or hang-up is.
  const remove = onSignals((signal) => {
    if (signal === "SIGINT" && thisInForeground()) return;
    try {
      child.kill(signal);
    } catch { /* ended */ }
  });
  try {
    const plugged = nodes.plug(dir, child.status);
    if (isDaemonChild() && await servesBefore(lab.name, child, claimed)) {
      if (web !== undefined) say(web);
      reportReady();
    }
    const { code } = await child.status;
    await plugged;
    if (code !== 0) throw new ExitStatus(code);
  } finally {
    remove();
    nodes.close();
    page?.close();
  }
}

/**
 * The steps of root's (and, for root run by sudo, that user's: the trusted users unshare --map-root-user
 * does not map) the copy may trust (trusted_path.ts): on the ways to lab `lab`'s directory `baseDir` and
 * the rc and key files it names, its runtime directory `dir`, and this user's home, working and temporary
 * directories, where a `load` typed later finds its files; and lab file `labFile` itself, which the copy
 * reads again (root's is the overflow uid's in there).
 */
function labVouched(lab: Lab, baseDir: string, dir: string, labFile?: string): string {
  const files = lab.nodes.flatMap((n) =>
    n.kind === "switch" && n.rc !== undefined
      ? [n.rc]
      : n.kind === "cable" && n.key !== undefined
      ? [n.key]
      : []
  ).map((f) => f.startsWith("/") ? f : `${baseDir}/${f}`);
  // Judged here as run (lab_file.ts): root's lab file is the overflow uid's in there, read again.
  return hostSideVouched([baseDir, ...files, dir], labFile === undefined ? [] : [labFile]);
}

/**
 * Whether lab `name`, run by `child`, serves (its control socket is there) before the child ends;
 * `claimed` is called once, as soon as its record is the child's.
 */
async function servesBefore(name: string, child: Deno.ChildProcess, claimed?: () => void): Promise<boolean> {
  let ended = false;
  child.status.then(() => (ended = true));
  let told = false;
  while (!ended) {
    if (readState(name)?.pid === child.pid) {
      if (!told) claimed?.();
      told = true;
      if (isSocket(`${labDir(name)}/ctl`)) return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
