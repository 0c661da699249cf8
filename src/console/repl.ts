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
 * so its key handler is wrapped. Asynchronous text (debug events) is
 * printed above the prompt without losing what the user was typing.
 *
 * From the moment Enter sends a line until its command ends, the keyboard
 * is that command's, as a terminal's is a foreground job's: every key goes
 * through one wrapped handler, so none can slip to the prompt while the
 * command is still on its way to `grabKeyboard` (an exec first waits for
 * the lab to settle). Ctrl-C, Ctrl-Z and Ctrl-D in that window are the
 * command's: one that holds the keyboard (`grabKeyboard`) stops on them,
 * also on one typed before it held it; one that never holds it lets them
 * go; none of them clears, suspends or quits the prompt. Ctrl-C and Ctrl-Z
 * also drop what was typed ahead, as a terminal flushes its input on
 * those signals. Other keys are typed ahead, kept in order and given to
 * the next prompt, Enter included (as bash does), unless a command holds
 * the keyboard: then any key stops it and is used up.
 *
 * Deno erases the terminal's current line while it loads a Worker (see
 * dataplane/worker_loaded.ts), which a switch, a link or a slirp starts at
 * no set time: a prompt wiped that way is drawn again, with what was being
 * typed, once the worker has loaded.
 */
import readline from "node:readline";
import process from "node:process";
import type { Readable, Writable } from "node:stream";
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
  /** The terminal's keys and screen: the process's own when undefined (a test's fake otherwise). */
  terminal?: { input: Readable; output: Writable };
}

/**
 * Once the terminal is gone (its window closed, an ssh session dropped),
 * every write to it fails: node's stdout reports that as an 'error' event,
 * which unheard ends the process with an uncaught EPIPE, in the middle of
 * the shutdown that the hang-up or the end of input has just started (a
 * lab half taken down). Nothing can be shown any more, so it is ignored.
 */
function ignoreOutputErrors(out: Writable): void {
  if (out.listenerCount("error") === 0) out.on("error", () => {});
}

/** Keys kept typed ahead; more are dropped, as a terminal's input queue (4 KiB in Linux) drops them. */
const MAX_TYPE_AHEAD = 4096;

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
  /** From Enter until the line's command has ended and its text is printed. */
  #busy = false;
  #armedAt = 0;
  #closed = false;
  /** Set while a task holds the keyboard (`watch`, an exec): a key resolves it. */
  #grab: (() => void) | undefined;
  /** A Ctrl-C, Ctrl-Z or Ctrl-D came for the running line's command before it held the keyboard. */
  #stopTyped = false;
  /** Keys typed while a line runs, for the next prompt. */
  readonly #typeAhead: [string | undefined, Key | undefined][] = [];
  /** The key handler with history search, as readline calls it. */
  readonly #onKey: ReadlineInternals["_ttyWrite"];
  readonly #out: Writable;
  #search: Search | null = null;
  readonly #unwatchWorkers: () => void;
  /** Set once `start` has shown the first prompt. */
  #started = false;

  constructor(opts: ReplOptions) {
    this.#opts = opts;
    this.#out = opts.terminal?.output ?? process.stdout;
    ignoreOutputErrors(this.#out);
    this.#rl = readline.createInterface({
      input: opts.terminal?.input ?? process.stdin,
      output: this.#out,
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
    this.#onKey = (s, key) => {
      if (this.#search !== null) this.#searchKey(s, key ?? {}, keyHandler);
      else if (key?.ctrl && key.name === "r") this.#startSearch();
      else keyHandler(s, key);
    };
    internals._ttyWrite = (s, key) => {
      if (this.#grab !== undefined) this.#grab();
      else if (this.#busy) this.#keyWhileBusy(s, key);
      else this.#onKey(s, key);
    };
    this.#rl.on("line", (line: string) => this.#onLine(line));
    this.#rl.on("SIGINT", () => this.#onInterrupt());
    const onSuspend = opts.onSuspend;
    if (onSuspend !== undefined) this.#rl.on("SIGTSTP", () => onSuspend());
    this.#rl.on("close", () => {
      this.#unwatchWorkers();
      if (this.#closed) return;
      this.#closed = true;
      this.#out.write("\n");
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
    if (this.#closed || this.#busy || this.#grab !== undefined) {
      this.#out.write(text);
      return;
    }
    readline.clearLine(this.#out, 0);
    readline.cursorTo(this.#out, 0);
    this.#out.write(text);
    this.#rl.prompt(true);
  }

  /**
   * Runs `task` with the keyboard: `keyPressed` resolves at the first key
   * pressed while it runs, at once when a Ctrl-C, Ctrl-Z or Ctrl-D came for
   * this line before; the keys it gets are used up.
   */
  async grabKeyboard(task: (keyPressed: Promise<void>) => Promise<void>): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#grab = resolve;
    if (this.#stopTyped) resolve();
    this.#stopTyped = false;
    try {
      await task(promise);
    } finally {
      this.#grab = undefined;
    }
  }

  /** Restores the terminal and stops reading. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatchWorkers();
    // The prompt drawn last goes, so the program's last lines and the shell's prompt do not follow it.
    if (!this.#busy && this.#grab === undefined) {
      readline.clearLine(this.#out, 0);
      readline.cursorTo(this.#out, 0);
    }
    this.#rl.close();
  }

  /**
   * Draws the prompt line (or the history search) again in place, after
   * something else may have erased it. While a command runs there is no
   * prompt to draw: it comes after the command's output.
   */
  #redraw(): void {
    if (!this.#started || this.#closed || this.#busy || this.#grab !== undefined) return;
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
    this.#out.write(`\r\x1b[K(${label})'${s.query}': ${match}`);
  }

  #startSearch(): void {
    this.#search = { query: "", index: -1 };
    this.#drawSearch();
  }

  /** Ends the search: the prompt comes back, with `text` on the line if given. */
  #endSearch(text: string | undefined): void {
    this.#search = null;
    this.#out.write("\r\x1b[K");
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
    const now = Date.now();
    const armed = now - this.#armedAt < INTERRUPT_WINDOW_MS;
    const hadText = this.#rl.line.length > 0;
    // What was typed is not run, but not lost either: Up brings it back.
    if (hadText) this.#remember(this.#rl.line);
    if (!hadText && armed) {
      this.#armedAt = 0;
      this.#out.write("^C\n");
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
    this.#out.write(hadText ? "^C\n" : `^C (${this.#opts.interruptHint})\n`);
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

  /**
   * A key between Enter and the end of that line's command, before the
   * command holds the keyboard (or when it never does).
   */
  #keyWhileBusy(s: string | undefined, key: Key | undefined): void {
    const name = key?.ctrl ? key.name : undefined;
    if (name === "c" || name === "z" || name === "d") {
      this.#stopTyped = true;
      if (name !== "d") this.#typeAhead.length = 0;
      return;
    }
    if (this.#typeAhead.length < MAX_TYPE_AHEAD) this.#typeAhead.push([s, key]);
  }

  #onLine(line: string): void {
    this.#armedAt = 0;
    this.#busy = true;
    void this.#runLine(line);
  }

  async #runLine(line: string): Promise<void> {
    let text: string;
    try {
      text = await this.#opts.run(line);
    } catch (err) {
      text = `error: ${err instanceof Error ? err.message : String(err)}\n`;
    } finally {
      this.#busy = false;
      this.#stopTyped = false;
    }
    if (this.#closed) return;
    this.#out.write(text);
    this.#rl.prompt();
    // Until a line typed ahead is sent: the keys after it are its command's.
    while (this.#typeAhead.length > 0 && !this.#busy && !this.#closed) {
      const [s, key] = this.#typeAhead.shift()!;
      this.#onKey(s, key);
    }
  }
}
