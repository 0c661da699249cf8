/**
 * The switch's own console on stdin: an interactive REPL when stdin is a
 * terminal (prompt `vde[DIR]$ `, completion, history, tables, `watch`),
 * otherwise vde_switch's plain protocol on stdin/stdout for scripts and
 * supervisors.
 */
import type { CompletionSource } from "../completer.ts";
import type { ConsoleContext } from "./context.ts";
import { DEBUG_CATEGORIES } from "./debug.ts";
import type { CommandRegistry } from "../registry.ts";
import { startStdinConsole } from "../stdin_console_start.ts";
import { portsTableWithRates } from "./tables.ts";
import { portViews } from "./views.ts";
import { watchCommand } from "../watch.ts";
import type { RunningConsole } from "../terminal_session.ts";
import { log } from "../../log.ts";

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
  return startStdinConsole({
    host: ctx,
    commands,
    prompt: `vde[${label}]$ `,
    stops: "switch",
    detachHint:
      `To keep a switch running without it, start it with --daemon (or \`&\` with \`< /dev/null\`) ` +
      `and use \`vde term ${label}\`.`,
    log: (m) => log("vde switch", m),
    completion: (local) => localCompletionSource(local, ctx),
    addLocal: (local, repl) =>
      local.add(watchCommand(repl, portsTableWithRates(() => Promise.resolve(portViews(ctx, false)), true))),
  });
}

export type { RunningConsole };
