/**
 * Runs a command file at startup (`vde switch --rc FILE`, vde_switch's
 * `-f`): each line is a command, as with `load`, but nobody watches the
 * replies, so failures go to the log with their line number.
 *
 * A switch's script (`ignoreShutdown`) is not stopped by a `shutdown`
 * line (or a `load`ed script's), nor is the switch: vde_switch's runscript
 * drops handle_cmd's "shut down" answer, logs "Shutdown from mgmt command"
 * and runs the rest of the script, then serves (exit status 0). Honouring
 * it started a daemon that said it served and was gone at once; it is
 * logged as ignored and the script goes on. Debian's wirefilter exits at
 * its rc's `shutdown` (exit(0) in the command), so elsewhere it still
 * stops the script and, once answered, the program.
 */
import { MAX_SCRIPT_BYTES, othersScript, PIPE_WITHOUT_WRITER, readScript } from "./session_commands.ts";
import type { CommandRegistry, Session } from "./registry.ts";
import { Errno, errorText, formatReply, type Reply, resultLine } from "./reply_format.ts";
import { failureHint, knownCommandsOf } from "./explain.ts";

/** What a switch's startup script's `shutdown` line is logged with. */
export const SHUTDOWN_IGNORED = "a shutdown in a startup script is ignored, as vde_switch ignores it";

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
  options: { ignoreShutdown?: boolean } = {},
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
    // Only `shutdown` ends a script's session (`logout` is a no-op outside a management socket).
    if (reply.endSession && options.ignoreShutdown) {
      log(`${path}:${i + 1}: ${line.trim()}: ${SHUTDOWN_IGNORED}`);
      continue;
    }
    reply.afterSend?.();
    if (reply.endSession) break;
  }
  return failed;
}
