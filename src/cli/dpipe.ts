/**
 * `vde dpipe CMD1 ARGS = CMD2 ARGS [= CMD3 ARGS ...]`: a bidirectional pipe.
 * Each command's output goes to its neighbour's input, both ways; dpipe
 * only moves bytes and never parses them.
 *
 * Theory of operation: every command runs with piped stdin/stdout (stderr
 * inherited) and dpipe pumps bytes between neighbours. A middle command has
 * its left neighbour on stdin/stdout and its right neighbour on fds 3 and 4,
 * named by ALTERNATE_STDIN/ALTERNATE_STDOUT as vdeplug4's dpipe does.
 * A command between `=}` and `}=` (or `={` and `{=`) filters one direction
 * only, as there: it reads what flows left to right (right to left) and
 * passes it on, while the other direction goes by it (`a =} b }= c`: a
 * cycle a -> b -> c -> a); see `join`.
 * Every command starts under `sh`, which ignores SIGPIPE and the others
 * Debian's dpipe ignores, as its commands inherit them, and then execs it
 * (IGNORE_SIGNALS says why).
 * Deno.Command cannot hand a child extra fds, so for a middle command that
 * `sh` also opens two FIFOs from a private temporary directory on fds 3 and
 * 4; dpipe opens the other ends.
 *
 * When a command exits, what it wrote is pumped on and its neighbours read
 * end of input; the pumps into it stop, so their next write to it fails
 * (EPIPE), as through Debian's pipes once their reader is gone, unless a
 * child of it still reads what it read (`readerGone`). As
 * vdeplug4's dpipe, ours waits for every command and exits with the status
 * of the last one on the command line, whichever ends first: scripts read
 * that (`dpipe sh -c 'exit 3' = sh -c 'exit 5'` is 5). A last command ended
 * by a signal gives 0, as there (it returns WEXITSTATUS of a signalled
 * status). A stop signal to dpipe terminates every command, those it had
 * yet to start too, and gives that signal's status there (`stoppedStatus`).
 *
 * dpipe's options: -d and -p PIDFILE are every daemon's (program.ts); -n and
 * -N (one process per command, the last the parent of the others) are
 * taken as vdeplug4's dpipe does them: it execs the last command itself, so
 * its caller goes on as soon as that one ends, the others left running (a
 * script's next line runs while they finish). Ours returns then too, once
 * what the last wrote is pumped on, and leaves the others running; they read
 * end of input from it, as there, and the joints between them end with vde
 * dpipe where dpipe's pipes outlive it. The last one's signal N gives
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
import { cannotRun } from "../os/processes.ts";
import { unrunnable } from "../os/command_lookup.ts";
import { log } from "../log.ts";
import {
  newPipeWrittenHere,
  pipeAt,
  pipeHasReader,
  type PipeId,
  pipeOpenIn,
  pipesWrittenHere,
} from "../os/pipe_readers.ts";

/** dpipe's options (vdeplug4's): -d, -p, and the ones taken or refused (see above). */
interface DpipeFlags {
  daemon?: boolean;
  pidfile?: string;
  logfile?: string;
  nowrapproc?: boolean;
  nowrapnoclean?: boolean;
  pgrpfile?: string;
}

/** A pair of byte streams: one side of a command as dpipe sees it. */
interface Side {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/**
 * How long the pumps may run on once every command has exited: a command's child (`sh -c 'sleep 99 &'`)
 * may hold its output open, and Debian's dpipe waits for its own children only.
 */
const DRAIN_MS = 500;

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

/** Runs the command with those signals ignored. */
const RUN_SCRIPT = `${IGNORE_SIGNALS}; exec "$@"`;

/** The same, with fds 3 and 4 opened on two FIFOs first. */
const MIDDLE_SCRIPT = `${IGNORE_SIGNALS}; in=$1; out=$2; shift 2; exec "$@" 3<"$in" 4>"$out"`;

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
 * Runs the commands as a dpipe chain until every one has exited (with `nowrap`, until the last has).
 *
 * @returns the last command's exit status (`dpipeStatus`), or a stop signal's (`stoppedStatus`)
 */
export async function runDpipe(chain: readonly ChainCommand[], options: DpipeOptions = {}): Promise<number> {
  const { started = () => {}, logStderr = false, nowrap = false } = options;
  const last = chain.length - 1;
  // A command joined both ways between two others has its right side on fds 3 and 4.
  const isMiddle = (i: number) => i > 0 && i < last && chain[i]!.way === "both";
  const stderrs: ReadableStream<Uint8Array>[] = [];
  // Each is looked up first: one that cannot run is said before any runs (under sh it would exit 127).
  for (const { argv } of chain) checkRunnable(argv[0]!);
  const spawn = (argv: string[], script: string, scriptArgs: string[], env?: Record<string, string>) => {
    const child = spawnCommand(["-c", script, "sh", ...scriptArgs, ...argv], env, logStderr);
    if (logStderr) {
      stderrs.push(child.stderr);
      copyToLog(argv[0]!, child.stderr);
    }
    return child;
  };
  let dir: string | undefined;
  const children: Deno.ChildProcess[] = [];
  const files: Deno.FsFile[] = [];
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
    if (chain.some((_, i) => isMiddle(i))) dir = await Deno.makeTempDir({ prefix: "vde-dpipe-" });
    // mains[i]: command i's stdin/stdout; alternates[i]: a middle command's right side (fds 3 and 4).
    const mains: Side[] = [];
    const alternates: (Side | undefined)[] = [];
    const pending: Promise<void>[] = [];
    const fifos: string[] = [];
    // What each command reads: the pipe on its stdin, a middle command's FIFO on fd 3 (see `readerGone`).
    const stdins: (PipeId | undefined)[] = [];
    const fifoIns: (PipeId | undefined)[] = [];
    for (const [i, { argv }] of chain.entries()) {
      const fifoIn = `${dir}/${i}.in`;
      const fifoOut = `${dir}/${i}.out`;
      if (isMiddle(i)) {
        await mkfifo(fifoIn, fifoOut);
        fifos.push(fifoIn, fifoOut);
      }
      // A stop signal during the start (each mkfifo is a process, so a chain takes a while to start): those
      // started were stopped by it, and one started now would be stopped by none.
      if (stopSignal !== undefined) break;
      // The pipes we write before the spawn: a command that exits at once is named from our side.
      const written = pipesWrittenHere();
      if (!isMiddle(i)) {
        const child = spawn(argv, RUN_SCRIPT, []);
        children.push(child);
        stdins.push(pipeOpenIn(child.pid, 0) ?? newPipeWrittenHere(written));
        fifoIns.push(undefined);
        mains.push({ readable: child.stdout, writable: child.stdin });
        alternates.push(undefined);
        continue;
      }
      const child = spawn(argv, MIDDLE_SCRIPT, [fifoIn, fifoOut], {
        ALTERNATE_STDIN: "3",
        ALTERNATE_STDOUT: "4",
      });
      children.push(child);
      stdins.push(pipeOpenIn(child.pid, 0) ?? newPipeWrittenHere(written));
      fifoIns.push(pipeAt(fifoIn));
      mains.push({ readable: child.stdout, writable: child.stdin });
      alternates.push(undefined);
      pending.push(
        Promise.all([Deno.open(fifoIn, { write: true }), Deno.open(fifoOut, { read: true })]).then(
          ([toChild, fromChild]) => {
            files.push(toChild, fromChild);
            alternates[i] = { readable: fromChild.readable, writable: unbufferedSink(toChild) };
          },
        ),
      );
    }
    if (stopSignal === undefined) started();
    const exits = children.map((c) => c.status);
    const opened = await Promise.race([Promise.all(pending).then(() => true), Promise.race(exits)]);
    if (opened !== true) {
      // A command exited first, maybe a middle one before opening its FIFOs: meet our blocked opens so no
      // thread stays stuck. A middle command still starting opens its ends against ours all the same.
      for (const path of fifos) (await Deno.open(path, { read: true, write: true })).close();
      await Promise.all(pending);
    }
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    // Stopped during the start, the chain is not whole: nothing to join, its commands are ending.
    const gone = exits.map((exit, i) => readerGone(exit, stdins[i]));
    const fifoGone = exits.map((exit, i) => readerGone(exit, fifoIns[i]));
    const joined = stopSignal === undefined ? join(chain, mains, alternates, gone, fifoGone) : undefined;
    if (nowrap && joined !== undefined) {
      // dpipe -n's caller goes on once the last command ends; what it wrote still reaches its neighbour.
      const lastStatus = await exits[last]!;
      await within(DRAIN_MS, joined.lastOut);
      leaveOthers = true;
      return dpipeStatus(lastStatus, true);
    }
    const pumps = joined?.pumps ?? [];
    const statuses = await Promise.all(exits);
    await within(DRAIN_MS, Promise.all(pumps));
    // With -n a stop signal went to the last command, dpipe itself there: the status is that command's.
    const lastStatus: Deno.CommandStatus | undefined = statuses[last];
    if (lastStatus !== undefined && (stopSignal === undefined || nowrap)) {
      return dpipeStatus(lastStatus, nowrap);
    }
    return stoppedStatus(stopSignal ?? "SIGTERM");
  } finally {
    removeSignals();
    // All have exited unless on an error path (a mkfifo or spawn failed): those started are stopped and
    // waited for, killed if they ignore SIGTERM, so none outlives vde dpipe; with -n, the last has ended and
    // the others are left to run on, not waited for.
    if (leaveOthers) children.forEach((c) => c.unref());
    else await Promise.all(children.map((c) => stop(c)));
    // A command's child may hold its stderr open past it: the copy must not keep this process up.
    for (const s of stderrs) s.cancel().catch(() => {});
    for (const f of files) {
      try {
        f.close();
      } catch {
        // closed by its pump already
      }
    }
    if (dir !== undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Pumps the chain's bytes, as vde2's dpipe joins its commands' fds: walking left to right, `toRight` is
 * what flows on to the right, `toLeft` where what comes back from the right goes. A command joined both
 * ways reads `toRight` and writes `toLeft`, and, in the middle, its fds 3 and 4 are both for the next; one
 * joined left to right only reads `toRight` and is the next `toRight`, while `toLeft` passes it by; one
 * joined right to left writes `toLeft` and its stdin is the next `toLeft`.
 *
 * @param gone `gone[i]` aborts once command i's stdin has no reader left (`readerGone`): the pumps into it
 *   stop and close what they read from, as Debian's dpipe's pipe to it has no reader then, so its
 *   neighbour's next write fails (EPIPE). Pumped on, it landed in our pipe and only a write after it
 *   failed, so a command that exits as its write fares (`echo x || exit 4`) gave another status there.
 * @param fifoGone the same for a middle command's fd 3
 * @returns the pumps, each settling when its source ends or its destination is gone; `lastOut` is the one
 *   of the last command's output
 */
function join(
  chain: readonly ChainCommand[],
  mains: readonly Side[],
  alternates: readonly (Side | undefined)[],
  gone: readonly AbortSignal[],
  fifoGone: readonly AbortSignal[],
): { pumps: Promise<void>[]; lastOut: Promise<void> } {
  const pumps: Promise<void>[] = [];
  let toRight = mains[0]!.readable;
  let toLeft = mains[0]!.writable;
  // When what `toLeft` writes to has no reader: the first command's stdin, then a one-way-left command's
  // stdin or a middle command's fd 3.
  let toLeftGone = gone[0]!;
  for (let i = 1; i < chain.length; i++) {
    const { readable, writable } = mains[i]!;
    const way = chain[i]!.way;
    if (way !== "left") pumps.push(pump(toRight, writable, gone[i]!));
    if (way !== "right") pumps.push(pump(readable, toLeft, toLeftGone));
    if (way === "right") toRight = readable;
    else if (way === "left") [toLeft, toLeftGone] = [writable, gone[i]!];
    else if (alternates[i] !== undefined) {
      [toRight, toLeft, toLeftGone] = [alternates[i]!.readable, alternates[i]!.writable, fifoGone[i]!];
    }
  }
  // The last command is joined both ways (parseChain): its output's pump is the last one pushed.
  return { pumps, lastOut: pumps[pumps.length - 1]! };
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

/** Starts `sh ARGS` (a script that runs a command) with piped stdin and stdout. */
function spawnCommand(
  args: string[],
  env: Record<string, string> | undefined,
  pipeStderr: boolean,
): Deno.ChildProcess {
  try {
    const stderr = pipeStderr ? "piped" : "inherit";
    return new Deno.Command("sh", { args, env, stdin: "piped", stdout: "piped", stderr }).spawn();
  } catch (err) {
    throw new Error(`dpipe: ${cannotRun("sh", err)}`);
  }
}

/** Longest part of a line kept waiting for its newline: a command that never writes one is still said. */
const MAX_LINE = 4096;

/** Copies command `name`'s stderr to the log, a line at a time, until it ends or is cancelled. */
async function copyToLog(name: string, stream: ReadableStream<Uint8Array>): Promise<void> {
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
  } catch { /* cancelled at the end, or the command is gone */ }
  if (rest !== "") log("vde dpipe", `${name}: ${rest}`);
}

async function mkfifo(...paths: string[]): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: ["-m", "600", ...paths], stderr: "inherit" })
    .output();
  if (!success) throw new Error(`dpipe: cannot create FIFOs for a middle command`);
}

/**
 * A sink that writes each chunk straight to `file`. FsFile.writable is not
 * used: measured on Deno 2.9.6, bytes written to it on a FIFO only reached
 * the reader when the stream was closed.
 */
function unbufferedSink(file: Deno.FsFile): WritableStream<Uint8Array> {
  const close = () => {
    try {
      file.close();
    } catch {
      // already closed
    }
  };
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
    },
    close,
    abort: close,
  });
}

/**
 * Aborts once command's `exit` has come and nothing reads `pipe` (what it read) any more. A child of the
 * command may still read it (`sh -c 'exec 5<&0; cat <&5 >FILE & exit 0'`): Debian's dpipe's pipe to it
 * keeps its reader then, and what the neighbour writes reaches that child, so ours pumps on. When that
 * child ends later, the write after it fails as before this check. A command gone before its stdin could be
 * read in /proc (`sh -c 'cat & exit 0'` under load) has it named from our side (`newPipeWrittenHere`); one
 * that could not be named at all counts as unread.
 */
function readerGone(exit: Promise<Deno.CommandStatus>, pipe: PipeId | undefined): AbortSignal {
  const done = new AbortController();
  exit.then(() => {
    if (pipe === undefined || !pipeHasReader(pipe)) done.abort();
  });
  return done.signal;
}

/** Copies bytes until either side ends or `gone` aborts (then closes both); never rejects. */
function pump(
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
  gone: AbortSignal,
): Promise<void> {
  return from.pipeTo(to, { signal: gone }).catch(() => {});
}

/**
 * dpipe's status from its last command's: its exit code, or 0 when a signal ended it, as vdeplug4's dpipe
 * returns WEXITSTATUS of whatever waitpid gave (`dpipe true = sh -c 'kill -9 $$'` exits 0). With -n (`nowrap`)
 * its last command is dpipe itself, so its caller sees what a shell says of that one: 128 + N after signal N
 * (Deno's code for it already).
 */
export function dpipeStatus(last: Deno.CommandStatus, nowrap = false): number {
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
async function stop(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    child.kill(signal);
  } catch {
    // already exited
  }
  const exited = await within(KILL_AFTER_MS, child.status);
  if (!exited) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
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
