/**
 * The listening end of TCP cables: many cables, each its own session (and
 * so its own switch port), resumable for a grace period.
 *
 * Theory of operation:
 * - Accepting: every connection starts a handshake bounded by
 *   `handshakeTimeoutMs`. At most `maxPending` handshakes run at once; when
 *   another connection arrives the oldest pending one is dropped, so a flood
 *   of silent or slow connections cannot lock good cables out for long. A
 *   refused handshake (wrong key, garbage, timeout) closes that connection
 *   and is logged through a rate limiter; nothing reaches the switch.
 * - Sessions: once a client is authenticated its session id is looked up.
 *   A known session gets the new connection (replacing a live one: the
 *   hand-off) and keeps its port; an unknown one becomes a new session that
 *   `onSession` puts on a port. When a session's connection ends the session
 *   stays on its port for `graceMs`, dropping frames, and ends if no
 *   connection comes back. At most `maxSessions` sessions exist.
 */
import { type CableLogger, closeLine, type ConnectionInfo, formatAddr, openLine } from "./cable_log.ts";
import { RateLimitedLog } from "../rate_limited_log.ts";
import { CableConnection } from "./connection.ts";
import { type Established, HandshakeError, NonceMemory, sendAccept, serverHandshake } from "./handshake.ts";
import type { CableKey } from "./key.ts";
import { CableSession } from "./session.ts";
import { hex, Status } from "../wire/cable_handshake.ts";
import { counted } from "../counted.ts";

/** Options of a cable listener. */
export interface CableListenerOptions {
  /** Address to listen on (default all IPv4 addresses). */
  hostname?: string;
  port: number;
  /** The pre-shared key; null for plain (--insecure) cables. */
  key: CableKey | null;
  /** How long a session waits for its client to come back (default 60 s). */
  graceMs?: number;
  /** Handshakes running at once (default 64). */
  maxPending?: number;
  /** Sessions at once (default 256). */
  maxSessions?: number;
  /** Bound of one handshake (default 5 s). */
  handshakeTimeoutMs?: number;
  /** Silence after which a connection is declared dead (default 20 s). */
  deadAfterMs?: number;
  /** Take echo records when offered (default true; false acts as a first-version listener). */
  echo?: boolean;
  /** Where log lines go. */
  log?: CableLogger;
  /**
   * Puts a new session on a switch port and returns the port number (0 when
   * unknown). Throwing refuses the cable.
   */
  onSession: (session: ListenerSession, remote: string) => number | Promise<number>;
}

/** Counters of a listener, for tests and the console. */
export interface ListenerCounters {
  /** Connections accepted by TCP. */
  connections: number;
  /** Handshakes that failed or were refused. */
  refused: number;
  /** Pending handshakes dropped to make room. */
  evicted: number;
  /** Connections that resumed an existing session. */
  resumed: number;
}

/** How a session that could not get a switch port is closed. */
const NO_PORT = "no switch port: ";

/**
 * What a listener's cable is called on its switch port (`ports`, `port/print`): its session, not the
 * address of its first connection, which a resumed cable (a restart, a new source port, another address)
 * no longer comes from. Where the switch holds the session itself (`vde switch --cable .../listen`), its
 * `farEnd` follows each connection's address; a port joined through a switch's socket (`vde cable listen`)
 * has its description sent once, and says the address it was opened from. The `cable open` log lines
 * pair the session with each connection's address.
 */
export function cableSessionName(idHex: string): string {
  return `cable session ${idHex.slice(0, 16)}`;
}

/** A session on the listener's side: it knows its port and waits out a grace period. */
export class ListenerSession extends CableSession {
  /** The switch port `onSession` gave it. */
  port = 0;
  /** Remote address of the latest connection. */
  remote = "";
  graceTimer: ReturnType<typeof setTimeout> | null = null;

  /**
   * Where the cable comes from now, after its name on its switch port: the live connection's address, the
   * last one's while the session waits for its client to come back, or the first one's while that is
   * being accepted (the port joins the switch before, and a debug console's `port/descr` says it then).
   */
  get farEnd(): string {
    if (this.connection !== null) return `from ${this.remote}`;
    return this.connections === 0
      ? `connecting from ${this.remote}`
      : `not connected (last from ${this.remote})`;
  }
}

/** Accepts cables on one TCP address. */
export class CableListener {
  readonly options: CableListenerOptions;
  readonly addr: Deno.NetAddr;
  readonly counters: ListenerCounters = { connections: 0, refused: 0, evicted: 0, resumed: 0 };
  readonly #listener: Deno.TcpListener;
  readonly #sessions = new Map<string, ListenerSession>();
  readonly #pending = new Set<Deno.TcpConn>();
  readonly #evicted = new WeakSet<Deno.TcpConn>();
  readonly #refusals: RateLimitedLog;
  /** Client hello nonces seen, so a replayed stream is logged as one. */
  readonly #nonces = new NonceMemory();
  #closed = false;
  readonly done: Promise<void>;

  private constructor(options: CableListenerOptions, listener: Deno.TcpListener) {
    this.options = options;
    this.#listener = listener;
    this.addr = listener.addr;
    this.#refusals = new RateLimitedLog((m) => this.#log(m));
    this.done = this.#acceptLoop();
  }

  /** Starts listening; throws when the address cannot be bound. */
  static start(options: CableListenerOptions): CableListener {
    const listener = Deno.listen({
      hostname: options.hostname ?? "0.0.0.0",
      port: options.port,
      transport: "tcp",
    });
    return new CableListener(options, listener);
  }

  /** Sessions alive now. */
  get sessions(): ListenerSession[] {
    return [...this.#sessions.values()];
  }

  /** Handshakes running now. */
  get pending(): number {
    return this.#pending.size;
  }

  #log(message: string): void {
    this.options.log?.(message);
  }

  /**
   * Stops accepting and ends every session and pending handshake. Settles once Deno has let go of the
   * port (the accept loop's end, `done`: the accept it waited in has settled), so a caller that binds the
   * same port next (a lab's cable node removed and added again, an apply's rename) awaits it instead of
   * meeting AddrInUse; one that does not re-bind may ignore it.
   */
  close(): Promise<void> {
    if (this.#closed) return this.done;
    this.#closed = true;
    this.#refusals.close();
    try {
      this.#listener.close();
    } catch { /* closed already */ }
    for (const c of this.#pending) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    this.#pending.clear();
    for (const s of [...this.#sessions.values()]) s.close("the listener is shutting down");
    return this.done;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closed || err instanceof Deno.errors.BadResource) return;
        // Out of fds, say: wait a little instead of spinning.
        this.#refusals.line(`accept failed: ${err instanceof Error ? err.message : err}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.counters.connections++;
      if (this.#pending.size >= (this.options.maxPending ?? 64)) {
        const oldest = this.#pending.values().next().value;
        if (oldest !== undefined) {
          this.#pending.delete(oldest);
          this.#evicted.add(oldest);
          this.counters.evicted++;
          if (this.counters.evicted === 1 || this.counters.evicted % 1000 === 0) {
            this.#refusals.line(
              `cable handshakes pending at the limit (${this.options.maxPending ?? 64}): ` +
                `dropping the oldest (${this.counters.evicted} so far)`,
            );
          }
          try {
            oldest.close();
          } catch { /* closed already */ }
        }
      }
      this.#pending.add(conn);
      this.#serve(conn).catch((err) =>
        this.#log(`cable handler failed: ${err instanceof Error ? err.message : err}`)
      );
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const remote = formatAddr(conn.remoteAddr);
    let est: Established;
    try {
      conn.setNoDelay(true);
      est = await serverHandshake(conn, {
        key: this.options.key,
        timeoutMs: this.options.handshakeTimeoutMs ?? 5_000,
        nonces: this.#nonces,
        echo: this.options.echo,
      });
    } catch (err) {
      this.#pending.delete(conn);
      this.counters.refused++;
      try {
        conn.close();
      } catch { /* closed by the deadline */ }
      // Evicted ones were counted (and logged in summary) when they were dropped.
      if (this.#evicted.has(conn)) return;
      const why = err instanceof HandshakeError ? err.message : String(err);
      this.#refusals.line(`cable refused ${new Date().toISOString()} remote ${remote}: ${why}`);
      return;
    }
    if (!this.#pending.delete(conn) || this.#closed) {
      // Evicted or shut down while the handshake finished.
      try {
        conn.close();
      } catch { /* closed already */ }
      return;
    }
    await this.#establish(conn, est, remote);
  }

  async #establish(conn: Deno.TcpConn, est: Established, remote: string): Promise<void> {
    const key = hex(est.sessionId);
    let session = this.#sessions.get(key);
    const resumed = session !== undefined;
    if (session === undefined) {
      if (this.#sessions.size >= (this.options.maxSessions ?? 256)) {
        await this.#refuse(
          conn,
          est,
          remote,
          Status.busy,
          `${counted(this.#sessions.size, "cable")} already`,
        );
        return;
      }
      session = new ListenerSession(cableSessionName(key), est.sessionId);
      this.#sessions.set(key, session);
      const s = session;
      s.remote = remote;
      s.onConnectionLost = () => this.#startGrace(s);
      s.closed.then((reason) => {
        if (this.#sessions.get(key) === s) this.#sessions.delete(key);
        if (s.graceTimer !== null) clearTimeout(s.graceTimer);
        // A session that never got a port ends with its refusal, which the refusal's own line says (once per
        // retry of the far end, rate-limited): a second line per retry would only double the noise.
        if (s.port === 0 && reason.startsWith(NO_PORT)) return;
        this.#log(
          `cable session ended ${new Date().toISOString()} session ${
            s.idHex.slice(0, 16)
          } port ${s.port}: ${reason}`,
        );
      });
      try {
        s.port = await this.options.onSession(s, remote);
      } catch (err) {
        this.#sessions.delete(key);
        s.close(`${NO_PORT}${err instanceof Error ? err.message : err}`);
        await this.#refuse(
          conn,
          est,
          remote,
          Status.refused,
          err instanceof Error ? err.message : String(err),
        );
        return;
      }
    } else {
      this.counters.resumed++;
      session.remote = remote;
      if (session.graceTimer !== null) {
        clearTimeout(session.graceTimer);
        session.graceTimer = null;
      }
    }
    if (session.isClosed) {
      await this.#refuse(conn, est, remote, Status.refused, "the session ended while it was being set up");
      return;
    }
    try {
      await sendAccept(conn, est, { status: Status.ok, resumed, port: session.port });
    } catch (err) {
      try {
        conn.close();
      } catch { /* closed already */ }
      this.#log(`cable ${remote}: ${err instanceof Error ? err.message : err}`);
      if (session.connection === null) this.#startGrace(session);
      return;
    }
    const link = new CableConnection(`cable ${remote}`, conn, est.channel, {
      leftover: est.leftover,
      deadAfterMs: this.options.deadAfterMs,
      echo: est.echo,
    });
    const info: ConnectionInfo = {
      remote,
      keyId: this.options.key?.idHex ?? "none",
      port: session.port,
      session: session.idHex,
    };
    const opened = Date.now();
    this.#log(
      openLine(
        info,
        `${resumed ? "resumed" : "new session"}, ${est.channel ? "encrypted" : "PLAIN (insecure)"}`,
      ),
    );
    link.closed.then((reason) => this.#log(closeLine(info, link, opened, reason)));
    session.use(link);
  }

  #startGrace(s: ListenerSession): void {
    if (s.isClosed || s.graceTimer !== null) return;
    const grace = this.options.graceMs ?? 60_000;
    s.graceTimer = setTimeout(() => {
      s.graceTimer = null;
      if (s.connection === null) s.close(`no reconnection within ${grace / 1000} s`);
    }, grace);
  }

  async #refuse(
    conn: Deno.TcpConn,
    est: Established,
    remote: string,
    status: number,
    why: string,
  ): Promise<void> {
    this.counters.refused++;
    // Closed, it refuses only what it was setting up then (a join of its switch told the stop), whose
    // session's end was said at the close: one line for that event, not two.
    if (!this.#closed) {
      this.#refusals.line(`cable refused ${new Date().toISOString()} remote ${remote}: ${why}`);
    }
    await sendAccept(conn, est, { status, resumed: false, port: 0 }).catch(() => {});
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}
