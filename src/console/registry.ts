/**
 * The console's one command registry: every command's path, argument
 * syntax, help text and handler, served by the management socket, the
 * switch's own console and `vde term`.
 *
 * Lookup is by whole word: the first word of a line must equal a command's
 * path exactly, so `shutdownx` is an unknown command (vde_switch would run
 * `shutdown`). The rest of the line, with leading blanks removed, is the
 * argument string. Listing commands always answer with a `0000` block, even
 * when they fail, as vde_switch does.
 */
import { Errno, type Reply, withBody } from "./reply_format.ts";

/** Where a session's commands come from; decides rendering and what `logout` means. */
export type SessionKind = "mgmt" | "stdin" | "terminal" | "script";

/** A console session: what a handler may ask of the client that ran it. */
export interface Session {
  readonly kind: SessionKind;
  /** Debug categories this session subscribed to (`debug/add`). */
  readonly debug: Set<string>;
  /** How many `load` scripts are running in this session, to stop runaway recursion. */
  loadDepth: number;
  /** The commands this session runs (`help` lists them, `load` runs its lines with them). */
  readonly commands: CommandRegistry;
  /** Writes an asynchronous line (a debug event) to the client. */
  notify(line: string): void;
  /** Formats a nested command's reply as this session shows it (for `load`). */
  render(reply: Reply): string;
  /** The client's process (SO_PEERCRED), where the session is a socket's. */
  readonly peerPid?: number;
  /** The client's user (SO_PEERCRED), where the session is a socket's: `load` reads files as ours, not theirs. */
  readonly peerUid?: number;
  /**
   * Aborts when the client goes (closes its end, or the session is ended)
   * or interrupts the command (Ctrl-C at `vde term`), even while a command
   * of its runs: what a command that runs for long (a lab host's `exec`)
   * stops on. Absent where there is no client to lose.
   */
  stopSignal?(): AbortSignal;
  /** Writes a listing made over time (`Reply.chunks`) as it comes; others get it whole, as `body`. */
  readonly streamsListings?: boolean;
}

/** Runs a command: `args` is the rest of the line after the command word, trimmed. */
export type Handler = (args: string, session: Session) => Reply | Promise<Reply>;

/** A command as registered. */
export interface CommandSpec {
  /** Full path, e.g. "port/print". */
  path: string;
  /** Argument syntax as `help` shows it, e.g. "[N]"; "" when none. */
  syntax: string;
  /** One-line help. */
  help: string;
  /** True when the command answers with a listing (`0000 ... .`). */
  listing: boolean;
  run: Handler;
}

/** A menu header: listed by `help`, not runnable. */
export interface MenuSpec {
  path: string;
  help: string;
}

/** One row of `help`, in registration order. */
export type HelpEntry = { menu: true; path: string; help: string } | ({ menu: false } & CommandSpec);

/** A command line split into its command word and argument string. */
export interface ParsedLine {
  /** The command word; "" for an empty line or a comment. */
  name: string;
  args: string;
}

/**
 * Splits one line: the trailing newline (and a carriage return from telnet
 * style clients) is dropped, leading blanks are skipped, a line starting
 * with `#` is a comment.
 */
export function parseLine(line: string): ParsedLine {
  const text = line.replace(/\r?\n$/, "").replace(/\r$/, "").replace(/^[ \t]+/, "");
  if (text === "" || text.startsWith("#")) return { name: "", args: "" };
  const m = /^(\S+)[ \t]*(.*)$/s.exec(text);
  if (m === null) return { name: "", args: "" };
  return { name: m[1]!, args: m[2]!.replace(/[ \t]+$/, "") };
}

/** The reply to a command nobody registered. */
export const NOT_IMPLEMENTED: Reply = { code: Errno.ENOSYS };

/**
 * A set of commands. A registry may extend a parent: lookups fall through
 * to it and `help` lists the parent's entries first, so a front end can add
 * local commands (the REPL's `watch`) without touching the switch's set.
 */
export class CommandRegistry {
  readonly #parent: CommandRegistry | undefined;
  readonly #entries: HelpEntry[] = [];
  readonly #byPath = new Map<string, CommandSpec>();
  readonly #settle: (() => () => Promise<void>) | undefined;
  /**
   * Answers a line that names no command in words (the lab says a program's line as its host's);
   * undefined leaves the bare 1038.
   */
  unknown: ((line: string) => Reply | undefined) | undefined;

  /**
   * @param parent registry whose commands this one extends
   * @param settle called as each of this registry's commands starts; what it returns is awaited
   *   after the command, before its reply: what the command changed is then in effect (a switch's
   *   data-plane thread applied it), so the next command reads it
   */
  constructor(parent?: CommandRegistry, settle?: () => () => Promise<void>) {
    this.#parent = parent;
    this.#settle = settle;
  }

  /** Adds a menu header (`help` shows it with syntax `============`). */
  menu(path: string, help: string): this {
    this.#entries.push({ menu: true, path, help });
    return this;
  }

  /**
   * Adds a command.
   *
   * @throws Error if the path is taken or contains blanks
   */
  add(spec: CommandSpec): this {
    if (/\s/.test(spec.path) || spec.path === "") throw new Error(`Invalid command path "${spec.path}"`);
    if (this.lookup(spec.path) !== undefined) throw new Error(`Command ${spec.path} is already registered`);
    const settle = this.#settle;
    const run: Handler = settle === undefined ? spec.run : async (args, session) => {
      const settled = settle();
      try {
        return await spec.run(args, session);
      } finally {
        await settled();
      }
    };
    // Wrapped here, not in `execute`: a registry extending this one runs the same spec.
    this.#byPath.set(spec.path, { ...spec, run });
    this.#entries.push({ menu: false, ...spec, run });
    return this;
  }

  /** The command whose path is exactly `name`, if any. */
  lookup(name: string): CommandSpec | undefined {
    return this.#byPath.get(name) ?? this.#parent?.lookup(name);
  }

  /** Every help entry (menus and commands), parent's first, in registration order. */
  entries(): HelpEntry[] {
    return [...(this.#parent?.entries() ?? []), ...this.#entries];
  }

  /** Paths of every runnable command. */
  commandPaths(): string[] {
    return this.entries().filter((e) => !e.menu).map((e) => e.path);
  }

  /**
   * Runs one line in `session`. An empty line or a comment gives null (no
   * reply, only a prompt); an unknown command gives 1038; a handler that
   * throws gives 1005 (EIO) rather than taking the session down.
   */
  async execute(line: string, session: Session): Promise<Reply | null> {
    const { name, args } = parseLine(line);
    if (name === "") return null;
    const spec = this.lookup(name);
    if (spec === undefined) return this.unknown?.(line) ?? NOT_IMPLEMENTED;
    let reply: Reply;
    try {
      reply = await spec.run(args, session);
      if (!session.streamsListings) reply = await withBody(reply);
    } catch {
      reply = { code: Errno.EIO };
    }
    if (spec.listing && reply.lines === undefined && reply.body === undefined && reply.chunks === undefined) {
      return { ...reply, lines: [] };
    }
    return reply;
  }
}

/** A successful reply without a listing. */
export function ok(): Reply {
  return { code: 0 };
}

/** A failed reply without a listing. */
export function fail(code: number): Reply {
  return { code };
}

/** A listing reply. */
export function listing(lines: string[], code = 0): Reply {
  return { code, lines };
}

/**
 * A failed reply that says why in words, before the result line: a person's
 * console shows the words alone, and `vde term -c` puts them on stderr.
 */
export function failure(message: string, code: number): Reply {
  return { code, raw: `${message}\n` };
}
