/**
 * The interactive console at a terminal, on node:readline: a prompt, Tab
 * completion, history kept across sessions, Emacs-style editing. Used by
 * the switch's own console and by `vde term`; what a line does is the
 * owner's business (`run`).
 *
 * Keys: Ctrl-C clears the line, keeping what was typed in the history (Up
 * brings it back); on an empty line it warns, and a second Ctrl-C (before
 * anything else is typed, within a few seconds) or Ctrl-D on an empty line
 * quits through `onQuit`. Ctrl-R
 * searches the history backwards as in bash: type to narrow, Ctrl-R again
 * for an older match, Enter runs it, Esc or an editing key keeps it on the
 * line, Ctrl-G or Ctrl-C gives the line back. node:readline has no search,
 * so its key handler is wrapped. Lines typed while a command runs wait their turn. Asynchronous
 * text (debug events) is printed above the prompt without losing what the
 * user was typing.
 *
 * Deno erases the terminal's current line while it loads a Worker (see
 * dataplane/worker_loaded.ts), which a switch, a link or a slirp starts at
 * no set time: a prompt wiped that way is drawn again, with what was being
 * typed, once the worker has loaded.
 */
import readline from "node:readline";
import process from "node:process";
import { onWorkerLoaded } from "../dataplane/worker_loaded.ts";
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
  /**
   * Ctrl-Z, in place of readline's own stop: readline would take the
   * terminal again on any SIGCONT, so `bg` would stop a server at its next
   * read (SIGTTIN). Undefined: readline's way.
   */
  onSuspend?: () => void;
}

/**
 * Once the terminal is gone (its window closed, an ssh session dropped),
 * every write to it fails: node's stdout reports that as an 'error' event,
 * which unheard ends the process with an uncaught EPIPE, in the middle of
 * the shutdown that the hang-up or the end of input has just started (a
 * lab half taken down). Nothing can be shown any more, so it is ignored.
 */
function ignoreOutputErrors(): void {
  if (process.stdout.listenerCount("error") === 0) process.stdout.on("error", () => {});
}

/** How long a first Ctrl-C stays armed. */
const INTERRUPT_WINDOW_MS = 3000;

/** A key as node:readline decodes it. */
interface Key {
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
  sequence?: string;
}

/** The parts of node:readline's Interface the history search needs. */
interface ReadlineInternals {
  _ttyWrite(s: string | undefined, key: Key | undefined): void;
  history: string[];
  historyIndex: number;
  line: string;
}

/** A history search in progress. */
interface Search {
  query: string;
  /** Index in the history (newest first) of the match shown, -1 for none. */
  index: number;
}

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
  #search: Search | null = null;
  readonly #unwatchWorkers: () => void;
  /** Set once `start` has shown the first prompt. */
  #started = false;

  constructor(opts: ReplOptions) {
    this.#opts = opts;
    ignoreOutputErrors();
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
    const internals = this.#rl as unknown as ReadlineInternals;
    const keyHandler = internals._ttyWrite.bind(this.#rl);
    internals._ttyWrite = (s, key) => {
      if (this.#search !== null) this.#searchKey(s, key ?? {}, keyHandler);
      else if (key?.ctrl && key.name === "r" && !this.#grabbed) this.#startSearch();
      else keyHandler(s, key);
    };
    this.#rl.on("line", (line: string) => this.#onLine(line));
    this.#rl.on("SIGINT", () => this.#onInterrupt());
    const onSuspend = opts.onSuspend;
    if (onSuspend !== undefined) this.#rl.on("SIGTSTP", () => onSuspend());
    this.#rl.on("close", () => {
      this.#unwatchWorkers();
      if (this.#closed) return;
      this.#closed = true;
      process.stdout.write("\n");
      opts.onQuit("eof");
    });
    this.#unwatchWorkers = onWorkerLoaded(() => this.#redraw());
  }

  /** Changes the prompt (from the next line on). */
  setPrompt(prompt: string): void {
    this.#rl.setPrompt(prompt);
  }

  /** Shows the first prompt. */
  start(): void {
    this.#started = true;
    this.#rl.prompt();
  }

  /** Prints asynchronous text above the prompt, keeping the line being typed. */
  print(text: string): void {
    if (text === "") return;
    // After Ctrl-D the prompt is gone, but the program's last lines still belong on screen.
    if (this.#closed || this.#busy || this.#grabbed) {
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
    this.#unwatchWorkers();
    // The prompt drawn last goes, so the program's last lines and the shell's prompt do not follow it.
    if (!this.#busy && !this.#grabbed) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
    }
    this.#rl.close();
  }

  /**
   * Draws the prompt line (or the history search) again in place, after
   * something else may have erased it. While a command runs there is no
   * prompt to draw: it comes after the command's output.
   */
  #redraw(): void {
    if (!this.#started || this.#closed || this.#busy || this.#grabbed) return;
    if (this.#search !== null) this.#drawSearch();
    else this.#rl.prompt(true);
  }

  get #internals(): ReadlineInternals {
    return this.#rl as unknown as ReadlineInternals;
  }

  /** The newest history entry at or after `from` containing `query`, or -1. */
  #find(query: string, from: number): number {
    const history = this.#internals.history;
    for (let i = Math.max(0, from); i < history.length; i++) if (history[i]!.includes(query)) return i;
    return -1;
  }

  #drawSearch(): void {
    const s = this.#search!;
    const match = s.index >= 0 ? this.#internals.history[s.index]! : "";
    const label = s.index < 0 && s.query !== "" ? "failing reverse-i-search" : "reverse-i-search";
    process.stdout.write(`\r\x1b[K(${label})'${s.query}': ${match}`);
  }

  #startSearch(): void {
    this.#search = { query: "", index: -1 };
    this.#drawSearch();
  }

  /** Ends the search: the prompt comes back, with `text` on the line if given. */
  #endSearch(text: string | undefined): void {
    this.#search = null;
    process.stdout.write("\r\x1b[K");
    this.#rl.prompt(true);
    if (text === undefined) return;
    this.#rl.write(null, { ctrl: true, name: "e" });
    this.#rl.write(null, { ctrl: true, name: "u" });
    this.#rl.write(text);
  }

  #searchKey(s: string | undefined, key: Key, keyHandler: ReadlineInternals["_ttyWrite"]): void {
    const search = this.#search!;
    const match = search.index >= 0 ? this.#internals.history[search.index] : undefined;
    if (key.ctrl && key.name === "r") {
      const older = this.#find(search.query, search.index + 1);
      if (older >= 0) search.index = older;
    } else if (key.name === "backspace") {
      search.query = search.query.slice(0, -1);
      search.index = this.#find(search.query, 0);
    } else if ((key.ctrl && (key.name === "g" || key.name === "c"))) {
      this.#endSearch(undefined);
      return;
    } else if (key.name === "escape") {
      this.#endSearch(match);
      return;
    } else if (key.name === "return" || key.name === "enter") {
      this.#endSearch(match);
      keyHandler(s, key);
      return;
    } else if (s !== undefined && s.length === 1 && s >= " " && !key.ctrl && !key.meta) {
      search.query += s;
      search.index = this.#find(search.query, Math.max(0, search.index));
    } else {
      // Any other key (arrows, Ctrl-A, ...) keeps the match and edits it.
      this.#endSearch(match);
      keyHandler(s, key);
      return;
    }
    this.#drawSearch();
  }

  #onInterrupt(): void {
    // A task holding the keyboard (watch, a command in a lab host) stops on this key instead.
    if (this.#grabbed) return;
    const now = Date.now();
    const armed = now - this.#armedAt < INTERRUPT_WINDOW_MS;
    const hadText = this.#rl.line.length > 0;
    // What was typed is not run, but not lost either: Up brings it back.
    if (hadText) this.#remember(this.#rl.line);
    if (!hadText && armed) {
      this.#armedAt = 0;
      process.stdout.write("^C\n");
      this.#opts.onQuit("interrupt");
      return;
    }
    // Only a Ctrl-C that showed the hint arms the quit: one that cleared a typed line says nothing
    // about quitting, and a habitual second press must not stop a switch or take a lab down unwarned.
    this.#armedAt = hadText ? 0 : now;
    // Ctrl-U deletes back to the start of the line: the line is cleared, not run.
    this.#rl.write(null, { ctrl: true, name: "e" });
    this.#rl.write(null, { ctrl: true, name: "u" });
    this.#internals.historyIndex = -1;
    process.stdout.write(hadText ? "^C\n" : `^C (${this.#opts.interruptHint})\n`);
    this.#rl.prompt();
  }

  #remember(line: string): void {
    const history = this.#internals.history;
    // A line recalled from the history and left as it was is there already.
    if (line.trim() === "" || history.includes(line)) return;
    history.unshift(line);
    if (history.length > MAX_HISTORY) history.length = MAX_HISTORY;
    saveHistory(this.#opts.historyFile, history);
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
