/**
 * `vde dpipe CMD1 ARGS = CMD2 ARGS [= CMD3 ARGS ...]`: a bidirectional pipe.
 * Each command's output goes to its neighbour's input, both ways; dpipe
 * only moves bytes and never parses them.
 *
 * Theory of operation: the commands are wired as Debian's dpipe wires them,
 * each given its neighbours' pipes (`plumb`): dpipe makes every pipe, starts
 * the commands on their ends (spawn_on_fds.ts) and closes its own, so it
 * holds none and copies nothing; the kernel moves the bytes. A middle command
 * has its left neighbour on stdin/stdout and its right neighbour on fds 3
 * and 4, named by ALTERNATE_STDIN/ALTERNATE_STDOUT as vdeplug4's dpipe does.
 * A command between `=}` and `}=` (or `={` and `{=`) filters one direction
 * only, as there: it reads what flows left to right (right to left) and
 * passes it on, while the other direction goes by it (`a =} b }= c`: a
 * cycle a -> b -> c -> a). Every command starts under `sh`, which ignores
 * SIGPIPE and the others Debian's dpipe ignores, as its commands inherit
 * them, and then execs it (IGNORE_SIGNALS says why).
 *
 * So what a pipe does, dpipe's does: what a command wrote before it exited
 * reaches its neighbour, which then reads end of input; a neighbour's next
 * write to it fails (EPIPE) at once, unless a child of it still holds what
 * it read; and the pipes outlive dpipe. dpipe adds only what a process must:
 * it waits for its commands, not for their children (`sh -c 'sleep 99 &'`
 * keeps a pipe open, not dpipe), as vdeplug4's waits for its own. As there,
 * ours exits with the status of the last one on the command line,
 * whichever ends first: scripts read that (`dpipe sh -c 'exit 3' = sh -c
 * 'exit 5'` is 5). A last command ended by a signal gives 0, as there (it
 * returns WEXITSTATUS of a signalled status). A stop signal to dpipe
 * terminates every command, and gives that signal's status there
 * (`stoppedStatus`). The one copy it keeps is a `-d` start's stderr: the
 * commands' lines go to the log (`logStderr` says why).
 *
 * dpipe's options: -d and -p PIDFILE are every daemon's (program.ts); -n and
 * -N (one process per command, the last the parent of the others) are
 * taken as vdeplug4's dpipe does them: it execs the last command itself, so
 * its caller goes on as soon as that one ends, the others left running (a
 * script's next line runs while they finish). Ours returns then too and
 * leaves the others running on their pipes; they read end of input from
 * the last, as there. The last one's signal N gives
 * 128 + N, as a shell says of Debian's (`dpipeStatus`), and a stop signal
 * to vde dpipe goes to the last command only, as to dpipe itself there. -P
 * PGRPFILE is refused with what does its job, since vde dpipe's commands
 * share its caller's process group (a script's, which `kill -- -PGRP` would
 * end too).
 */
import { onSignals } from "./signals.ts";
import { type Command, CommanderError, Option } from "commander";
import { programOf, runProgram } from "./program.ts";
import { type Subcommand, UsageError } from "./main.ts";
import { examples } from "./help.ts";
import { unrunnable } from "../os/command_lookup.ts";
import { log } from "../log.ts";
import { type ExitStatus, type SpawnedCommand, spawnOnFds } from "../os/spawn_on_fds.ts";
import { closeOnExecPipe, libc, strerror, SysError } from "../../ffi/libc.ts";
import type { Readable } from "node:stream";

/** dpipe's options (vdeplug4's): -d, -p, and the ones taken or refused (see above). */
interface DpipeFlags {
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
  nowrapproc?: boolean;
  nowrapnoclean?: boolean;
  pgrpfile?: string;
}

/** How long a command may ignore SIGTERM before it is killed. */
const KILL_AFTER_MS = 2000;

/**
 * Ignores the signals Debian's dpipe ignores, which its commands inherit ignored (its setsighandlers): SIGPIPE
 * above all, so a write to a neighbour that has exited fails (EPIPE) and the command goes on to exit with a
 * status of its own, which dpipe's status may be, where SIGPIPE would end it (`sh -c 'sleep 1; echo x; exit 3'`
 * last exits 3, not 0); and SIGALRM, SIGUSR1, SIGUSR2, SIGPROF, SIGVTALRM, SIGIO, SIGPWR and SIGSTKFLT, which
 * would end a command that does not handle them (`kill -USR1` to one is nothing there). PWR and STKFLT are
 * Linux's: dash has no name for STKFLT (16 on Linux; elsewhere 16 is SIGURG, ignored by default anyway), and
 * a trap of a name the shell lacks only says so, hence their own trap with its complaint discarded.
 */
const IGNORE_SIGNALS = `trap '' PIPE ALRM USR1 USR2 PROF VTALRM IO; trap '' PWR 16 2>/dev/null`;

/**
 * How a command is joined: both ways (`= CMD =`), or one way, a filter of what flows left to right
 * (`=} CMD }=`: from the command on its left to the one on its right) or right to left (`={ CMD {=`).
 */
export type Way = "both" | "right" | "left";

/** One command of a dpipe chain and how it is joined. */
export interface ChainCommand {
  argv: string[];
  way: Way;
}

/** A closing joint as written (`}=`, `{=`, `}={`): one that closes nothing is refused, not passed on. */
const CLOSING_JOINT = /^[{}]=[{}]?$/;

/**
 * Splits dpipe's arguments into commands at each joint, as vde2's dpipe reads them: every word that starts
 * with `=` is a joint (`==` and `=x` too, so no command is given such a word); `=}` and `={` make the next
 * command one way (left to right, right to left) and `}=` and `{=` close that; a plain `=` between them
 * keeps it open, the next command another filter the same way (`a =} f = g }= c`: a -> f -> g -> c -> a).
 *
 * @param args the words after `dpipe`
 * @returns at least two non-empty commands, the first and last joined both ways; a UsageError otherwise
 */
export function parseChain(args: readonly string[]): ChainCommand[] {
  const chain: ChainCommand[] = [{ argv: [], way: "both" }];
  let open = "";
  for (const arg of args) {
    // The open bracket before an `=` closes the one-way command; the rest is read as a joint (`}={`).
    const closes = open !== "" && arg[0] === open && arg[1] === "=" ? open : "";
    const word = closes === "" ? arg : arg.slice(1);
    if (word[0] !== "=") {
      // vde2's dpipe passes a `}=` that closes nothing to the command as an argument: a mistake, said.
      if (CLOSING_JOINT.test(arg)) {
        const opened = open === "" ? "no joint opened" : `"=${open}" did not open`;
        throw new UsageError(
          `dpipe: "${arg}" closes a one-way command ${opened} (CMD =${arg[0]} FILTER ${arg[0]}= CMD)`,
        );
      }
      chain[chain.length - 1]!.argv.push(arg);
      continue;
    }
    const opens = word[1] === "}" || word[1] === "{" ? word[1] : "";
    // A bracket opened stays open through a plain `=` (vde2's dpipe keeps its direction until `}=`/`{=`).
    if (opens !== "" || closes !== "") open = opens;
    chain.push({ argv: [], way: open === "}" ? "right" : open === "{" ? "left" : "both" });
  }
  if (chain.some((c) => c.argv.length === 0)) {
    throw new UsageError("dpipe: expected commands separated by =, found an empty command");
  }
  if (chain.length < 2) throw new UsageError("dpipe: expected at least two commands separated by =");
  if (open !== "") {
    throw new UsageError(
      `dpipe: the last command is joined one way ("=${open}"): a chain ends with one joined both ways ` +
        `(CMD =${open} FILTER ${open}= CMD)`,
    );
  }
  return chain;
}

/** The chain's programs with their joints, for a `-d` start's line: `vde =} wirefilter }= vde`. */
export function chainNames(chain: readonly ChainCommand[]): string {
  const bracket = (way: Way) => (way === "right" ? "}" : way === "left" ? "{" : "");
  return chain.map((c, i) =>
    i === 0 ? programName(c.argv) : `${bracket(chain[i - 1]!.way)}=${bracket(c.way)} ${programName(c.argv)}`
  )
    .join(" ");
}

/** How a chain is run: what `-d`, `--logfile` and `-n` change. */
export interface DpipeOptions {
  /** Called once every command is spawned (a `-d` start returns then); not when a stop signal came first. */
  started?: () => void;
  /**
   * The commands' stderr goes to the log, line by line, not to ours: a `-d` start's stderr is a pipe to its
   * caller, who is gone once it returns, and a command writing there then died of SIGPIPE.
   */
  logStderr?: boolean;
  /**
   * -n or -N: returns once the last command has ended, the others left running, with its status as a shell
   * says it (`dpipeStatus`); a stop signal goes to it alone.
   */
  nowrap?: boolean;
}

/** A command's program for the start line: `vde` with its command (`vde wirefilter`), which alone says nothing. */
function programName(argv: readonly string[]): string {
  const [program, command] = argv;
  return /(^|\/)vde$/.test(program ?? "") && command !== undefined && !command.startsWith("-")
    ? `${program} ${command}`
    : program ?? "";
}

/**
 * Where one command's descriptors go: `ends[k]` is the pipe end it gets as its stdin (k = 0), its stdout
 * (1) and, in the middle, its fds 3 and 4 (2, 3); `pipe` indexes the chain's pipes.
 */
export interface Plumbing {
  pipes: number;
  ends: { pipe: number; end: "read" | "write" }[][];
}

/**
 * The chain's pipes, as vde2's dpipe makes them: walking left to right, `toRight` is the descriptor that
 * writes what flows on to the right, `toLeft` the one that reads what comes back from the right. A command
 * joined both ways reads `toRight` and writes `toLeft`, and, in the middle, its fds 4 and 3 are the next
 * `toRight` and `toLeft`; one joined left to right only reads `toRight` and its stdout is the next
 * `toRight`, while `toLeft` passes it by; one joined right to left writes `toLeft` and its stdin is the
 * next `toLeft`.
 */
export function plumb(chain: readonly ChainCommand[]): Plumbing {
  const last = chain.length - 1;
  const ends: Plumbing["ends"] = chain.map(() => []);
  let pipes = 0;
  // A descriptor of a command: which, and its place in `ends` (0 stdin, 1 stdout, 2 fd 3, 3 fd 4).
  type Slot = [command: number, place: number];
  const join = ([writer, out]: Slot, [reader, into]: Slot) => {
    ends[writer]![out] = { pipe: pipes, end: "write" };
    ends[reader]![into] = { pipe: pipes, end: "read" };
    pipes++;
  };
  let toRight: Slot = [0, 1];
  let toLeft: Slot = [0, 0];
  for (let i = 1; i <= last; i++) {
    const way = chain[i]!.way;
    if (way !== "left") join(toRight, [i, 0]);
    if (way !== "right") join([i, 1], toLeft);
    if (way === "right") toRight = [i, 1];
    else if (way === "left") toLeft = [i, 0];
    else if (i < last) [toRight, toLeft] = [[i, 3], [i, 2]];
  }
  return { pipes, ends };
}

/**
 * Runs the commands as a dpipe chain until every one has exited (with `nowrap`, until the last has).
 *
 * @returns the last command's exit status (`dpipeStatus`), or a stop signal's (`stoppedStatus`)
 */
export async function runDpipe(chain: readonly ChainCommand[], options: DpipeOptions = {}): Promise<number> {
  const { started = () => {}, logStderr = false, nowrap = false } = options;
  const last = chain.length - 1;
  // Each is looked up first: one that cannot run is said before any runs (under sh it would exit 127).
  for (const { argv } of chain) checkRunnable(argv[0]!);
  const { pipes, ends } = plumb(chain);
  // Every pipe is made before any command starts: one refused (too many open files) starts none.
  const made: [number, number][] = [];
  const closeMade = () => {
    for (const fd of made.flat()) libc().close(fd);
    made.length = 0;
  };
  try {
    for (let p = 0; p < pipes; p++) made.push(closeOnExecPipe());
  } catch (err) {
    closeMade();
    const why = err instanceof SysError ? strerror(err.code) : String(err);
    throw new Error(`dpipe: cannot make the ${pipes} pipes between ${chain.length} commands: ${why}`);
  }
  const children: SpawnedCommand[] = [];
  const stderrs: Readable[] = [];
  // The first stop signal: it ends the commands started and any still to start (none starts after it).
  let stopSignal: Deno.Signal | undefined;
  // Set once the last command has ended under -n: the others run on past vde dpipe, as past Debian's.
  let leaveOthers = false;
  // A command that ignores SIGTERM would keep dpipe waiting for it: killed after KILL_AFTER_MS. With -n
  // dpipe's last command is dpipe itself, so the signal is its own alone once it runs: it may handle it and
  // exit as it likes, and the others read their end of input then. Before it runs, all are stopped.
  const stopOnSignal = (signal: Deno.Signal) => {
    stopSignal ??= signal;
    if (nowrap && children.length === chain.length) stop(children[last]!, signal);
    else children.forEach((c) => stop(c));
  };
  const removeSignals = onSignals(stopOnSignal);
  try {
    for (const [i, { argv }] of chain.entries()) {
      // A stop signal during the start: those started were stopped by it, and one started now by none.
      if (stopSignal !== undefined) break;
      const fds = ends[i]!.map(({ pipe, end }) => made[pipe]![end === "read" ? 0 : 1]);
      // A command joined both ways between two others has its right side on fds 3 and 4.
      const env = fds.length > 2 ? { ALTERNATE_STDIN: "3", ALTERNATE_STDOUT: "4" } : undefined;
      let child: SpawnedCommand;
      try {
        child = await spawnOnFds(argv, fds, {
          prelude: IGNORE_SIGNALS,
          env,
          stderr: logStderr ? "piped" : "inherit",
        });
      } catch (err) {
        throw new Error(`dpipe: ${(err as Error).message}`);
      }
      children.push(child);
      if (child.stderr !== null) {
        stderrs.push(child.stderr);
        copyToLog(argv[0]!, child.stderr);
      }
    }
    // The commands hold their ends now: ours closed, a command's exit is its neighbour's end of input.
    closeMade();
    if (stopSignal === undefined) started();
    const exits = children.map((c) => c.status);
    if (nowrap && stopSignal === undefined) {
      // dpipe -n's caller goes on once the last command ends; what it wrote is in its neighbour's pipe.
      const lastStatus = await exits[last]!;
      leaveOthers = true;
      return dpipeStatus(lastStatus, true);
    }
    const statuses = await Promise.all(exits);
    // With -n a stop signal went to the last command, dpipe itself there: the status is that command's.
    const lastStatus: ExitStatus | undefined = statuses[last];
    if (lastStatus !== undefined && (stopSignal === undefined || nowrap)) {
      return dpipeStatus(lastStatus, nowrap);
    }
    return stoppedStatus(stopSignal ?? "SIGTERM");
  } finally {
    closeMade();
    removeSignals();
    // All have exited unless on an error path (a spawn failed): those started are stopped and waited for,
    // killed if they ignore SIGTERM, so none outlives vde dpipe; with -n, the last has ended and the others
    // are left to run on, not waited for.
    if (leaveOthers) children.forEach((c) => c.unref());
    else await Promise.all(children.map((c) => stop(c)));
    // A command's child may hold its stderr open past it: the copy must not keep this process up.
    for (const s of stderrs) s.destroy();
  }
}

/** Registers `vde dpipe`. */
export const dpipeCommand: Subcommand = (program: Command) => {
  // `vde dpipe cmd -x = ...` passes `-x` to the command: the program's options are positional (main.ts).
  program
    .command("dpipe")
    .description("run commands joined by bidirectional pipes: CMD1 ARGS = CMD2 ARGS [= CMD3 ...]")
    .argument("<command...>", "commands and their arguments, separated by =")
    .passThroughOptions()
    .option("-d, --daemon", "run in the background, returning once the commands are started")
    .option(
      "-p, --pidfile <file>",
      "write the pid to FILE (removed at exit): kill $(cat FILE) stops every command",
    )
    .option("--logfile <file>", "append log lines to FILE")
    .addOption(new Option("-n, --nowrapproc").hideHelp())
    .addOption(new Option("-N, --nowrapnoclean").hideHelp())
    .addOption(new Option("-P, --pgrpfile <file>").hideHelp())
    .addHelpText(
      "after",
      examples(
        "vde dpipe vde plug /tmp/a = vde plug /tmp/b                        # join two switches",
        "vde dpipe vde_plug /tmp/a = vde wirefilter -d 50 = vde_plug /tmp/b  # with a delay",
        "vde dpipe vde plug /tmp/a =} vde wirefilter -d 50 }= vde plug /tmp/b  # a delay one way only",
      ),
    )
    .action(async (args: string[], flags: DpipeFlags, cmd: Command) => {
      // A chain written wrong is a mistake in the command line: said as commander says one, with --help's
      // pointer, as every command's are (README: Install and test).
      let chain: ChainCommand[];
      try {
        chain = parseChain(args);
      } catch (err) {
        if (err instanceof UsageError) cmd.error(`vde: ${err.message}`);
        throw err;
      }
      if (flags.pgrpfile !== undefined) {
        throw new UsageError(
          "dpipe's -P PGRPFILE is not taken: vde dpipe's commands are in its caller's process group; " +
            `-p ${flags.pgrpfile} names vde dpipe, and kill $(cat ${flags.pgrpfile}) stops every command`,
        );
      }
      let status = 0;
      const nowrap = flags.nowrapproc === true || flags.nowrapnoclean === true;
      if (flags.daemon || flags.pidfile !== undefined || flags.logfile !== undefined) {
        await runProgram(programOf("vde dpipe", "dpipe", flags, false), async (p) => {
          const started = () => p.ready(p.inBackground ? chainNames(chain) : undefined);
          status = await runDpipe(chain, { started, logStderr: p.inBackground, nowrap });
        });
      } else status = await runDpipe(chain, { nowrap });
      // runCli turns a CommanderError into the process's exit status without printing anything.
      if (status !== 0) {
        throw new CommanderError(status, "vde.dpipe.status", `command exited with status ${status}`);
      }
    });
};

/** Throws the one line that says why `program` cannot run, as execvp would look it up. */
function checkRunnable(program: string): void {
  const bad = unrunnable(program);
  if (bad === undefined) return;
  const why = bad.status === 127 && !program.includes("/") ? "no such command (not on the PATH)" : bad.why;
  throw new Error(`dpipe: cannot run "${program}": ${why}`);
}

/** Longest part of a line kept waiting for its newline: a command that never writes one is still said. */
const MAX_LINE = 4096;

/** Copies command `name`'s stderr to the log, a line at a time, until it ends or is destroyed. */
async function copyToLog(name: string, stream: AsyncIterable<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      if (rest.length > MAX_LINE) {
        lines.push(rest);
        rest = "";
      }
      for (const line of lines) log("vde dpipe", `${name}: ${line}`);
    }
  } catch { /* destroyed at the end, or the command is gone */ }
  if (rest !== "") log("vde dpipe", `${name}: ${rest}`);
}

/**
 * dpipe's status from its last command's: its exit code, or 0 when a signal ended it, as vdeplug4's dpipe
 * returns WEXITSTATUS of whatever waitpid gave (`dpipe true = sh -c 'kill -9 $$'` exits 0). With -n (`nowrap`)
 * its last command is dpipe itself, so its caller sees what a shell says of that one: 128 + N after signal N
 * (its code already).
 */
export function dpipeStatus(last: ExitStatus, nowrap = false): number {
  return last.signal === null || nowrap ? last.code : 0;
}

/**
 * dpipe's status when a stop signal ended it, as vdeplug4's dpipe's: it exits 0 on SIGTERM, and passes
 * SIGINT or SIGHUP to its process group and dies of it, which a shell reads as 128 + N.
 */
export function stoppedStatus(signal: Deno.Signal): number {
  return signal === "SIGINT" ? 128 + 2 : signal === "SIGHUP" ? 128 + 1 : 0;
}

/** Sends `signal` to the command, SIGKILL if it still runs KILL_AFTER_MS later; resolves once it exited. */
async function stop(child: SpawnedCommand, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  child.kill(signal);
  if (!(await within(KILL_AFTER_MS, child.status))) {
    child.kill("SIGKILL");
    await child.status;
  }
}

/** Waits for `p` at most `ms`; true when it settled in time. */
async function within(ms: number, p: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
