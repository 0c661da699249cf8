/**
 * Starting a program's console on stdin, shared by the switch and
 * wirefilter: on a pipe, the management protocol line by line (end of input
 * stops only the console); at a terminal, a REPL with a prompt, completion
 * and the shared history, where Ctrl-D or a second Ctrl-C stops the program.
 */
import { complete, type CompletionSource } from "./completer.ts";
import { historyPath } from "./history.ts";
import type { SessionHost } from "./mgmt_server.ts";
import { CommandRegistry } from "./registry.ts";
import { formatForPeople } from "./reply_format.ts";
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
  /** Tab completion from the terminal's own registry (the shared one plus local commands). */
  completion(local: CommandRegistry): CompletionSource;
  /** Adds terminal-only commands (such as `watch`) once the REPL exists. */
  addLocal?(local: CommandRegistry, repl: Repl): void;
}

/** Starts the console on stdin as the spec describes. */
export function startStdinConsole(spec: StdinConsoleSpec): RunningConsole {
  const { host, commands } = spec;
  if (!Deno.stdin.isTerminal()) {
    const console = new StdinConsole(commands);
    console.run().finally(() => host.debug.detach(console));
    return { close: () => console.stop() };
  }
  const local = new CommandRegistry(commands);
  const session = new TerminalSession(local);
  const repl = new Repl({
    prompt: spec.prompt,
    run: async (line) => {
      const reply = await local.execute(line, session);
      if (reply === null) return "";
      reply.afterSend?.();
      return formatForPeople(reply);
    },
    complete: (line) => complete(line, spec.completion(local)),
    historyFile: historyPath(),
    onQuit: (why) => host.shutdown(why === "eof" ? "end of input on the console" : "Ctrl-C on the console"),
    interruptHint: `Ctrl-C again or \`shutdown\` stops the ${spec.stops}`,
  });
  session.repl = repl;
  spec.addLocal?.(local, repl);
  repl.start();
  return {
    close: () => {
      host.debug.detach(session);
      repl.close();
    },
  };
}
