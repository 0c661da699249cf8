/**
 * Starting a program's console on stdin, shared by the switch and
 * wirefilter: on a pipe, the management protocol line by line (end of input
 * stops only the console); at a terminal, a REPL with a prompt, completion
 * and the shared history, where Ctrl-D or a second Ctrl-C stops the program.
 *
 * At a terminal the console speaks to a person: failures in words with the
 * usage line or the nearest command names, `exit`/`quit` explained, and log
 * lines printed above the prompt. A program started in the background of a
 * shell (`vde switch &`) must not touch the terminal: setting it up would
 * stop the whole program (SIGTTOU) until `fg`, signals included. It starts
 * without a console then, and gets one once it is brought to the foreground.
 */
import { setLogWriter } from "../log.ts";
import { complete, type CompletionSource } from "./completer.ts";
import { formatExplained, type KnownCommands } from "./explain.ts";
import { historyPath } from "./history.ts";
import type { SessionHost } from "./mgmt_server.ts";
import { CommandRegistry } from "./registry.ts";
import { Repl } from "./repl.ts";
import { StdinConsole } from "./stdin_console.ts";
import { type RunningConsole, TerminalSession } from "./terminal_session.ts";

/** What differs between the programs' consoles. */
export interface StdinConsoleSpec {
  /** The program: debug sessions to forget, and how it stops. */
  host: SessionHost & { shutdown(reason: string): void };
  commands: CommandRegistry;
  prompt: string;
  /** What `shutdown` stops, for the hint after one Ctrl-C ("switch", "filter"). */
  stops: string;
  /** How to run the program without this console, for `exit` ("start it with --daemon ..."). */
  detachHint: string;
  /** Tab completion from the terminal's own registry (the shared one plus local commands). */
  completion(local: CommandRegistry): CompletionSource;
  /** Adds terminal-only commands (such as `watch`) once the REPL exists. */
  addLocal?(local: CommandRegistry, repl: Repl): void;
  /** Where a line for the log goes when there is no console ("running in the background"). */
  log(message: string): void;
}

/**
 * Whether this process may use its terminal: false when a shell's job
 * control put it in the background. /proc/self/stat holds the process
 * group (field 5) and the terminal's foreground group (field 8).
 */
export function inForeground(): boolean {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(fields[2]);
    const foreground = Number(fields[5]);
    return foreground <= 0 || foreground === pgrp;
  } catch {
    return true;
  }
}

/** How often a program in the background looks whether `fg` gave it the terminal. */
const FOREGROUND_POLL_MS = 500;

/** Starts the console on stdin as the spec describes. */
export function startStdinConsole(spec: StdinConsoleSpec): RunningConsole {
  const { host, commands } = spec;
  if (!Deno.stdin.isTerminal()) {
    const console = new StdinConsole(commands);
    console.run().finally(() => host.debug.detach(console));
    return { close: () => console.stop() };
  }
  let running: RunningConsole | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const attach = () => {
    if (inForeground()) {
      running = startTerminalConsole(spec, suspend);
      return;
    }
    spec.log("in the background: no console on the terminal until `fg`");
    // `fg` sends no signal to a running job: look (cheaply) whether the terminal became ours.
    const poll = setInterval(() => {
      if (!inForeground()) return;
      clearInterval(poll);
      running = startTerminalConsole(spec, suspend);
    }, FOREGROUND_POLL_MS);
    Deno.unrefTimer(poll);
    timer = poll;
  };
  // Ctrl-Z: the terminal restored, the program stopped as a job is; `fg` gives the console back, and
  // after `bg` the program runs on without one (until `fg`) instead of stopping at its next read.
  const suspend = () => {
    running?.close();
    running = null;
    Deno.kill(Deno.pid, "SIGSTOP");
    if (!closed) attach();
  };
  attach();
  return {
    close: () => {
      closed = true;
      clearInterval(timer);
      running?.close();
    },
  };
}

function startTerminalConsole(spec: StdinConsoleSpec, onSuspend: () => void): RunningConsole {
  const { host, commands } = spec;
  const local = new CommandRegistry(commands);
  const session = new TerminalSession(local);
  const known: KnownCommands = { syntax: (p) => local.lookup(p)?.syntax, paths: () => local.commandPaths() };
  const leave =
    `this console belongs to the ${spec.stops}: \`shutdown\` or Ctrl-D stops it.\n${spec.detachHint}`;
  for (const path of ["exit", "quit"]) {
    local.add({
      path,
      syntax: "",
      help: `how to leave (this console belongs to the ${spec.stops})`,
      listing: false,
      run: () => ({ code: 0, raw: `${leave}\n` }),
    });
  }
  const help = local.lookup("help");
  if (help !== undefined) local.add({ ...help, path: "?", help: "same as help" });
  const repl = new Repl({
    prompt: spec.prompt,
    run: async (line) => {
      const reply = await local.execute(line, session);
      if (reply === null) return "";
      reply.afterSend?.();
      return formatExplained(line, reply, known);
    },
    complete: (line) => complete(line, spec.completion(local)),
    historyFile: historyPath(),
    onQuit: (why) => host.shutdown(why === "eof" ? "end of input on the console" : "Ctrl-C on the console"),
    interruptHint: `Ctrl-C again or \`shutdown\` stops the ${spec.stops}`,
    onSuspend,
  });
  session.repl = repl;
  spec.addLocal?.(local, repl);
  setLogWriter((line) => repl.print(line));
  repl.start();
  return {
    close: () => {
      setLogWriter(null);
      host.debug.detach(session);
      repl.close();
    },
  };
}
