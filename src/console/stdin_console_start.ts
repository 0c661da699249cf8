/**
 * Starting a program's console on stdin, shared by the switch and
 * wirefilter: on a pipe, the management protocol line by line (end of input
 * stops only the console); at a terminal, a REPL with a prompt, completion
 * and the shared history, where Ctrl-D or a second Ctrl-C stops the program.
 *
 * At a terminal the console speaks to a person: failures in words with the
 * usage line or the nearest command names, `exit`/`quit` explained, and log
 * lines printed above the prompt. Under a shell's job control (`vde switch &`,
 * Ctrl-Z, `bg`, `fg`) the terminal console exists only while the program owns
 * the terminal (job_control.ts).
 */
import { setLogWriter } from "../log.ts";
import { complete, type CompletionSource } from "./completer.ts";
import { formatExplained, type KnownCommands, knownCommandsOf } from "./explain.ts";
import { historyPath } from "./history.ts";
import { consoleWhileForeground } from "./job_control.ts";
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
  /** The program's delay in ms now (a wirefilter's), for the hint on netem's `jitter`. */
  delay?(): string | undefined;
  /** Where a line for the log goes when there is no console ("running in the background"). */
  log(message: string): void;
}

/** Starts the console on stdin as the spec describes. */
export function startStdinConsole(spec: StdinConsoleSpec): RunningConsole {
  const { host, commands } = spec;
  if (!Deno.stdin.isTerminal()) {
    const console = new StdinConsole(commands);
    console.run().finally(() => host.debug.detach(console));
    return { close: () => console.stop() };
  }
  return consoleWhileForeground(
    (onSuspend) => startTerminalConsole(spec, onSuspend),
    () => spec.log("in the background: no console on the terminal until `fg`"),
  );
}

function startTerminalConsole(spec: StdinConsoleSpec, onSuspend: () => void): RunningConsole {
  const { host, commands } = spec;
  const local = new CommandRegistry(commands);
  const session = new TerminalSession(local);
  const known: KnownCommands = { ...knownCommandsOf(local), delay: spec.delay };
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
