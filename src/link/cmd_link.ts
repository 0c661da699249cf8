/**
 * The `cmd` scheme: `cmd://COMMAND ARGS` runs COMMAND as a child process and
 * exchanges frames with it on its stdin/stdout using the stream framing, so
 * `cmd://"ssh host vde plug /tmp/sw"` is a cable to a remote switch.
 *
 * The command line is split like a shell would (quotes and backslashes, no
 * expansions) but no shell runs. The child's stderr is inherited so its
 * errors (ssh's, say) reach the user.
 *
 * The link ends when the child exits, with the reason "command exited with
 * status N"; the end of its stdout alone does not end it (a command may only
 * consume frames). Output the child wrote just before exiting is still read:
 * after the exit the link closes when stdout ends, or after a short grace
 * period (a grandchild may hold stdout open). Closing the link terminates
 * the child.
 */
import type { Link, LinkKind } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { StreamLink } from "./stream_link.ts";
import { MAX_FRAME_OUT } from "../wire/stream_framing.ts";
import { cannotRun } from "../os/processes.ts";

/** How long to keep reading a child's stdout after it exited. */
const GRACE_MS = 500;

/** How long a child may ignore SIGTERM before it is killed. */
const KILL_AFTER_MS = 2000;

/**
 * Splits a command line into words like a POSIX shell, without expansions:
 * blanks separate words, '…' quotes literally, "…" quotes with `\` escaping
 * `"`, `\`, `$` and backquote, and `\` outside quotes escapes any character.
 * A line that is one quoted string holding blanks (`"ssh host vde plug"`,
 * as a VNL often carries it) is split again inside the quotes.
 *
 * @param line the command line
 * @returns the words; an error for an unterminated quote or a trailing backslash
 */
export function splitCommand(line: string): string[] {
  const words = splitWords(line);
  const whole = /^\s*(["'])[\s\S]*\1\s*$/.test(line);
  if (words.length === 1 && whole && /\s/.test(words[0]!)) return splitWords(words[0]!);
  return words;
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "\\") {
      if (i + 1 >= line.length) throw new Error("command ends with a lone backslash");
      word += line[i + 1];
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error("unterminated ' quote in command");
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error('unterminated " quote in command');
        const d = line[i]!;
        if (d === '"') break;
        const next = line[i + 1];
        if (d === "\\" && next !== undefined && '"\\$`'.includes(next)) {
          word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Describes a child's exit the way the link reports it. */
export function exitReason(status: Deno.CommandStatus): string {
  if (status.signal !== null) return `command killed by ${status.signal}`;
  return `command exited with status ${status.code}`;
}

/** CmdLink is a stream link to a child process's stdin/stdout. */
export class CmdLink extends StreamLink {
  override readonly kind: LinkKind = "cmd";
  /** The words of the command that runs. */
  readonly argv: readonly string[];
  readonly #child: Deno.ChildProcess;
  #exit: string | undefined;
  #killedBy: Deno.Signal | null = null;
  /** The command exited non-zero or was killed (known once it exited). */
  #exitFailed = false;
  /** The link closed of that failed exit (its reason is the exit's). */
  #failed = false;
  #streamEnd: string | undefined;
  #grace: ReturnType<typeof setTimeout> | undefined;

  /** Wraps a child spawned with piped stdin and stdout. */
  constructor(argv: readonly string[], child: Deno.ChildProcess) {
    super(`cmd ${argv.join(" ")} (pid ${child.pid})`, child.stdout, child.stdin, {
      maxFrameIn: MAX_FRAME_OUT,
    });
    this.argv = argv;
    this.#child = child;
    child.status.then((status) => this.#exited(status));
  }

  /** Process id of the child. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The signal that killed the command, once it died of one (set before `closed` says so); else null. */
  get killedBy(): Deno.Signal | null {
    return this.#killedBy;
  }

  /** The link closed because its command failed (exited non-zero or was killed): set before `closed` resolves. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Waits for the child to exit before closing, so the reason names its status. */
  protected override streamEnded(reason: string): void {
    this.#streamEnd ??= reason;
    if (this.#exit !== undefined) this.#closeWithExit();
  }

  protected override teardown(): void {
    clearTimeout(this.#grace);
    super.teardown();
    if (this.#exit !== undefined) return;
    const child = this.#child;
    try {
      child.kill("SIGTERM");
    } catch {
      return; // already gone
    }
    const killer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, KILL_AFTER_MS);
    child.status.finally(() => clearTimeout(killer));
  }

  #exited(status: Deno.CommandStatus): void {
    this.#killedBy = status.signal;
    this.#exitFailed = !status.success;
    this.#exit = exitReason(status);
    if (this.isClosed) return;
    if (this.#streamEnd !== undefined) this.#closeWithExit();
    else this.#grace = setTimeout(() => this.#closeWithExit(), GRACE_MS);
  }

  /** Closes with the exit's reason, and whether it was a failure, unless something closed the link first. */
  #closeWithExit(): void {
    if (this.isClosed) return;
    this.#failed = this.#exitFailed;
    this.close(this.#exit);
  }
}

/** Runs the command a `cmd://` VNL names and links to it. */
export function openCmdLink(command: string): Link {
  const argv = splitCommand(command);
  const program = argv[0];
  if (program === undefined) throw new Error("cmd:// needs a command to run");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args: argv.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (err) {
    throw new Error(cannotRun(program, err));
  }
  return new CmdLink(argv, child);
}

registerScheme("cmd", (rest) => {
  try {
    return Promise.resolve(openCmdLink(rest));
  } catch (err) {
    return Promise.reject(err);
  }
});
