/**
 * The connecting end of a TCP cable: a session that keeps itself connected.
 *
 * Theory of operation: a loop connects (bounded by a timeout), runs the
 * handshake, hands the connection to the session and waits for it to end;
 * then it waits a back-off delay (from `retryMinMs`, doubling up to
 * `retryMaxMs`, with jitter) and starts again. The delay returns to its
 * minimum only after a connection that lasted, so a far side that accepts
 * and drops at once is not hammered. Every attempt sends the same session
 * id, so the listener puts the cable back on the same switch port; the id
 * is stable across restarts of this process (see `defaultSessionId`), which
 * is how a restarted `vde cable connect` resumes its port. Closing the
 * session stops the loop. So does a listener refusing for a wrong key, a
 * plain/sealed mismatch or a protocol version: no retry mends those, and
 * retrying forever would only hide them; `refusal` then says why.
 */
import { type CableLogger, closeLine, type ConnectionInfo, openLine } from "./cable_log.ts";
import { CableConnection } from "./connection.ts";
import { clientHandshake, HandshakeError } from "./handshake.ts";
import type { CableKey } from "./key.ts";
import { CableSession } from "./session.ts";
import { SESSION_ID_SIZE, Status } from "../wire/cable_handshake.ts";

/** Options of a connecting cable. */
export interface CableClientOptions {
  hostname: string;
  port: number;
  /** The pre-shared key; null for a plain (--insecure) cable. */
  key: CableKey | null;
  /** The session id; see defaultSessionId. */
  sessionId: Uint8Array;
  /** First back-off delay (default 250 ms). */
  retryMinMs?: number;
  /** Longest back-off delay (default 5 s). */
  retryMaxMs?: number;
  /** Give up (close the session) after the first failed or ended connection. */
  once?: boolean;
  /** Bound of a TCP connect (default 5 s). */
  connectTimeoutMs?: number;
  /** Bound of the handshake (default 5 s). */
  handshakeTimeoutMs?: number;
  /** Silence after which a connection is declared dead (default 20 s). */
  deadAfterMs?: number;
  /** Offer echo records to measure the round-trip time (default true; false acts as a first-version client). */
  echo?: boolean;
  /** Where log lines go. */
  log?: CableLogger;
  /** This side's switch port, for log lines, when known. */
  localPort?: () => number | undefined;
}

/** The listener's refusals that no retry mends: the two ends' keys, modes or versions differ. */
const FINAL_REFUSALS: ReadonlySet<number> = new Set([
  Status.wrongKey,
  Status.modeMismatch,
  Status.badVersion,
]);

/** Connection attempts shorter than this do not reset the back-off. */
const STABLE_MS = 5_000;

/**
 * A session id that stays the same for the same cable across restarts: a
 * hash of `parts` (host name, local switch, remote address, an optional name).
 */
export async function defaultSessionId(...parts: string[]): Promise<Uint8Array> {
  const text = new TextEncoder().encode(`vde cable session\0${parts.join("\0")}`);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", text)).slice(0, SESSION_ID_SIZE);
}

/** A connecting cable; its frames cross whichever connection is up. */
export class CableClient extends CableSession {
  readonly options: CableClientOptions;
  /** Resolves when the first connection is established (never rejects). */
  readonly firstConnection: Promise<void>;
  /** The listener's switch port for this cable, once known. */
  farPort = 0;
  /** Connection attempts that failed (refused, wrong key, no answer). */
  failures = 0;
  /** Why the listener refused the cable for good (wrong key, mode, version); null while it may retry. */
  refusal: string | null = null;
  /** It closed because it could not connect (refused for good, or `once` failed): set before `closed` resolves. */
  failed = false;
  #firstResolve!: () => void;
  #wakeSleep: (() => void) | null = null;
  #lastFailure = "";
  #lastFailureLogged = 0;

  constructor(options: CableClientOptions) {
    const target = hostPort(options.hostname, options.port);
    super(`cable to ${target}`, options.sessionId);
    this.options = options;
    this.firstConnection = new Promise((r) => (this.#firstResolve = r));
    this.#run().catch((err) => this.close(`cable loop failed: ${err instanceof Error ? err.message : err}`));
  }

  #closeFailed(reason: string): void {
    if (this.isClosed) return;
    this.failed = true;
    this.close(reason);
  }

  #log(message: string): void {
    this.options.log?.(message);
  }

  #info(remote: string): ConnectionInfo {
    const local = this.options.localPort?.();
    return {
      remote,
      keyId: this.options.key?.idHex ?? "none",
      port: `${local ?? "?"} (far ${this.farPort || "?"})`,
      session: this.idHex,
    };
  }

  async #run(): Promise<void> {
    const o = this.options;
    const min = o.retryMinMs ?? 250;
    const max = Math.max(min, o.retryMaxMs ?? 5_000);
    const target = hostPort(o.hostname, o.port);
    let delay = min;
    while (!this.isClosed) {
      const started = Date.now();
      let outcome: string;
      let failed = false;
      try {
        outcome = await this.#attempt(target);
      } catch (err) {
        this.failures++;
        failed = true;
        outcome = `cannot connect to ${target}: ${connectFailure(err)}`;
        if (err instanceof HandshakeError && FINAL_REFUSALS.has(err.status ?? Status.ok)) {
          this.refusal = outcome;
          this.#closeFailed(outcome);
          return;
        }
        // With `once` the close reason is the one report; the owner says it.
        if (!o.once) this.#logFailure(outcome, `; retrying in ${(delay / 1000).toFixed(1)} s`);
      }
      if (this.isClosed) return;
      if (o.once) {
        if (failed) this.#closeFailed(outcome);
        else this.close(outcome);
        return;
      }
      if (Date.now() - started >= STABLE_MS) delay = min;
      await this.#sleep(delay * (0.8 + 0.4 * Math.random()));
      delay = Math.min(max, delay * 2);
    }
  }

  #logFailure(message: string, suffix: string): void {
    // The same failure again and again is logged once a minute, not every attempt.
    const now = Date.now();
    if (message === this.#lastFailure && now - this.#lastFailureLogged < 60_000) return;
    this.#lastFailure = message;
    this.#lastFailureLogged = now;
    this.#log(message + suffix);
  }

  /** One connection: connect, handshake, carry frames until it ends. Resolves with why it ended. */
  async #attempt(target: string): Promise<string> {
    const o = this.options;
    const conn = await connectWithin(o.hostname, o.port, o.connectTimeoutMs ?? 5_000);
    if (this.isClosed) {
      conn.close();
      return "closed";
    }
    const remote = formatRemote(conn.remoteAddr, target);
    let est;
    try {
      conn.setNoDelay(true);
      est = await clientHandshake(conn, {
        key: o.key,
        sessionId: this.id,
        timeoutMs: o.handshakeTimeoutMs ?? 5_000,
        echo: o.echo,
      });
    } catch (err) {
      try {
        conn.close();
      } catch { /* closed by the deadline */ }
      throw err;
    }
    if (this.isClosed) {
      conn.close();
      return "closed";
    }
    this.farPort = est.port;
    this.#lastFailure = "";
    const link = new CableConnection(`cable ${remote}`, conn, est.channel, {
      leftover: est.leftover,
      deadAfterMs: o.deadAfterMs,
      echo: est.echo,
    });
    const opened = Date.now();
    const info = this.#info(remote);
    this.#log(
      openLine(
        info,
        `${est.resumed ? "resumed" : "new session"}, ${est.channel ? "encrypted" : "PLAIN (insecure)"}`,
      ),
    );
    this.use(link);
    this.#firstResolve();
    const reason = await link.closed;
    this.#log(closeLine(info, link, opened, reason));
    return reason;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    });
  }

  protected override teardown(): void {
    super.teardown();
    this.#wakeSleep?.();
  }
}

/** "host:port", with IPv6 addresses in brackets. */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

function formatRemote(addr: Deno.Addr, fallback: string): string {
  return addr.transport === "tcp" ? hostPort(addr.hostname, addr.port) : fallback;
}

async function connectWithin(hostname: string, port: number, ms: number): Promise<Deno.TcpConn> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    return await Deno.connect({ hostname, port, signal: ac.signal });
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`no answer within ${ms / 1000} s`);
    throw err instanceof Error ? new Error(err.message) : err;
  } finally {
    clearTimeout(timer);
  }
}

/** Why a connection could not be made, in words a user acts on. */
export function connectFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof Deno.errors.ConnectionRefused || /^Connection refused/.test(message)) {
    return "connection refused (is `vde cable listen` running there, on that port?)";
  }
  // getaddrinfo's words, as Deno passes them on.
  if (/failed to lookup address|Name or service not known|No address associated/i.test(message)) {
    return "no such host (its name does not resolve)";
  }
  return message;
}
