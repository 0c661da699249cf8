/**
 * The interactive console at a terminal, on node:readline: a prompt, Tab
 * completion, history kept across sessions, Emacs-style editing. Used by
 * the switch's own console and by `vde term`; what a line does is the
 * owner's business (`run`).
 *
 * Keys: Ctrl-C clears the line; a second Ctrl-C (before anything else is
 * typed, within a few seconds) or Ctrl-D on an empty line quits through
 * `onQuit`. Lines typed while a command runs wait their turn. Asynchronous
 * text (debug events) is printed above the prompt without losing what the
 * user was typing.
 */
import readline from "node:readline";
import process from "node:process";
import { loadHistory, MAX_HISTORY, saveHistory } from "./history.ts";

/** Settings of a REPL. */
export interface ReplOptions {
  prompt: string;
  /** Runs one line and resolves with the text to print (may be ""). */
  run: (line: string) => Promise<string>;
  /** Tab completion in node:readline's shape. */
  complete: (line: string) => Promise<[string[], string]>;
  /** History file; none when undefined. */
  historyFile?: string;
  /** Ctrl-D on an empty line ("eof") or a second Ctrl-C ("interrupt"). */
  onQuit: (why: "eof" | "interrupt") => void;
  /** Shown after a first Ctrl-C on an empty line, e.g. "press Ctrl-C again to stop the switch". */
  interruptHint: string;
}

/** How long a first Ctrl-C stays armed. */
const INTERRUPT_WINDOW_MS = 3000;

/** A readline prompt on the process's terminal. */
export class Repl {
  readonly #opts: ReplOptions;
  readonly #rl: readline.Interface;
  readonly #queue: string[] = [];
  #busy = false;
  #armedAt = 0;
  #closed = false;
  /** While set, typed lines are swallowed (a `watch` in progress owns the keyboard). */
  #grabbed = false;

  constructor(opts: ReplOptions) {
    this.#opts = opts;
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      prompt: opts.prompt,
      history: loadHistory(opts.historyFile),
      historySize: MAX_HISTORY,
      removeHistoryDuplicates: true,
      completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => {
        opts.complete(line).then((r) => callback(null, r), () => callback(null, [[], line]));
      },
    });
    this.#rl.on("history", (history: string[]) => saveHistory(opts.historyFile, history));
    this.#rl.on("line", (line: string) => this.#onLine(line));
    this.#rl.on("SIGINT", () => this.#onInterrupt());
    this.#rl.on("close", () => {
      if (this.#closed) return;
      this.#closed = true;
      process.stdout.write("\n");
      opts.onQuit("eof");
    });
  }

  /** Changes the prompt (from the next line on). */
  setPrompt(prompt: string): void {
    this.#rl.setPrompt(prompt);
  }

  /** Shows the first prompt. */
  start(): void {
    this.#rl.prompt();
  }

  /** Prints asynchronous text above the prompt, keeping the line being typed. */
  print(text: string): void {
    if (this.#closed || text === "") return;
    if (this.#busy || this.#grabbed) {
      process.stdout.write(text);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(text);
    this.#rl.prompt(true);
  }

  /**
   * Runs `task` with the keyboard: it resolves when any key is pressed or
   * `task`'s own promise settles; typed text is discarded afterwards.
   */
  async grabKeyboard(task: (keyPressed: Promise<void>) => Promise<void>): Promise<void> {
    this.#grabbed = true;
    const { promise, resolve } = Promise.withResolvers<void>();
    const onKey = () => resolve();
    process.stdin.once("keypress", onKey);
    try {
      await task(promise);
    } finally {
      process.stdin.off("keypress", onKey);
      // Let readline take in the key that stopped the task before it is wiped.
      await new Promise((r) => setTimeout(r, 0));
      this.#rl.write(null, { ctrl: true, name: "u" });
      this.#grabbed = false;
    }
  }

  /** Restores the terminal and stops reading. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#rl.close();
  }

  #onInterrupt(): void {
    // A task holding the keyboard (watch, a command in a lab host) stops on this key instead.
    if (this.#grabbed) return;
    const now = Date.now();
    const armed = now - this.#armedAt < INTERRUPT_WINDOW_MS;
    const hadText = this.#rl.line.length > 0;
    if (!hadText && armed) {
      this.#armedAt = 0;
      process.stdout.write("^C\n");
      this.#opts.onQuit("interrupt");
      return;
    }
    this.#armedAt = now;
    // Ctrl-U deletes back to the start of the line: the line is cleared, not run.
    this.#rl.write(null, { ctrl: true, name: "e" });
    this.#rl.write(null, { ctrl: true, name: "u" });
    process.stdout.write(hadText ? "^C\n" : `^C (${this.#opts.interruptHint})\n`);
    this.#rl.prompt();
  }

  #onLine(line: string): void {
    this.#armedAt = 0;
    if (this.#grabbed) return;
    this.#queue.push(line);
    if (!this.#busy) this.#drain();
  }

  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const line = this.#queue.shift()!;
        let text: string;
        try {
          text = await this.#opts.run(line);
        } catch (err) {
          text = `error: ${err instanceof Error ? err.message : String(err)}\n`;
        }
        if (this.#closed) return;
        process.stdout.write(text);
      }
    } finally {
      this.#busy = false;
    }
    if (!this.#closed) this.#rl.prompt();
  }
}
