/**
 * A client for any management socket that speaks vde_switch's console
 * protocol: ours or a C vde_switch's (`vde term` is built on it).
 *
 * Theory of operation. On connect the switch sends a banner ending in its
 * prompt; the client takes the text after the last newline of that greeting
 * as the prompt. A command is one line; its reply is complete when the
 * received text ends with a newline plus the prompt and the line before that
 * blank line is a result line (`1NNN ...`), or when `9999 END OF SESSION`
 * arrives. `3TTT` debug lines outside a listing are events, whenever they
 * come. One command at a time: `command` queues callers.
 */
import { errorText, printableLines, type Reply } from "./reply_format.ts";
import { errno, libc } from "../../ffi/libc.ts";
import { closeFd, type FollowedPath, openFollowedPath } from "../io/unix_stream.ts";
import { judgesWays, notHeld, refuseUntrustedWay } from "../os/root_way.ts";
import { dirOf } from "../os/paths.ts";

/**
 * The socket `path` leads to, held by a bare handle (O_PATH: nothing opens), and whether it is this user's or
 * root's (what a server of theirs sends is trusted as ours); null when the name leads nowhere (the connect
 * then says why). Connected to through the handle (/proc/self/fd/N), the socket judged is the one connected
 * to: judged by its name, our own symlink to another user's socket was trusted, and a directory of theirs on
 * the way could be swapped between the look and the connect.
 */
function heldSocket(path: string): (FollowedPath & { trusted: boolean }) | null {
  const held = openFollowedPath(path);
  return held === null ? null : { ...held, trusted: held.uid === 0 || held.uid === libc().geteuid() };
}

/** Settings of `MgmtClient.connect`. */
export interface ClientOptions {
  /** How long to wait for the greeting and for each reply; default 10 s. */
  timeoutMs?: number;
  /** Largest reply accepted, bytes of text; default 64 MiB. */
  maxReplyBytes?: number;
  /**
   * Keep the control characters the server sends (a lab's `exec` output in colour); by default only
   * when the socket is this user's or root's. Another user's server (a socket of theirs that root's `vde
   * term` was pointed at) could otherwise write terminal escapes to our terminal: retitle it, clear it
   * and draw forged lines, or on some terminals set the clipboard.
   */
  keepControls?: boolean;
  /**
   * Judges the socket before it is connected to, on the file itself (its owner, its `/proc/self/fd/N`);
   * throws to refuse it. With it, a path that leads nowhere is not connected to by name (a socket made there
   * meanwhile would be unjudged): Deno.errors.NotFound.
   */
  judge?: (uid: number, procPath: string) => void;
}

/** A reply as received: the protocol's fields, plus the result line's text. */
export interface RemoteReply extends Reply {
  /** The result line as the switch wrote it ("1000 Success"). */
  result: string;
}

/** ETX, Ctrl-C's byte (mgmt_server.ts takes it as an interrupt). */
const ETX = 0x03;
const DATA_START = "0000 DATA END WITH '.'";
const END_OF_SESSION = "9999 END OF SESSION";
const RESULT_RE = /^1(\d{3}) /;
const EVENT_RE = /^3\d{3} /;
/** Longest line held while no command waits (an event's); past it, the line is dropped as it comes. */
const MAX_UNASKED_LINE = 64 * 1024;
/** How much of the buffer's end #mayComplete looks at: more than any result line. */
const RECENT = 64 * 1024;

interface Pending {
  resolve: (r: RemoteReply) => void;
  reject: (e: Error) => void;
}

/** A connection to a management socket. */
export class MgmtClient {
  /** The greeting's lines before the prompt (the banner). */
  readonly banner: string[];
  /** The prompt, e.g. "vde$ ". */
  readonly prompt: string;
  /** Receives asynchronous `3TTT` lines (without the newline). */
  onEvent: (line: string) => void = () => {};
  /** Lines other than events the server sent while no command waited: no reply to anything, dropped. */
  unaskedLines = 0;
  /** Resolves when the connection ends. */
  readonly closed: Promise<void>;
  readonly #conn: Deno.Conn;
  readonly #opts: Required<Omit<ClientOptions, "judge">>;
  readonly #decoder = new TextDecoder();
  #buf = "";
  #pending: Pending | null = null;
  /** Replies still to come to commands given up on (timed out): each is dropped as it comes, in order. */
  #stale = 0;
  /** How much of the buffer the last look for a whole reply had seen (see #takeReply). */
  #searched = 0;
  /** The buffer's last RECENT characters at most (see #mayComplete). */
  #recent = "";
  #chain: Promise<unknown> = Promise.resolve();
  /** Settles once the line last handed to `command` has been written (or failed to be). */
  #lastWrite: Promise<void> = Promise.resolve();
  #ended = false;
  /** The rest of an unasked line past MAX_UNASKED_LINE is being dropped up to its newline. */
  #skippingLine = false;

  private constructor(
    conn: Deno.Conn,
    banner: string[],
    prompt: string,
    opts: Required<Omit<ClientOptions, "judge">>,
  ) {
    this.#conn = conn;
    this.banner = banner;
    this.prompt = prompt;
    this.#opts = opts;
    this.closed = this.#readLoop();
  }

  /**
   * Connects and reads the greeting.
   *
   * @throws Error if nothing listens at `path`, or no prompt comes in time
   */
  static async connect(path: string, options: ClientOptions = {}): Promise<MgmtClient> {
    const held = heldSocket(path);
    const failed = held === null ? errno() : 0;
    // Root connects to what it judged, never by a name that led nowhere a moment ago (root_way.ts).
    if (held === null && judgesWays()) throw notHeld(path, failed);
    if (options.judge !== undefined && held === null) throw new Deno.errors.NotFound(`no socket at ${path}`);
    const opts = {
      timeoutMs: options.timeoutMs ?? 10_000,
      maxReplyBytes: options.maxReplyBytes ?? 64 << 20,
      keepControls: options.keepControls ?? held?.trusted === true,
    };
    let conn: Deno.UnixConn;
    try {
      if (held !== null) {
        // Root opens a console only through a way of root's, the socket owner's or its directory owner's
        // alone (a switch named on purpose, as vde_link's namedCtl joins one): one that another user may
        // steer leads root's commands (and its terminal) to a socket of theirs. Whoever owns the directory
        // could put a socket of their own there, which the socket owner's trust would take anyway.
        refuseUntrustedWay(path, held.fd, [0, held.uid, ...directoryOwner(path)], {
          what: "open a management socket",
          doing: "opening it",
          runAs: held.uid,
        });
        options.judge?.(held.uid, held.procPath);
      }
      conn = await Deno.connect({ transport: "unix", path: held === null ? path : held.procPath });
    } finally {
      if (held !== null) closeFd(held.fd);
    }
    const scrub = opts.keepControls ? (t: string) => t : printableLines;
    const decoder = new TextDecoder();
    let text = "";
    const buf = new Uint8Array(4096);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn.close();
    }, opts.timeoutMs);
    try {
      // vdeterm's rule: the greeting ends with a read that ends in "$ ".
      while (!text.endsWith("$ ")) {
        const n = await conn.read(buf);
        if (n === null) {
          // A console over its limit says why in a result line (mgmt_server.ts's turnAway) before closing.
          const said = text.trim();
          throw new Error(
            /^1\d{3} /.test(said)
              ? `${path} turned this session away: ${said.slice(5)}`
              : `${path} closed the connection before sending a prompt`,
          );
        }
        text += scrub(decoder.decode(buf.subarray(0, n), { stream: true }));
        if (text.length > 65536) throw new Error(`${path} sent no prompt in its first 64 KiB`);
      }
    } catch (err) {
      try {
        conn.close();
      } catch { /* closed by the timer */ }
      if (timedOut) throw new Error(`no prompt from ${path} within ${opts.timeoutMs} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    const nl = text.lastIndexOf("\n");
    const prompt = text.slice(nl + 1);
    const banner = text.slice(0, Math.max(0, nl)).split("\n");
    while (banner.length > 0 && banner.at(-1) === "") banner.pop();
    return new MgmtClient(conn, banner, prompt, opts);
  }

  /**
   * Runs one command line and resolves with its reply (an empty one, code
   * 0, for a blank line or a comment, which are not sent).
   *
   * `atLeastMs` lengthens the wait for a command known to take long (a lab's `exec`).
   *
   * @throws Error if the connection ends or no reply comes within the timeout
   */
  command(line: string, atLeastMs = 0): Promise<RemoteReply> {
    // The switch answers an empty line or a comment with a bare prompt: no reply to wait for.
    if (/^\s*(#.*)?$/.test(line)) return Promise.resolve({ code: 0, result: "" });
    const timeoutMs = Math.max(this.#opts.timeoutMs, atLeastMs);
    const written = Promise.withResolvers<void>();
    this.#lastWrite = written.promise;
    const run = this.#chain.then(() => this.#send(line.replace(/\n/g, " "), timeoutMs, written.resolve));
    this.#chain = run.catch(() => {});
    return run;
  }

  /**
   * Interrupts the command running now (Ctrl-C at the console): one ETX
   * byte, which our management socket takes out of the input and stops a
   * long command on (a lab host's `exec`); its reply still comes, as usual.
   * Only for our servers: another reads the byte as part of a line.
   */
  async interrupt(): Promise<void> {
    // After the line last handed to `command` is on the wire: an ETX ahead of its line stops nothing.
    await this.#lastWrite;
    if (this.#ended) return;
    await this.#conn.write(Uint8Array.of(ETX)).catch(() => {});
  }

  /** True once the connection has ended. */
  get isClosed(): boolean {
    return this.#ended;
  }

  /** Closes the connection. */
  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  async #send(line: string, timeoutMs: number, written: () => void): Promise<RemoteReply> {
    if (this.#ended) {
      written();
      throw new Error("the management connection is closed");
    }
    const { promise, resolve, reject } = Promise.withResolvers<RemoteReply>();
    this.#pending = { resolve, reject };
    const timer = setTimeout(() => {
      // Its reply may still come: it belongs to this command, not the next one.
      this.#stale++;
      this.#fail(new Error(`no reply to "${line}" within ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      const bytes = new TextEncoder().encode(`${line}\n`);
      let off = 0;
      while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      written();
      this.#parse();
      return await promise;
    } catch (err) {
      this.#pending = null;
      throw err;
    } finally {
      written();
      clearTimeout(timer);
    }
  }

  #fail(err: Error): void {
    const p = this.#pending;
    this.#pending = null;
    p?.reject(err);
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        const text = this.#decoder.decode(buf.subarray(0, n), { stream: true });
        const added = this.#opts.keepControls ? text : printableLines(text);
        this.#buf += added;
        if (this.#buf.length > this.#opts.maxReplyBytes) {
          this.#fail(new Error(`reply larger than ${this.#opts.maxReplyBytes} bytes`));
          break;
        }
        if ((this.#pending === null && this.#stale === 0) || this.#mayComplete(added)) this.#parse();
      }
    } catch { /* closed */ }
    this.#ended = true;
    this.#parse();
    this.#fail(new Error("the switch closed the management connection"));
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  // Takes events off the front while idle, drops the replies given up on, and completes the pending reply.
  #parse(): void {
    for (;;) {
      if (this.#pending === null && this.#stale === 0) {
        this.#takeUnasked();
        return;
      }
      const reply = this.#takeReply();
      if (reply === null) return;
      if (this.#stale > 0) this.#stale--;
      else this.#complete(reply);
    }
  }

  /**
   * While no command waits for its reply, the switch has nothing to answer: its events are handed on and any
   * other line is dropped (counted in `unaskedLines`), a line past MAX_UNASKED_LINE as it comes. Kept, text
   * a server sent unasked piled up until the next command, whose reply it then joined, and each read looked
   * at all of it again: a console that flooded an idle `vde term` cost it 87 s of CPU and 286 MB.
   */
  #takeUnasked(): void {
    const buf = this.#buf;
    let at = 0;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n", at)) {
      const line = buf.slice(at, nl);
      if (this.#skippingLine) this.#skippingLine = false;
      else if (EVENT_RE.test(line)) this.onEvent(line);
      else this.unaskedLines++;
      at = nl + 1;
    }
    let rest = buf.slice(at);
    if (this.#skippingLine) rest = "";
    else if (rest.length > MAX_UNASKED_LINE) {
      this.unaskedLines++;
      this.#skippingLine = true;
      rest = "";
    }
    this.#buf = rest;
    this.#searched = 0;
    this.#recent = rest.length > RECENT ? rest.slice(-RECENT) : rest;
  }

  /**
   * Whether `added`, just put at the buffer's end, may complete a reply: a look at the buffer's last
   * RECENT characters only. A look at all of it (#takeReply's) makes the engine copy the whole buffer,
   * pieced together read by read, into one string each time: a reply of 64 MiB that never ended took
   * 46 s and 622 MB to be refused. So #takeReply runs only once this says the end may be in sight: a
   * result line (shorter than RECENT) before the prompt, or END OF SESSION at a line's start.
   */
  #mayComplete(added: string): boolean {
    const win = this.#recent + added;
    // Where the window starts in the buffer: a line that begins before it is no result line.
    const winStart = this.#buf.length - win.length;
    this.#recent = win.length > RECENT ? win.slice(-RECENT) : win;
    for (let e = win.indexOf(END_OF_SESSION); e >= 0; e = win.indexOf(END_OF_SESSION, e + 1)) {
      // At the window's start what came before is not at hand: maybe a line's start, so maybe an end.
      if (e === 0 || win[e - 1] === "\n") return true;
    }
    const tail = `\n\n${this.prompt}`;
    for (let at = win.indexOf(tail); at >= 0; at = win.indexOf(tail, at + 1)) {
      const nl = win.lastIndexOf("\n", at - 1);
      if (nl < 0 && winStart > 0) continue;
      if (RESULT_RE.test(win.slice(nl + 1, at))) return true;
    }
    return false;
  }

  /** The first whole reply at the front of the buffer, taken off it; null while none is whole. */
  #takeReply(): RemoteReply | null {
    // Where the last look found nothing, less the longest pattern's length (the prompt is the switch's, of
    // any length): a reply of megabytes comes in many reads, and each would otherwise scan it all again.
    const tail = `\n\n${this.prompt}`;
    const from = Math.max(0, this.#searched - Math.max(tail.length, END_OF_SESSION.length + 1));
    this.#searched = this.#buf.length;
    const end = this.#buf.indexOf(END_OF_SESSION, from);
    if (end >= 0 && (end === 0 || this.#buf[end - 1] === "\n")) {
      const before = this.#buf.slice(0, end);
      this.#cut(this.#buf.length);
      return { ...splitReply(before, this.onEvent), code: 0, endSession: true, result: END_OF_SESSION };
    }
    // A reply ends with its result line, a blank line and the prompt; a late reply may have the next behind it.
    for (let at = this.#buf.indexOf(tail, from); at >= 0; at = this.#buf.indexOf(tail, at + 1)) {
      const body = this.#buf.slice(0, at);
      const lastNl = body.lastIndexOf("\n");
      const result = body.slice(lastNl + 1);
      const m = RESULT_RE.exec(result);
      if (m === null) continue;
      this.#cut(at + tail.length);
      return { ...splitReply(body.slice(0, lastNl + 1), this.onEvent), code: Number(m[1]), result };
    }
    return null;
  }

  /** Drops the buffer's first `n` characters: what is left is looked at from its start again. */
  #cut(n: number): void {
    this.#buf = this.#buf.slice(n);
    this.#searched = 0;
    this.#recent = this.#buf.length > RECENT ? this.#buf.slice(-RECENT) : this.#buf;
  }

  #complete(reply: RemoteReply): void {
    const p = this.#pending;
    this.#pending = null;
    p?.resolve(reply);
  }
}

// Separates events, a listing that ends the reply, and other text.
function splitReply(text: string, onEvent: (line: string) => void): { lines?: string[]; raw?: string } {
  const all = text.split("\n");
  if (all.at(-1) === "") all.pop();
  const kept: string[] = [];
  let inData = false;
  for (const line of all) {
    if (!inData && EVENT_RE.test(line)) {
      onEvent(line);
      continue;
    }
    if (line === DATA_START) inData = true;
    else if (line === ".") inData = false;
    kept.push(line);
  }
  // One listing at the end, perhaps after text (a lab command's failure in words before its empty listing).
  const start = kept.indexOf(DATA_START);
  if (start >= 0 && kept.at(-1) === "." && kept.indexOf(DATA_START, start + 1) < 0) {
    const lines = kept.slice(start + 1, -1);
    return start === 0 ? { lines } : { raw: kept.slice(0, start).map((l) => `${l}\n`).join(""), lines };
  }
  return kept.length === 0 ? {} : { raw: kept.map((l) => `${l}\n`).join("") };
}

/** A one-line description of a failed reply, e.g. "1022 Invalid argument". */
export function describeFailure(reply: RemoteReply): string {
  return reply.result !== ""
    ? reply.result
    : `1${String(reply.code).padStart(3, "0")} ${errorText(reply.code)}`;
}

/** The owner of the directory `path` is in, when it can be read (none else). */
function directoryOwner(path: string): number[] {
  try {
    const uid = Deno.statSync(path.includes("/") ? dirOf(path) : ".").uid;
    return uid === null ? [] : [uid];
  } catch {
    return [];
  }
}
