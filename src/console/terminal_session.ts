/**
 * The console session of a person at a terminal: replies are rendered for
 * people and asynchronous lines go through the REPL so they do not break the
 * line being typed. Shared by the switch's and wirefilter's consoles.
 */
import type { CommandRegistry, Session } from "./registry.ts";
import { formatForPeople, type Reply } from "./reply_format.ts";
import type { Repl } from "./repl.ts";

/** A running console; `close` restores the terminal. */
export interface RunningConsole {
  close(): void;
}

/** The session behind a terminal console. */
export class TerminalSession implements Session {
  readonly kind = "terminal" as const;
  readonly debug = new Set<string>();
  loadDepth = 0;
  repl: Repl | undefined;
  constructor(readonly commands: CommandRegistry) {}
  notify(line: string): void {
    this.repl?.print(line);
  }
  render(reply: Reply): string {
    return formatForPeople(reply);
  }
}
