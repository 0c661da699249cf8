/**
 * The management socket (`vde switch --mgmt PATH`): a unix stream socket
 * speaking vde_switch's console protocol (spec 5.1), so unixterm, vdeterm,
 * unixcmd and `vde term` work against it.
 *
 * Theory of operation. Each client gets the greeting, then every line it
 * sends runs as one command, in order, and its reply is followed by the
 * prompt. Unlike vde_switch, several commands in one write all run (one per
 * line), and a command matches by whole word only.
 *
 * Hostile clients are contained per client, so they never slow forwarding
 * or other clients:
 * - at most `maxClients` sessions; more are told EBUSY, and why, and closed.
 *   Another user's clients (a console shared by `--mgmtmode 660`) are at most
 *   `maxPerUser` a user, and leave `OWNERS_RESERVE` sessions for the
 *   program's user and root: one student holding the console's every
 *   session shut the teacher out of their own switch. A uid of a user's
 *   /etc/subuid ranges is that user (os/subordinate_ids.ts);
 * - a line longer than `maxLineBytes` is dropped up to its newline and
 *   answered with `1007 Argument list too long` (memory: one line buffer);
 * - replies go through a per-client queue; while more than `highWaterBytes`
 *   are unsent, the session stops reading that client's commands, so a
 *   client that never reads only stalls itself, and the kernel's socket
 *   buffer pushes back on it;
 * - a listing made over time (`Reply.chunks`, a full `hash/print`) is
 *   framed at once and written chunk by chunk, each asked for only once
 *   the queue is below `highWaterBytes`, so a client that left (its write
 *   failed) stops the listing at its next chunk;
 * - asynchronous debug lines beyond `maxPendingBytes` unsent are dropped.
 *
 * A command that runs for long (a lab host's `exec`) asks for `stopSignal`:
 * it aborts when the client goes. On a server started with `interrupts`
 * (the lab's console, where such commands are) it aborts too when the
 * client sends ETX (0x03, the byte a terminal's Ctrl-C is), so `vde term
 * LAB` stops a command there and goes on: ETX is then taken out of
 * whatever the client sends, and interrupts the command running, or the
 * one whose line came in the same read before it (a Ctrl-C typed as soon
 * as the line went), never a later one. A switch's or a wirefilter's
 * console reads every byte as vde_switch does: a client talking to it
 * (unixterm, a script) may send 0x03 as part of a line and has it kept.
 */
import { descriptorAdvice } from "../os/fd_limit.ts";
import { LineSplitter, type SplitItem } from "./line_splitter.ts";
import type { CommandRegistry, Session } from "./registry.ts";
import {
  Errno,
  formatReply,
  formatReplyParts,
  GREETING,
  listingHead,
  listingTail,
  PROMPT,
  type Reply,
  resultLine,
} from "./reply_format.ts";
import { log as defaultLog } from "../log.ts";
import { OutputQueue, type Writer } from "./output_queue.ts";
import { UnixStreamListener } from "../io/unix_stream.ts";
import { C, libc, SysError } from "../../ffi/libc.ts";
import type { StreamConn } from "../io/stream_conn.ts";
import { isDirectory } from "../os/paths.ts";
import { giveSocketFile } from "../os/socket_file.ts";
import { SubordinateIds } from "../os/subordinate_ids.ts";
import { type HeldEntry, placeInfo, placePath, removeSocketFile, type SocketPlace } from "../os/held_dir.ts";

/**
 * A switch's management socket in its socket directory, unless --mgmt
 * moves it (`vde term DIR` looks here).
 */
export const DEFAULT_MGMT_NAME = "mgmt";

/** Settings of a management socket. */
export interface MgmtServerOptions {
  /** Socket path. */
  path: string;
  /**
   * Where the socket is made, replaced and removed, when not by `path`: in a switch's held directory (its
   * `socketAt`), which `path`'s directory may no longer name; a use once that is closed is refused.
   */
  at?: HeldEntry;
  /** Socket mode; default 0600 as vde_switch's --mgmtmode. */
  mode?: number;
  /** Group of the socket. */
  gid?: number;
  /** Most clients at once; default 256. */
  maxClients?: number;
  /** Most clients at once of one user other than the program's and root; default 16. */
  maxPerUser?: number;
  /** The subordinate uid file whose ranges count as their owners (default /etc/subuid; a test's). */
  subuid?: string;
  /** Longest command line in bytes; default 4096. */
  maxLineBytes?: number;
  /** Unsent bytes above which a client's commands wait; default 64 KiB. */
  highWaterBytes?: number;
  /** Unsent bytes above which debug lines are dropped; default 1 MiB. */
  maxPendingBytes?: number;
  /**
   * SO_SNDBUF of each client's socket (the kernel doubles it); default 16 KiB.
   * Small, so that a client reading a long listing in small pieces empties it
   * and sleeps often instead of holding a core (see src/io/stream_conn.ts).
   */
  sendBufferBytes?: number;
  /** Log sink; default the switch log. */
  log?: (message: string) => void;
  /**
   * Whether ETX (0x03) from a client interrupts the command it runs (see
   * above) rather than being a byte of its line; default false, as
   * vde_switch reads it.
   */
  interrupts?: boolean;
  /** What a client reads on connect; default vde_switch's banner and prompt. */
  greeting?: string;
  /** The prompt written after every reply; default `vde$ `. */
  prompt?: string;
}

/**
 * What the server needs of the program it serves: a way to forget a
 * session that ended (its debug subscriptions). A ConsoleContext is one.
 */
export interface SessionHost {
  readonly debug: { detach(session: Session): void };
}

type SessionOptions = Required<
  Pick<
    MgmtServerOptions,
    "maxLineBytes" | "highWaterBytes" | "maxPendingBytes" | "interrupts" | "greeting" | "prompt"
  >
>;

/** What a session needs of its connection (a Deno.Conn has it too). */
interface Conn extends Writer {
  read(buf: Uint8Array): Promise<number | null>;
  close(): void;
}

/**
 * How long a partial line waits for the rest before it runs as it is: long
 * enough for a line split across reads, short enough that vdeterm (which
 * sends no newline) feels instant.
 */
const PARTIAL_LINE_MS = 100;

/** Resolves with the read's result, or "pause" if it takes longer than PARTIAL_LINE_MS. */
async function raceWithPause(reading: Promise<number | null>): Promise<number | null | "pause"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      reading,
      new Promise<"pause">((r) => (timer = setTimeout(() => r("pause"), PARTIAL_LINE_MS))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
const encoder = new TextEncoder();
/** ETX, the byte a terminal's Ctrl-C is: a client's interrupt of the command its session runs. */
export const ETX = 0x03;
const NEWLINE = 0x0a;
/** How long `logout` waits for its last bytes to leave before closing. */
const LOGOUT_FLUSH_MS = 2000;

/** One connected management client. */
class MgmtSession implements Session {
  readonly kind = "mgmt" as const;
  readonly streamsListings = true;
  readonly debug = new Set<string>();
  loadDepth = 0;
  readonly commands: CommandRegistry;
  /** Debug lines dropped because the client did not read them. */
  droppedLines = 0;
  readonly #conn: Conn;
  readonly #out: OutputQueue;
  readonly #opts: SessionOptions;
  readonly #afterReply: string;
  #closed = false;
  readonly peerPid?: number;
  readonly peerUid?: number;
  readonly #buf = new Uint8Array(4096);
  /** The read in flight, one at a time: it survives a pause that flushes a partial line, and `stopSignal`'s. */
  #reading: Promise<number | null> | null = null;
  /** The running command's stop, while one that asked for it runs. */
  #stop: AbortController | undefined;
  /** An ETX came after a line not yet run (in one read with it): that line's command stops as it asks. */
  #interruptPending = false;

  constructor(
    conn: Conn,
    commands: CommandRegistry,
    opts: SessionOptions,
    peerPid?: number,
    peerUid?: number,
  ) {
    this.#conn = conn;
    this.peerPid = peerPid;
    this.peerUid = peerUid;
    this.commands = commands;
    this.#opts = opts;
    this.#afterReply = `\n${opts.prompt}`;
    this.#out = new OutputQueue(conn, () => this.close());
  }

  notify(line: string): void {
    if (this.#closed) return;
    if (this.#out.pending > this.#opts.maxPendingBytes) {
      this.droppedLines++;
      return;
    }
    this.#out.push(line);
  }

  render(reply: Reply): string {
    return formatReply(reply);
  }

  /** The read in flight, or a new one. */
  #read(): Promise<number | null> {
    // A failed read is an ended client; the catch also keeps a read still
    // pending when the session closes from being an unhandled rejection.
    this.#reading ??= this.#conn.read(this.#buf)
      .then((n) => n === null || !this.#opts.interrupts ? n : this.#takeInterrupts(n))
      .catch(() => null);
    return this.#reading;
  }

  /** Takes the ETX bytes out of the `n` just read, stopping the running command if there are any; what is left. */
  #takeInterrupts(n: number): number {
    const buf = this.#buf;
    const first = buf.subarray(0, n).indexOf(ETX);
    if (first < 0) return n;
    let kept = first;
    // A line ended before the last ETX: it is read but not yet run, and that ETX is meant for it.
    // Whether one did is carried along, so a read full of ETX costs one pass, not one per ETX.
    let lineSeen = buf.subarray(0, first).includes(NEWLINE);
    let afterLine = lineSeen;
    for (let i = first + 1; i < n; i++) {
      const b = buf[i]!;
      if (b === ETX) {
        afterLine = lineSeen;
        continue;
      }
      if (b === NEWLINE) lineSeen = true;
      buf[kept++] = b;
    }
    if (this.#stop !== undefined) this.#stop.abort();
    else if (afterLine) this.#interruptPending = true;
    return kept;
  }

  /**
   * Asked by a command while it runs: the next read starts now (at most one
   * buffer read ahead of the loop, which takes it as its next), so the
   * client's end, or its interrupt, is seen while the command still runs.
   * Only a command that asks pays for it; the others read as before.
   */
  stopSignal(): AbortSignal {
    if (this.#stop !== undefined) return this.#stop.signal;
    const stop = this.#stop = new AbortController();
    if (this.#closed || this.#interruptPending) stop.abort();
    else void this.#read().then((n) => n === null && stop.abort());
    return stop.signal;
  }

  /** Serves the client until it leaves, logs out, or the server closes. */
  async run(): Promise<void> {
    this.#out.push(this.#opts.greeting);
    const splitter = new LineSplitter(this.#opts.maxLineBytes);
    while (!this.#closed) {
      await this.#out.below(this.#opts.highWaterBytes);
      const reading = this.#read();
      const n = splitter.hasPartial ? await raceWithPause(reading) : await reading;
      let items: SplitItem[];
      if (n === "pause") {
        items = splitter.flush();
      } else {
        this.#reading = null;
        if (n === null) break;
        items = splitter.push(this.#buf.subarray(0, n));
      }
      for (const item of items) {
        await this.#out.below(this.#opts.highWaterBytes);
        if (this.#closed) break;
        if ("overlong" in item) {
          this.#out.push(formatReply({ code: Errno.E2BIG }) + this.#afterReply);
          continue;
        }
        const reply = await this.commands.execute(item.line, this);
        // An interrupt from here on is meant for a later command, if for any.
        this.#stop = undefined;
        this.#interruptPending = false;
        if (this.#closed) break;
        if (reply === null) {
          this.#out.push(this.#afterReply);
          continue;
        }
        if (reply.endSession) {
          this.#out.push(formatReply(reply));
          await Promise.race([this.#out.below(0), new Promise((r) => setTimeout(r, LOGOUT_FLUSH_MS))]);
          this.close();
          reply.afterSend?.();
          return;
        }
        if (reply.chunks !== undefined) {
          await this.#writeChunks(reply, reply.chunks);
          if (this.#closed) break;
          reply.afterSend?.();
          continue;
        }
        // The prompt rides in the reply's last part: one write for an ordinary reply, as before bodies.
        for (const part of formatReplyParts(reply, this.#afterReply)) {
          if (typeof part === "string") this.#out.push(part);
          else this.#out.pushBytes(part);
        }
        reply.afterSend?.();
      }
    }
    this.close();
  }

  /**
   * Writes a listing made over time: its header at once, each chunk as it
   * comes, no more than `highWaterBytes` ahead of the client; a client that
   * has gone (a write failed, which closes the session) is asked nothing more,
   * so the listing stops at its next chunk.
   */
  async #writeChunks(reply: Reply, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.#out.push(listingHead(reply));
    let code = reply.code;
    try {
      for await (const chunk of chunks) {
        this.#out.pushBytes(chunk);
        await this.#out.below(this.#opts.highWaterBytes);
        if (this.#closed) return;
      }
    } catch {
      // The header is out: the listing ends where it broke, and says so in its result.
      code = Errno.EIO;
    }
    if (!this.#closed) this.#out.push(listingTail(code, this.#afterReply));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop?.abort();
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/**
 * Why `path` could not be served, in the user's terms where the kernel's
 * are cryptic (`bind: No such file or directory` for `--mgmt /no/dir/m`).
 * ENOENT from a directory that is there (`/proc`, which takes no sockets)
 * is not said to be a missing directory.
 */
function inWords(path: string, err: unknown): unknown {
  if (!(err instanceof SysError)) return err;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  if (err.code === C.ENOENT && !isDirectory(dir)) return new Error(`the directory ${dir} does not exist`);
  if (err.code === C.EACCES) return new Error(`permission denied in ${dir}`);
  return err;
}

/** A listening management socket and its sessions. */
export class MgmtServer {
  /** The socket path. */
  readonly path: string;
  /** Where the socket file is (MgmtServerOptions.at, else `path`). */
  readonly #at: SocketPlace;
  /** The socket's mode. */
  readonly mode: number;
  readonly #listener: UnixStreamListener;
  readonly #registry: CommandRegistry;
  readonly #ctx: SessionHost;
  readonly #sessions = new Set<MgmtSession>();
  /** Sessions open per other user (a uid, or the owner of its subuid range): the ones `maxPerUser` bounds. */
  readonly #othersByUid = new Map<number, number>();
  #others = 0;
  readonly #self = Deno.uid();
  /** Whose each client uid is, for the caps: a subordinate uid is its range's owner. */
  readonly #accounts: SubordinateIds;
  readonly #opts: Required<Omit<MgmtServerOptions, "gid" | "mode" | "path" | "at" | "subuid">>;
  #closed = false;
  /** Clients turned away because `maxClients` were connected. */
  refusedBusy = 0;

  private constructor(
    registry: CommandRegistry,
    ctx: SessionHost,
    path: string,
    at: SocketPlace,
    mode: number,
    opts: Required<Omit<MgmtServerOptions, "gid" | "mode" | "path" | "at" | "subuid">>,
    gid: number | undefined,
    subuid: string | undefined,
  ) {
    this.#registry = registry;
    this.#ctx = ctx;
    this.path = path;
    this.#at = at;
    this.mode = mode;
    this.#opts = opts;
    this.#accounts = new SubordinateIds({ path: subuid, log: opts.log });
    // Binds the socket (throws SysError) and serves each client that connects. Its mode and group are
    // given before it listens: under umask 000 it is bound 0777, and another user could connect first.
    // Not by name: the directory may be one others write (socket_file.ts).
    this.#listener = new UnixStreamListener(
      placePath(at),
      (conn, peer) => this.#accept(conn, peer.pid, peer.uid),
      (err) => {
        if (this.#closed) return;
        const advice = descriptorAdvice(err, "this program", "1 a console session");
        this.#opts.log(`management socket: ${err.message}${advice === undefined ? "" : `: ${advice}`}`);
      },
      { sendBufferBytes: opts.sendBufferBytes },
      () => giveSocketFile(placePath(at), mode, gid),
    );
  }

  /**
   * Creates the socket and starts serving. A stale socket nobody answers on
   * is replaced; a live one, or a file that is not a socket, is an error.
   */
  static async start(
    registry: CommandRegistry,
    ctx: SessionHost,
    options: MgmtServerOptions,
  ): Promise<MgmtServer> {
    const mode = options.mode ?? 0o600;
    try {
      await reclaimStaleSocket(options.path, options.at);
    } catch (err) {
      throw inWords(options.path, err);
    }
    let server: MgmtServer;
    try {
      server = new MgmtServer(
        registry,
        ctx,
        options.path,
        options.at ?? options.path,
        mode,
        {
          maxClients: options.maxClients ?? 256,
          maxPerUser: options.maxPerUser ?? 16,
          maxLineBytes: options.maxLineBytes ?? 4096,
          highWaterBytes: options.highWaterBytes ?? 64 * 1024,
          maxPendingBytes: options.maxPendingBytes ?? 1 << 20,
          sendBufferBytes: options.sendBufferBytes ?? 16 * 1024,
          log: options.log ?? ((m) => defaultLog("vde switch", m)),
          greeting: options.greeting ?? GREETING,
          prompt: options.prompt ?? PROMPT,
          interrupts: options.interrupts ?? false,
        },
        options.gid,
        options.subuid,
      );
    } catch (err) {
      throw inWords(options.path, err);
    }
    return server;
  }

  /** Number of connected clients. */
  get clientCount(): number {
    return this.#sessions.size;
  }

  #accept(conn: StreamConn, peerPid: number, peerUid: number): void {
    if (this.#closed) return conn.close();
    // Another user's session counts as its uid's user (a subordinate uid is its range's owner; one of root's or
    // ours is another user still, counted apart from them). The session keeps its own uid.
    const other = peerUid !== 0 && peerUid !== this.#self;
    const user = other ? this.#accounts.accountOf(peerUid) : peerUid;
    const full = this.#busy(user, other);
    if (full !== undefined) {
      this.refusedBusy++;
      turnAway(conn, full);
      return;
    }
    const session = new MgmtSession(conn, this.#registry, this.#opts, peerPid, peerUid);
    this.#sessions.add(session);
    if (other) {
      this.#others++;
      this.#othersByUid.set(user, (this.#othersByUid.get(user) ?? 0) + 1);
    }
    session.run().catch(() => session.close()).finally(() => {
      this.#sessions.delete(session);
      if (other) {
        this.#others--;
        const left = this.#othersByUid.get(user)! - 1;
        if (left === 0) this.#othersByUid.delete(user);
        else this.#othersByUid.set(user, left);
      }
      this.#ctx.debug.detach(session);
    });
  }

  /** Why a client of `uid` is turned away now, in words; undefined when it is let in. */
  #busy(uid: number, other: boolean): string | undefined {
    const { maxClients, maxPerUser } = this.#opts;
    if (this.#sessions.size >= maxClients) return `the console has its most sessions open (${maxClients})`;
    if (!other) return undefined;
    // Said to that very user, so not by name: a uid without one (a subordinate id of theirs, a container's)
    // has NSS asked again each time, a getent run on this thread for every connection turned away.
    if ((this.#othersByUid.get(uid) ?? 0) >= maxPerUser) {
      return `you have ${maxPerUser} sessions open here, the most one user may: close one`;
    }
    // The last few are the program's user's and root's, so others cannot shut them out.
    if (this.#others >= maxClients - OWNERS_RESERVE) {
      return `the console has its most sessions of other users open (${maxClients - OWNERS_RESERVE})`;
    }
    return undefined;
  }

  /** Stops listening, ends every session and removes the socket file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const s of [...this.#sessions]) s.close();
    removeSocketFile(this.#at, this.#opts.log);
  }
}

/** Sessions only the program's user and root may take (of `maxClients`). */
export const OWNERS_RESERVE = 8;

/** Turned-away clients kept half-closed at once (turnAway); a flood beyond it is closed straight away. */
const MAX_LINGERING = 32;
let lingering = 0;

/**
 * Tells a client over the limit why (EBUSY's line, then the reason), without waiting on it for long (1 s).
 * Half-closed first, and closed once the client closes: Debian's unixterm quits on a hang-up without
 * reading what came with it, so a close right after the line showed its user nothing. A flood of
 * connections past MAX_LINGERING is closed at once, so the fds held stay few.
 */
function turnAway(conn: StreamConn, why: string): void {
  const close = () => {
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const timer = setTimeout(close, 1000);
  const linger = lingering < MAX_LINGERING;
  if (linger) lingering++;
  (async () => {
    await conn.write(encoder.encode(`${resultLine(Errno.EBUSY)}: ${why}\n`));
    if (!linger || libc().shutdown(conn.fd, C.SHUT_WR) !== 0) return;
    const typed = new Uint8Array(256);
    while (await conn.read(typed) !== null) { /* what the client sent meanwhile, unread */ }
  })().catch(() => {}).finally(() => {
    clearTimeout(timer);
    if (linger) lingering--;
    close();
  });
}

async function reclaimStaleSocket(path: string, at: SocketPlace = path): Promise<void> {
  const info = placeInfo(at);
  if (info === undefined) return;
  if (!info.isSocket) throw new Error(`${path} exists and is not a socket`);
  try {
    const c = await Deno.connect({ transport: "unix", path: placePath(at) });
    c.close();
  } catch {
    // Asked again after the wait: the hold may have been closed meanwhile.
    Deno.removeSync(placePath(at));
    return;
  }
  throw new Error(`another program already serves the management socket ${path}`);
}
