/**
 * Deno.serve behind an accept loop of our own, so every HTTP server vde
 * runs keeps its connections bounded (conn_guard.ts has the rules).
 *
 * Deno.serve has no cap on connections and no deadline on a request's
 * head, and offers no hook to add them. So the server listens on a unix
 * socket in a private directory (0700, root's when root runs it: nobody
 * else can reach it around the guard; server_dir.ts), and our own TCP listener admits
 * each connection, relays its bytes both ways, and watches them: one sweep
 * a second closes the overdue and the idle. The relay runs on the main
 * thread with the HTTP handling; a switch's data path has its own thread.
 */
import { log } from "../log.ts";
import {
  Admission,
  type Admitted,
  type ConnLimits,
  DEFAULT_LIMITS,
  endpointKey,
  NEED_OWNERS,
  RequestClock,
} from "./conn_guard.ts";
import { OwnerReads } from "./socket_owners.ts";
import { SubordinateIds } from "../os/subordinate_ids.ts";
import { makeServerDir, SOCKET_NAME, sweepDeadServerDirs } from "./server_dir.ts";
import { browserHeaderLines, guardBrowser, withBrowserHeaders } from "./browser_guard.ts";

/** How often open connections are checked against their deadlines. */
const SWEEP_MS = 1_000;

/** A TCP listener relaying, within bounds, to a unix socket. */
export interface GuardedRelay {
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly open: number;
  /** Connections refused since the start. */
  readonly refused: number;
  close(): void;
}

/**
 * Listens on `address` and relays each admitted connection to unix socket
 * `path`. Either end's close is both's.
 *
 * @throws Deno's error when it cannot listen
 */
export function relayGuarded(
  component: string,
  address: { hostname: string; port: number },
  path: string,
  limits: ConnLimits = DEFAULT_LIMITS,
): GuardedRelay {
  const listener = Deno.listen({ hostname: address.hostname, port: address.port });
  const accounts = new SubordinateIds({ log: (line) => log(component, line) });
  const admission = new Admission(limits, Deno.uid() ?? 0, (uid) => accounts.accountOf(uid));
  const open = new Map<() => void, RequestClock>();
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [end, clock] of open) if (clock.expired(now, limits) !== undefined) end();
  }, Math.min(SWEEP_MS, limits.headerMs));
  Deno.unrefTimer(sweep);

  // Loopback connections past their share wait for one read of the socket owners (conn_guard.ts's Admission).
  const owners = new OwnerReads();
  const deciding = new Set<Deno.TcpConn>();
  const take = (conn: Deno.TcpConn) => {
    const { hostname, port } = conn.remoteAddr;
    const server = endpointKey(conn.localAddr.hostname, conn.localAddr.port);
    const decided = admission.admit(hostname, port, undefined, server);
    if (decided !== NEED_OWNERS) return relay(conn, decided);
    if (owners.asking >= limits.maxConnections) return relay(conn, admission.refuse());
    deciding.add(conn);
    owners.ask((table) => {
      deciding.delete(conn);
      const admitted = admission.admit(hostname, port, table, server);
      relay(conn, admitted === NEED_OWNERS ? admission.refuse() : admitted);
    });
  };

  const relay = async (conn: Deno.TcpConn, admitted: Admitted | undefined) => {
    if (admitted === undefined) {
      closeQuietly(conn);
      const line = admission.refusalLine(Date.now());
      if (line !== undefined) log(component, line);
      return;
    }
    const clock = new RequestClock(Date.now());
    let inner: Deno.UnixConn | undefined;
    const end = () => {
      closeQuietly(conn);
      if (inner !== undefined) closeQuietly(inner);
    };
    open.set(end, clock);
    try {
      inner = await Deno.connect({ transport: "unix", path });
      const server = inner;
      // The client's end (EOF) is passed on as a half-close, and the server's answer to it still
      // relayed; when the server stops taking bytes (it refused an oversized head), its answer is
      // relayed too: the server's side ending is what ends the connection. A client that fails ends it.
      // A malformed request is not passed on (the whole ones before it are); once the server has
      // answered those (clock.refusalDue), nothing more of the server's is relayed, and the client is
      // told why after the last answer, by this one writer of the client's side (a 400 written beside
      // the relay went out first or among an answer's bytes). The deadline ends the rest.
      let problem: string | undefined;
      let refusing = false;
      const refuseIfDue = () => {
        if (refusing || !clock.refusalDue) return;
        refusing = true;
        closeQuietly(server); // the relay below stops at its next read
      };
      pump(conn, server, (bytes) => {
        problem = clock.fromClient(bytes, Date.now());
        return clock.wholeBytes;
      }).then(
        (how) =>
          how === "read failed"
            ? end()
            : how === "ended"
            ? server.closeWrite().catch(() => {})
            : how === "refused"
            ? refuseIfDue()
            : undefined,
      );
      await pump(server, conn, (bytes) => {
        if (refusing) return 0;
        clock.fromServer(bytes, Date.now());
        refuseIfDue();
        return bytes.length;
      });
      if (refusing) await badRequest(conn, problem ?? "");
    } catch {
      /* the server is not serving (any more), or either end went: the client sees the connection end */
    } finally {
      open.delete(end);
      admission.release(admitted);
      end();
    }
  };
  acceptLoop(
    listener,
    take,
    (err) => log(component, `cannot accept a connection (${err.message}): retrying`),
  );
  return {
    addr: listener.addr,
    get open() {
      return admission.open;
    },
    get refused() {
      return admission.refused;
    },
    close: () => {
      clearInterval(sweep);
      closeQuietly(listener);
      owners.close();
      for (const conn of deciding) closeQuietly(conn);
      for (const end of open.keys()) end();
    },
  };
}

/** How long to wait before accepting again after accept failed. */
const ACCEPT_RETRY_MS = 100;

/**
 * Hands each connection `listener` accepts to `take` until the listener is
 * closed. A failed accept (EMFILE when the process's descriptors run out,
 * ECONNABORTED) is said once and retried after ACCEPT_RETRY_MS: ending the
 * loop there (a `for await`, which throws) left the server listening and
 * answering nobody for the rest of its life after one brief shortage.
 */
export async function acceptLoop<C>(
  listener: { accept(): Promise<C> },
  take: (conn: C) => void,
  failed: (err: Error) => void,
  retryMs = ACCEPT_RETRY_MS,
): Promise<void> {
  let said = false;
  for (;;) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (err) {
      // Closed: the loop's work is done.
      if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) return;
      if (!said) failed(err instanceof Error ? err : new Error(String(err)));
      said = true;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      continue;
    }
    said = false;
    take(conn);
  }
}

/** Answers 400 saying `why`, to a client whose bytes cannot be framed as requests, with every answer's headers. */
async function badRequest(conn: Deno.Conn, why: string): Promise<void> {
  const body = `bad request: ${why}\n`;
  const answer = "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n" +
    `content-length: ${body.length}\r\nconnection: close\r\n${browserHeaderLines()}\r\n${body}`;
  const bytes = new TextEncoder().encode(answer);
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  } catch { /* the client went */ }
}

/**
 * Copies `from` to `to` until `from` ends or either fails or `seen`, told of
 * each chunk before it is passed on, refuses the rest (it says how many of
 * the chunk's bytes to pass on: fewer than all, and the copy stops after
 * them). Says how it stopped (never throws).
 */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  seen: (bytes: Uint8Array) => number,
): Promise<"ended" | "read failed" | "write failed" | "refused"> {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await from.read(buf);
    } catch {
      return "read failed";
    }
    if (n === null) return "ended";
    const bytes = buf.subarray(0, n);
    const pass = seen(bytes);
    try {
      let off = 0;
      while (off < pass) off += await to.write(bytes.subarray(off, pass));
    } catch {
      return "write failed";
    }
    if (pass < n) return "refused";
  }
}

/** A running guarded HTTP server. */
export interface GuardedServer {
  /** Where it listens (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  readonly open: number;
  readonly refused: number;
  shutdown(): Promise<void>;
}

/**
 * Deno.serve's `handler` on `address`, within `limits`, logged as `component`,
 * behind the browser's checks and headers (browser_guard.ts).
 *
 * @throws Deno's error when it cannot listen
 */
export function serveGuarded(
  component: string,
  address: { hostname: string; port: number },
  handler: (req: Request) => Response | Promise<Response>,
  limits: ConnLimits = DEFAULT_LIMITS,
): GuardedServer {
  const dir = makeServerDir();
  const path = `${dir}/${SOCKET_NAME}`;
  // What killed servers left beside it goes, while this one starts.
  const swept = sweepDeadServerDirs(dir.slice(0, dir.lastIndexOf("/")) || "/", dir);
  let server: Deno.HttpServer<Deno.UnixAddr> | undefined;
  let relay: GuardedRelay;
  // The real port, once listening, for the hint of a refused Host.
  const bound = { hostname: address.hostname, port: address.port };
  try {
    server = Deno.serve({
      path,
      onListen: () => {},
      onError: () => withBrowserHeaders(new Response("internal error\n", { status: 500 })),
    }, guardBrowser(bound, handler, component));
    relay = relayGuarded(component, address, path, limits);
    bound.port = relay.addr.port;
  } catch (err) {
    server?.shutdown().catch(() => {});
    removeQuietly(dir);
    swept.catch(() => {});
    throw err;
  }
  return {
    addr: relay.addr,
    get open() {
      return relay.open;
    },
    get refused() {
      return relay.refused;
    },
    shutdown: async () => {
      relay.close();
      await server.shutdown();
      removeQuietly(dir);
      await swept;
    },
  };
}

/** Closes `c`, whose close throws when it is closed already. */
export function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* closed */ }
}

function removeQuietly(dir: string): void {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* gone */ }
}
