/**
 * Runs a command file at startup (`vde switch --rc FILE`, vde_switch's
 * `-f`): each line is a command, as with `load`, but nobody watches the
 * replies, so failures go to the log with their line number.
 *
 * A switch's `shutdown` in a script is ignored by the command itself
 * (addSessionEndCommands' scriptsIgnoreShutdown, as vde_switch's runscript
 * drops it): it is logged here, nobody seeing its answer, and the script
 * runs on. Elsewhere (wirefilter's rc, as Debian's wirefilter exits there)
 * a `shutdown` stops the script and, once answered, the program.
 */
import {
  MAX_SCRIPT_BYTES,
  othersScript,
  PIPE_WITHOUT_WRITER,
  readScript,
  SHUTDOWN_IGNORED,
} from "./session_commands.ts";
import type { CommandRegistry, Session } from "./registry.ts";
import { Errno, errorText, formatReply, type Reply, resultLine } from "./reply_format.ts";
import { failureHint, knownCommandsOf } from "./explain.ts";

/** The session a startup script runs in: replies are not shown anywhere. */
class ScriptSession implements Session {
  readonly kind = "script" as const;
  readonly debug = new Set<string>();
  loadDepth = 0;
  constructor(readonly commands: CommandRegistry) {}
  notify(): void {}
  render(reply: Reply): string {
    return formatReply(reply);
  }
}

/**
 * Runs every line of `path`.
 *
 * @returns how many commands failed
 * @throws Error if the file cannot be read
 */
export async function runStartupScript(
  path: string,
  commands: CommandRegistry,
  log: (message: string) => void,
): Promise<number> {
  const lines = await readScript(path);
  if (typeof lines === "number") {
    // E2BIG's own words ("Argument list too long") say nothing of the bound it met.
    const why = (lines === Errno.EPERM ? othersScript(path) : undefined) ??
      (lines === Errno.E2BIG
        ? `longer than a script may be (${MAX_SCRIPT_BYTES >> 20} MiB)`
        : lines === Errno.ETIMEDOUT
        ? PIPE_WITHOUT_WRITER
        : errorText(lines));
    throw new Error(`cannot read the startup script ${path}: ${why}`);
  }
  const session = new ScriptSession(commands);
  let failed = 0;
  for (const [i, line] of lines.entries()) {
    const reply = await commands.execute(line, session);
    if (reply === null) continue;
    if (reply.code !== 0) {
      failed++;
      // With the words a terminal would add: nobody is there to type `help` for a script's mistake.
      const hint = failureHint(line, reply.code, knownCommandsOf(commands));
      log(
        `${path}:${i + 1}: ${line.trim()}: ${resultLine(reply.code)}${
          hint === undefined ? "" : ` (${hint})`
        }`,
      );
    }
    if (reply.shutdownIgnored) log(`${path}:${i + 1}: ${line.trim()}: ${SHUTDOWN_IGNORED}`);
    reply.afterSend?.();
    // Only `shutdown` ends a script's session (`logout` is a no-op outside a management socket).
    if (reply.endSession) break;
  }
  return failed;
}
