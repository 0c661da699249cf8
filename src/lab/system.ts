/**
 * The lab's hands on the machine: `ip` and commands inside namespaces, run
 * as child processes. Each helper either succeeds or throws one line that
 * says which command failed and what it printed, for the rollback message.
 */
import { readAtMost } from "../io/read_at_most.ts";
import { heldOpen } from "../os/held_open.ts";
import { processAlive } from "../os/processes.ts";
import { missingProgram } from "../os/command_lookup.ts";

/** Output of a finished command. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
  /** Killed for running past its time: its last line is no reason, the time is. */
  timedOut: boolean;
}

/** How a command in a group of its own is watched and stopped. */
export interface GroupOptions {
  /**
   * Stopped by `signal`, the group gets SIGTERM and this long to end before
   * SIGKILL (a program's own cleanup, as under a closed ssh session); 0, or
   * absent, kills it at once. Its time running out kills it at once.
   */
  stopGraceMs?: number;
  /** Told the group's id (its leader's pid) once it runs. */
  onStart?: (pid: number) => void;
}

/**
 * The shell that leads a command's group (`sh -c GROUP_ANCHOR sh CMD...`): it
 * starts the group's anchor, then becomes the command. The group's number is
 * its leader's pid, and once every process in the group is gone the kernel
 * may give that number to a new process leading a group of its own (another
 * user's shell job, a service): the SIGKILL that follows a SIGTERM after a
 * grace, sent to -pid when the leader may have ended, would then be theirs
 * (pid_max is 32768 here: a user forking at will gets there within the grace).
 * The anchor is a `cat` of a pipe of ours in the group, deaf to TERM, HUP, INT
 * and QUIT: while it lives the number is the group's, and it lives until the
 * group's SIGKILL or our close of the pipe, whichever comes first. It is
 * started by a subshell that ends at once (init takes it), not by the shell
 * that becomes the command: the command has no child it did not start (one
 * that waits for all its children, os.wait() until ECHILD, would wait for the
 * anchor, and the anchor for the command's end). The command gets /dev/null
 * as stdin, as before.
 */
const GROUP_ANCHOR = "exec 3<&0; ( (trap '' TERM HUP INT QUIT; exec cat <&3 >/dev/null 2>&1 3<&-) & ); " +
  'exec 3<&- </dev/null; exec "$@"';

/**
 * Runs `cmd` to completion (at most `timeoutMs`, killed sooner when `signal`
 * aborts), without throwing on a non-zero status. With `ownGroup` it runs in
 * a session of its own (setsid) and the kill takes that whole group: a
 * shell's command dies with the shell (killed alone, the shell left it
 * running, in a lab's namespace until `vde down`). Signals go to the group
 * only while its anchor (GROUP_ANCHOR) holds its number: none after the
 * group's SIGKILL, nor once the command has ended and no SIGKILL is due.
 */
export async function runCommand(
  cmd: string[],
  timeoutMs = 30_000,
  signal?: AbortSignal,
  ownGroup = false,
  group: GroupOptions = {},
): Promise<CommandOutput> {
  const argv = ownGroup ? ["setsid", "-w", "sh", "-c", GROUP_ANCHOR, "sh", ...cmd] : cmd;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: ownGroup ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      signal: ownGroup ? undefined : signal,
    })
      .spawn();
  } catch (err) {
    // A machine without the program (a PATH without /usr/sbin, no iproute2): which, where, and its package.
    if (err instanceof Deno.errors.NotFound) throw new Error(missingProgram(argv[0]!));
    throw err;
  }
  // The anchor's pipe: closed, the anchor ends, and the group's number may be anyone's.
  let anchored = ownGroup;
  const release = () => {
    if (!anchored) return;
    anchored = false;
    child.stdin.close().catch(() => {});
  };
  // setsid makes the child (not a group leader: it is in ours) the leader of a new group with its own pid.
  const send = (sig: Deno.Signal) => {
    try {
      if (!ownGroup) child.kill(sig);
      else if (anchored) Deno.kill(-child.pid, sig);
    } catch { /* gone */ }
    // The anchor dies of a SIGKILL: the number is the group's no longer.
    if (sig === "SIGKILL") release();
  };
  let late: ReturnType<typeof setTimeout> | undefined;
  const kill = () => {
    clearTimeout(late);
    late = undefined;
    send("SIGKILL");
  };
  const stop = () => {
    if (!group.stopGraceMs) return kill();
    send("SIGTERM");
    late ??= setTimeout(kill, group.stopGraceMs);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  if (ownGroup) {
    group.onStart?.(child.pid);
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop);
  }
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr), timedOut };
  } finally {
    clearTimeout(timer);
    // `late` stays: a process of the group that ignored SIGTERM outlives the leader, and the SIGKILL is for
    // it (the anchor keeps the number the group's until then). With none due, the anchor goes now.
    if (late === undefined) release();
    signal?.removeEventListener("abort", stop);
  }
}

/** Runs `cmd`; throws `what: <stderr>` when it fails. */
export async function mustRun(cmd: string[], timeoutMs = 30_000, signal?: AbortSignal): Promise<string> {
  const r = await runCommand(cmd, timeoutMs, signal);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`).split("\n").slice(-1)[0];
    throw new Error(`${cmd.join(" ")}: ${why}`);
  }
  return r.stdout;
}

/** What a shell command in a namespace printed (stdout and stderr, in order) and its status. */
export interface ShellOutput {
  code: number;
  output: string;
  /** Killed for running past `timeoutMs`. */
  timedOut: boolean;
}

/** At most this much of a command's output is kept: the start of it, what a lab's log and shell show. */
const MAX_SHELL_OUTPUT = 1 << 20;

/**
 * Runs shell `command` in namespace `ns` until the shell exits (at most
 * `timeoutMs`). Its output goes to a file in `dir` (the lab's runtime
 * directory), not a pipe: a command that leaves a process in the
 * background (`iperf3 -s &`, `nohup x &`) hands it the output too, and
 * waiting for a pipe's end would wait for that process. That file stays
 * while such a process holds it, where it can be seen growing and where
 * `vde down` removes it; otherwise it goes once read.
 */
export async function runInNetns(
  ns: string,
  command: string,
  timeoutMs: number,
  dir: string,
  signal?: AbortSignal,
  group: GroupOptions = {},
): Promise<ShellOutput> {
  const file = await Deno.makeTempFile({ dir, prefix: "exec-", suffix: ".out" });
  let keep = false;
  try {
    // $1 is the output file, $2 the command, run by a shell of its own so that `exit`, `&&` and `&` mean
    // what they say; its $0 is `sh`, which its complaints start with (`sh: 1: nosuch: not found`, as at a
    // terminal), where with the file as $0 and eval they named the lab's temporary file.
    const r = await runCommand(
      [
        "ip",
        "netns",
        "exec",
        ns,
        "sh",
        "-c",
        'exec >"$1" 2>&1 </dev/null; exec sh -c "$2"',
        "sh",
        file,
        command,
      ],
      timeoutMs,
      signal,
      true,
      group,
    );
    const bytes = await readAtMost(file, MAX_SHELL_OUTPUT);
    // Before the shell ran (no such namespace, say), what `ip` said is the output.
    const output = new TextDecoder().decode(bytes) + r.stdout + r.stderr;
    // Killed for its time, nothing it started holds the file any more (the group is on its way out).
    keep = !r.timedOut && heldOpen(file);
    return { code: r.code, output, timedOut: r.timedOut };
  } finally {
    if (!keep) await Deno.remove(file).catch(() => {});
  }
}

/** Runs `ip` with `args`. */
export function ip(...args: string[]): Promise<string> {
  return mustRun(["ip", ...args]);
}

/** How long `deleteNetns` waits for the processes it killed to be gone before it deletes the namespace anyway. */
const NETNS_PROCESSES_END_MS = 5000;

/**
 * Kills every process in `ns`, waits until they are gone, then deletes it;
 * a namespace already gone is fine. SIGKILL is not instant: on a loaded
 * machine a killed process lives on until it is scheduled, the namespace
 * and its interfaces with it, after `ip netns delete` has returned (seen as
 * a lab's host process outliving `vde down`). So its processes are listed
 * again until none is left (one forked meanwhile is killed too), within a
 * bound: one that never dies (stuck in the kernel) does not hold `vde down`.
 */
export async function deleteNetns(ns: string): Promise<void> {
  const deadline = Date.now() + NETNS_PROCESSES_END_MS;
  for (;;) {
    const listed = await runCommand(["ip", "netns", "pids", ns]);
    const pids = listed.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).map(Number).filter(processAlive);
    if (pids.length === 0 || Date.now() > deadline) break;
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const r = await runCommand(["ip", "netns", "delete", ns]);
  if (r.code !== 0 && !/No such file/.test(r.stderr)) {
    throw new Error(`ip netns delete ${ns}: ${r.stderr.trim()}`);
  }
}
