/**
 * wirefilter's console on stdin, for `vde wirefilter A B` (as wirefilter's
 * own stdin console in its `-v` mode): at a terminal a prompt with Tab
 * completion and the shared history; on a pipe, one command per line
 * answered in the management protocol's format. End of input stops the
 * console, not the filter; at a terminal Ctrl-D or a second Ctrl-C stops
 * the filter.
 */
import type { CompletionSource } from "../console/completer.ts";
import type { CommandRegistry } from "../console/registry.ts";
import { startStdinConsole } from "../console/stdin_console_start.ts";
import { WIREFILTER_PROMPT, type WirefilterContext } from "./commands.ts";
import type { RunningConsole } from "../console/terminal_session.ts";
import { log } from "../log.ts";

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
  return startStdinConsole({
    host: ctx,
    commands,
    prompt: WIREFILTER_PROMPT,
    stops: "filter",
    detachHint:
      "To keep a filter running without it, start it with --daemon --mgmt PATH and use `vde term PATH`.",
    log: (m) => log("vde wirefilter", m),
    completion: completionSource,
    delay: () => ctx.currentDelay(),
  });
}

export type { RunningConsole };
