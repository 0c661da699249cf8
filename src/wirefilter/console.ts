/**
 * wirefilter's console on stdin, for `vde wirefilter A B` (as wirefilter's
 * own stdin console in its `-v` mode): at a terminal a prompt with Tab
 * completion and the shared history; on a pipe, one command per line
 * answered in the management protocol's format. End of input stops the
 * console, not the filter; at a terminal Ctrl-D or a second Ctrl-C stops
 * the filter.
 */
import { complete, type CompletionSource } from "../console/completer.ts";
import { historyPath } from "../console/history.ts";
import { CommandRegistry } from "../console/registry.ts";
import { formatForPeople } from "../console/reply_format.ts";
import { Repl } from "../console/repl.ts";
import { StdinConsole } from "../console/stdin_console.ts";
import { WIREFILTER_PROMPT, type WirefilterContext } from "./commands.ts";
import { type RunningConsole, TerminalSession } from "../console/terminal_session.ts";

/** Completion from the filter's own registry: command names, 0/1, file names. */
function completionSource(commands: CommandRegistry): CompletionSource {
  return {
    commands: () => Promise.resolve(commands.commandPaths()),
    syntax: (path) => Promise.resolve(commands.lookup(path)?.syntax),
    ports: () => Promise.resolve([]),
    macs: () => Promise.resolve([]),
    debugCategories: () => Promise.resolve([]),
  };
}

/** Starts the console on stdin. */
export function startWirefilterConsole(ctx: WirefilterContext, commands: CommandRegistry): RunningConsole {
  if (!Deno.stdin.isTerminal()) {
    const console = new StdinConsole(commands);
    console.run().finally(() => ctx.debug.detach(console));
    return { close: () => console.stop() };
  }
  const local = new CommandRegistry(commands);
  const session = new TerminalSession(local);
  const repl = new Repl({
    prompt: WIREFILTER_PROMPT,
    run: async (line) => {
      const reply = await local.execute(line, session);
      if (reply === null) return "";
      reply.afterSend?.();
      return formatForPeople(reply);
    },
    complete: (line) => complete(line, completionSource(local)),
    historyFile: historyPath(),
    onQuit: (why) => ctx.shutdown(why === "eof" ? "end of input on the console" : "Ctrl-C on the console"),
    interruptHint: "Ctrl-C again or `shutdown` stops the filter",
  });
  session.repl = repl;
  repl.start();
  return {
    close: () => {
      ctx.debug.detach(session);
      repl.close();
    },
  };
}

export type { RunningConsole };
