/**
 * A program's console on a stdin that is not a terminal (a pipe, a file,
 * systemd): commands are read line by line and answered on stdout in
 * vde_switch's protocol format, without a prompt, as vde_switch does. End
 * of input stops reading, not the program: under a supervisor or with
 * `< /dev/null` a switch or a wirefilter keeps running.
 */
import { LineSplitter } from "./line_splitter.ts";
import { OutputQueue } from "./output_queue.ts";
import type { CommandRegistry, Session } from "./registry.ts";
import { Errno, formatReply, type Reply } from "./reply_format.ts";

/** Where commands come from: Deno.stdin, or a test's pipe. */
export interface Reader {
  read(p: Uint8Array): Promise<number | null>;
}

/** Unsent output above which the console stops reading commands. */
const HIGH_WATER = 64 * 1024;
/** Unsent output above which debug lines are dropped. */
const MAX_PENDING = 1 << 20;
/** Longest command line, bytes. */
const MAX_LINE = 4096;
/** How long `shutdown` waits for its reply to reach stdout. */
const FLUSH_MS = 2000;

/** A console reading commands from a non-terminal stdin. */
export class StdinConsole implements Session {
  readonly kind = "stdin" as const;
  readonly debug = new Set<string>();
  loadDepth = 0;
  readonly commands: CommandRegistry;
  readonly #out: OutputQueue;
  readonly #input: Reader;
  #stopped = false;

  /**
   * @param commands what lines run
   * @param input default Deno.stdin
   * @param output default Deno.stdout
   */
  constructor(
    commands: CommandRegistry,
    input: Reader = Deno.stdin,
    output: { write(p: Uint8Array): Promise<number> } = Deno.stdout,
  ) {
    this.commands = commands;
    this.#input = input;
    this.#out = new OutputQueue(output, () => {});
  }

  notify(line: string): void {
    if (this.#out.pending <= MAX_PENDING) this.#out.push(line);
  }

  render(reply: Reply): string {
    return formatReply(reply);
  }

  /** Reads and runs commands until end of input or `stop()`. */
  async run(): Promise<void> {
    const splitter = new LineSplitter(MAX_LINE);
    const buf = new Uint8Array(4096);
    while (!this.#stopped) {
      await this.#out.below(HIGH_WATER);
      let n: number | null;
      try {
        n = await this.#input.read(buf);
      } catch {
        return;
      }
      if (n === null) return;
      for (const item of splitter.push(buf.subarray(0, n))) {
        if (this.#stopped) return;
        await this.#out.below(HIGH_WATER);
        const reply = "overlong" in item
          ? { code: Errno.E2BIG }
          : await this.commands.execute(item.line, this);
        if (reply === null) continue;
        this.#out.push(reply.endSession ? `${formatReply(reply)}\n` : formatReply(reply));
        // `shutdown` stops the process: let its last line out first (bounded).
        if (reply.afterSend !== undefined) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([this.#out.below(0), new Promise((r) => (timer = setTimeout(r, FLUSH_MS)))]);
          clearTimeout(timer);
          reply.afterSend();
        }
      }
    }
  }

  /** Stops running commands (a read in progress is abandoned). */
  stop(): void {
    this.#stopped = true;
  }
}
