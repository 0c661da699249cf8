/**
 * Starts a command with descriptors of ours as its stdin, stdout and, for
 * a dpipe's middle command, fds 3 and 4: the command then reads and writes
 * its neighbours' pipes itself, with no process of ours copying between.
 *
 * Theory of operation: Deno.Command gives a child only "piped", "inherit"
 * or "null" stdio; node:child_process's spawn takes descriptor numbers.
 * Measured on Deno 2.9.6, a number given for stdin or stdout reaches the
 * child with a second copy of it left open at a high fd (not close-on-exec),
 * so a command that closes its stdout, or a child of it that redirects its
 * own, would still hold the pipe's write end and its reader would never see
 * end of input. Numbers given from fd 3 on arrive alone. So every descriptor
 * is handed over from fd 3 up, stdin and stdout "ignore"d, and the command
 * runs under /bin/sh, whose `exec "$@" 0<&3 1>&4 ...` moves each to its place,
 * closes what is left over, and becomes the command (one process, the pid
 * spawn gave). The script may first run a `prelude` (dpipe's traps). So
 * the descriptors this process inherited at fds 3 up to 2 + the count
 * handed over are not passed on, where every other one it inherited is.
 *
 * The shell is /bin/sh, not `sh` looked up on the PATH: the PATH is the
 * command's to search (Debian's dpipe execs each command with execvp), so a
 * PATH without `sh` on it (`PATH=~/bin vde dpipe /bin/cat = ...`) or with
 * another program of that name must not change how the command is started.
 *
 * Deno 2.9.6's node spawn drops an environment variable whose value is not
 * UTF-8 (a Latin-1 one, say), where Deno.Command and Debian's dpipe pass it
 * on byte for byte: the script sets each such one again first (`rawEnv`).
 *
 * The descriptors stay ours: the caller closes them once every command that
 * needs them has started (until then a neighbour holds no end of input).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { cannotRun } from "./processes.ts";

/** How a command ended: `code` is its exit code, or 128 + N after signal N, as a shell says it. */
export interface ExitStatus {
  code: number;
  signal: Deno.Signal | null;
}

/** A command started by `spawnOnFds`. */
export interface SpawnedCommand {
  pid: number;
  /** Settles once it has exited (never rejects). */
  status: Promise<ExitStatus>;
  /** Its stderr, with `stderr: "piped"`. */
  stderr: Readable | null;
  /** Sends it `signal`; nothing once it has exited. */
  kill(signal: Deno.Signal): void;
  /** Lets this process exit while it runs on. */
  unref(): void;
}

/** What `spawnOnFds` gives the command besides its descriptors. */
export interface SpawnOnFdsOptions {
  /** Shell words run before the command replaces the shell (a `trap`, say). */
  prelude?: string;
  /** Variables added to this process's environment. */
  env?: Record<string, string>;
  /** The command's stderr: ours, or a pipe read from `stderr`. */
  stderr?: "inherit" | "piped";
}

/**
 * Shell words that export again the variables of this process's environment whose values are not UTF-8,
 * byte for byte (octal escapes of printf, an X kept past the command substitution's trailing newlines).
 * Read from /proc/self/environ, the environment this process started with.
 */
function rawEnv(environ: Uint8Array = readEnviron()): string {
  const strict = new TextDecoder("utf-8", { fatal: true });
  const words: string[] = [];
  let start = 0;
  for (let i = 0; i <= environ.length; i++) {
    if (i < environ.length && environ[i] !== 0) continue;
    const entry = environ.subarray(start, i);
    start = i + 1;
    try {
      strict.decode(entry);
      continue;
    } catch { /* not UTF-8: set again below */ }
    const eq = entry.indexOf(0x3d);
    const name = new TextDecoder().decode(entry.subarray(0, Math.max(eq, 0)));
    // A name the shell cannot set (none is in practice) stays dropped.
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    const octal = Array.from(entry.subarray(eq + 1), (b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
    words.push(`${name}=$(printf '${octal}X'); export ${name}="\${${name}%X}"`);
  }
  return words.join("; ");
}

/** This process's environment as it started, or none when /proc cannot say. */
function readEnviron(): Uint8Array {
  try {
    return Deno.readFileSync("/proc/self/environ");
  } catch {
    return new Uint8Array();
  }
}

/** The shell that moves the descriptors and execs the command: the system's, whatever the PATH says. */
const SHELL = "/bin/sh";

/** Signal numbers by name, for a status's 128 + N. */
const signalNumbers: Readonly<Record<string, number>> = constants.signals;

/** The fds the command gets `fds[i]` on: 0 and 1, then 3, 4, ... (2 is stderr's). */
function targetFd(i: number): number {
  return i < 2 ? i : i + 1;
}

/**
 * The redirections that move descriptors 3, 4, ... (as spawn hands them over) to the command's 0, 1, 3,
 * 4, ... and close the rest: `0<&3 1>&4 3<&5 4>&6 5<&- 6>&-`. Applied left to right, each target is below
 * every source still to move, so none is overwritten before it moved.
 */
export function redirections(count: number): string {
  const indices = Array.from({ length: count }, (_, i) => i);
  const targets = new Set(indices.map(targetFd));
  const moves = indices.map((i) => `${targetFd(i)}${i % 2 === 0 ? "<" : ">"}&${3 + i}`);
  const leftover = indices.map((i) => 3 + i).filter((fd) => !targets.has(fd));
  return [...moves, ...leftover.map((fd) => `${fd}<&-`)].join(" ");
}

/**
 * Runs `argv` with `fds[0]` as its stdin, `fds[1]` as its stdout and `fds[2]`, `fds[3]`, ... as its fds
 * 3, 4, ... (in pairs: one it reads, one it writes, as dpipe's ALTERNATE_STDIN and ALTERNATE_STDOUT);
 * stderr as `options.stderr` says.
 *
 * @throws Error with the one line that says why the shell could not be started
 */
export async function spawnOnFds(
  argv: readonly string[],
  fds: readonly number[],
  options: SpawnOnFdsOptions = {},
): Promise<SpawnedCommand> {
  const { prelude, env, stderr = "inherit" } = options;
  const before = [rawEnv(), prelude ?? ""].filter((w) => w !== "").map((w) => `${w}; `).join("");
  const script = `${before}exec "$@" ${redirections(fds.length)}`;
  let child: ChildProcess;
  try {
    child = spawn(SHELL, ["-c", script, "sh", ...argv], {
      stdio: ["ignore", "ignore", stderr === "piped" ? "pipe" : "inherit", ...fds],
      env: env === undefined ? undefined : { ...Deno.env.toObject(), ...env },
    });
  } catch (err) {
    throw new Error(cannotRun(SHELL, err));
  }
  if (child.pid === undefined) {
    // Not started: the reason comes as an "error" event, on the next turn.
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once("error", resolve));
    throw new Error(cannotRun(SHELL, err.code === "ENOENT" ? new Deno.errors.NotFound() : err));
  }
  // A failed kill is reported as an "error" event, which unheard would end this process: the exit says more.
  child.on("error", () => {});
  const status = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      const name = signal as Deno.Signal | null;
      resolve({ code: code ?? 128 + (name === null ? 0 : signalNumbers[name] ?? 0), signal: name });
    });
  });
  const pid = child.pid;
  return {
    pid,
    status,
    stderr: child.stderr,
    // Not child.kill: measured on Deno 2.9.6, its "exit" event then says the command died of that signal
    // even when the command caught it and exited with a status of its own. A command that exited is a
    // zombie until reaped (its pid not yet anyone else's) and gets nothing once reaped.
    kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        Deno.kill(pid, signal);
      } catch { /* exited meanwhile */ }
    },
    unref: () => child.unref(),
  };
}
