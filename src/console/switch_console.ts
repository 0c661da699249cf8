/**
 * The switch's own console on stdin: an interactive REPL when stdin is a
 * terminal (prompt `vde[DIR]$ `, completion, history, tables, `watch`),
 * otherwise vde_switch's plain protocol on stdin/stdout for scripts and
 * supervisors.
 */
import type { CompletionSource } from "./completer.ts";
import { complete } from "./completer.ts";
import type { ConsoleContext } from "./context.ts";
import { DEBUG_CATEGORIES } from "./debug.ts";
import { historyPath } from "./history.ts";
import { CommandRegistry } from "./registry.ts";
import { formatForPeople } from "./reply_format.ts";
import { Repl } from "./repl.ts";
import { StdinConsole } from "./stdin_console.ts";
import { portsTable } from "./tables.ts";
import { portViews } from "./views.ts";
import { watchCommand } from "./watch.ts";
import { type RunningConsole, TerminalSession } from "./terminal_session.ts";

/** Completion candidates from this process's switch and registry. */
export function localCompletionSource(commands: CommandRegistry, ctx: ConsoleContext): CompletionSource {
  return {
    commands: () => Promise.resolve(commands.commandPaths()),
    syntax: (path) => Promise.resolve(commands.lookup(path)?.syntax),
    ports: () => Promise.resolve(ctx.sw.allocatedPorts()),
    macs: () => Promise.resolve([...ctx.sw.engine.macTable.entries()].map((e) => e.mac)),
    debugCategories: () => Promise.resolve(DEBUG_CATEGORIES.map((c) => c.path)),
  };
}

/**
 * Starts the console on stdin for a switch whose socket directory is
 * `label`. At a terminal, Ctrl-D or a second Ctrl-C stops the switch (as
 * end of input does for vde_switch); on a pipe, end of input only stops the
 * console.
 */
export function startSwitchConsole(
  ctx: ConsoleContext,
  commands: CommandRegistry,
  label: string,
): RunningConsole {
  if (!Deno.stdin.isTerminal()) {
    const console = new StdinConsole(commands);
    console.run().finally(() => ctx.debug.detach(console));
    return { close: () => console.stop() };
  }
  const local = new CommandRegistry(commands);
  const session = new TerminalSession(local);
  const repl = new Repl({
    prompt: `vde[${label}]$ `,
    run: async (line) => {
      const reply = await local.execute(line, session);
      if (reply === null) return "";
      reply.afterSend?.();
      return formatForPeople(reply);
    },
    complete: (line) => complete(line, localCompletionSource(local, ctx)),
    historyFile: historyPath(),
    onQuit: (why) => ctx.shutdown(why === "eof" ? "end of input on the console" : "Ctrl-C on the console"),
    interruptHint: "Ctrl-C again or `shutdown` stops the switch",
  });
  session.repl = repl;
  local.add(watchCommand(repl, () => Promise.resolve(portsTable(portViews(ctx, false)))));
  repl.start();
  return {
    close: () => {
      ctx.debug.detach(session);
      repl.close();
    },
  };
}

export type { RunningConsole };
