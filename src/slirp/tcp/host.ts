/**
 * The TCP engine's view of the host's sockets: connect out, listen for
 * forwards, read and write streams. The default implementation is Deno's
 * own TCP API; tests may pass another (in-memory, fault-injecting) one.
 */

/** A connected host stream, as `Deno.TcpConn` offers it. */
export interface HostConn {
  /** Reads into `p`; resolves to the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to the byte count written. */
  write(p: Uint8Array): Promise<number>;
  /** Half-closes: the peer reads end of stream after what was written. */
  closeWrite(): Promise<void>;
  /** Closes both directions; pending reads and writes reject. */
  close(): void;
  /*
   * Optional synchronous forms, for sockets that can answer at once (the
   * libc ones): the engine goes on in the same round instead of a promise
   * reaction later. Each declines with -1 or false when it would block or
   * failed; the promise-based call then waits or reports the error.
   */
  /** Reads into `p` now: the byte count, null at end of stream, -1 when declined. */
  tryRead?(p: Uint8Array): number | null;
  /**
   * Writes some of `p` now: the byte count, -1 when declined. `last`: the
   * half-close follows at once, so the bytes may wait for it and leave
   * with the FIN in one segment (MSG_MORE).
   */
  tryWrite?(p: Uint8Array, last?: boolean): number;
  /** Half-closes now; false when declined. */
  tryCloseWrite?(): boolean;
  /*
   * Optional callback forms of `read` and `write`, for sockets whose news
   * comes from the caller's own poller (the libc ones): `done` or `failed`
   * is called once, from the round that brings the news (or at once for a
   * socket already failed or closed), with no promise or microtask between.
   */
  /** `read` with callbacks. */
  readThen?(p: Uint8Array, done: (n: number | null) => void, failed: (err: Error) => void): void;
  /** `write` with callbacks. */
  writeThen?(p: Uint8Array, done: (n: number) => void, failed: (err: Error) => void): void;
}

/** The far end of an accepted connection. */
export interface HostPeer {
  hostname: string;
  port: number;
  /** The address as 4 or 16 bytes, when the socket layer has it already (saves parsing `hostname`). */
  addr?: Uint8Array;
}

/** A listening host socket. */
export interface HostListener {
  /** Waits for the next connection; rejects once closed. */
  accept(): Promise<{ conn: HostConn; remote: HostPeer }>;
  /**
   * Stops listening. A promise, where one is returned, settles once the port
   * is free to bind again: Deno's listener lets it go only when the accept
   * it was waiting in has settled, a turn of the event loop later.
   */
  close(): void | Promise<void>;
  /** The port actually bound (useful when 0 was asked). */
  readonly port: number;
  /**
   * Optional, instead of `accept`: hands every client to `take` from the
   * poller's round that finds it, with no promise between (the libc
   * listener). `addr` (4 or 16 bytes) is borrowed for the call; `failed`
   * hears an accept that failed.
   */
  watch?(take: (conn: HostConn, addr: Uint8Array, port: number) => void, failed: (err: Error) => void): void;
}

/** How the engine reaches the host's network. */
export interface HostNet {
  /** Connects to `hostname:port` (an address literal); aborting `signal` cancels the attempt. */
  connect(hostname: string, port: number, signal: AbortSignal): Promise<HostConn>;
  /** Listens on `hostname:port`; throws `Deno.errors.AddrInUse` (or similar) synchronously on failure. */
  listen(hostname: string, port: number): HostListener;
}

/** Deno's TCP sockets: TCP_NODELAY on (we forward segments as they come), keep-alive on. */
export const denoHostNet: HostNet = {
  async connect(hostname, port, signal) {
    const conn = await Deno.connect({ hostname, port, signal, autoSelectFamily: false });
    try {
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
    } catch {
      // Options are best effort.
    }
    return conn;
  },
  listen(hostname, port) {
    const listener = Deno.listen({ hostname, port, transport: "tcp" });
    let waiting: Promise<unknown> | null = null;
    return {
      port: (listener.addr as Deno.NetAddr).port,
      async accept() {
        const next = listener.accept();
        waiting = next;
        const conn = await next;
        waiting = null;
        try {
          conn.setNoDelay(true);
          conn.setKeepAlive(true);
        } catch {
          // Options are best effort.
        }
        const remote = conn.remoteAddr as Deno.NetAddr;
        return { conn, remote: { hostname: remote.hostname, port: remote.port } };
      },
      close() {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
        return waiting?.then(() => {}, () => {});
      },
    };
  },
};
