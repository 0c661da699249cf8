/**
 * Helpers for the cable tests: a listener and clients on loopback with
 * their log lines captured, a TCP proxy that can flip a bit or stall, and
 * bounded waits. Everything started here is closed by `close()`.
 */
import { CableClient, type CableClientOptions } from "../../src/cable/client.ts";
import { type CableKey, keyFromBytes } from "../../src/cable/key.ts";
import { CableListener, type CableListenerOptions, type ListenerSession } from "../../src/cable/listener.ts";
import { BROADCAST, ethFrame, mac, tagOf } from "../helpers/vde_clients.ts";

export { BROADCAST, ethFrame, mac, tagOf };

/** A fixed test key and another one. */
export const keyA: Promise<CableKey> = keyFromBytes(new Uint8Array(32).fill(0xa1));
export const keyB: Promise<CableKey> = keyFromBytes(new Uint8Array(32).fill(0xb2));

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 10 ms; throws after `ms` naming `what`. */
export async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Resolves with `p` or rejects after `ms`. */
export async function within<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Frames received by a link, copied. */
export function collect(link: { onFrame: (f: Uint8Array) => void }): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.onFrame = (f) => got.push(f.slice());
  return got;
}

/** A listener and its clients on loopback, with captured logs. */
export class Bench {
  readonly listener: CableListener;
  readonly sessions: ListenerSession[] = [];
  readonly listenerLog: string[] = [];
  readonly clientLog: string[] = [];
  readonly #clients: CableClient[] = [];
  readonly #closers: (() => void)[] = [];
  /** Port handed to the next session by onSession. */
  nextPort = 3;

  constructor(options: Partial<CableListenerOptions> & { key: CableKey | null }) {
    this.listener = CableListener.start({
      hostname: "127.0.0.1",
      port: 0,
      handshakeTimeoutMs: 3000,
      log: (m) => this.listenerLog.push(m),
      onSession: (s) => {
        this.sessions.push(s);
        return this.nextPort++;
      },
      ...options,
    });
  }

  get port(): number {
    return this.listener.addr.port;
  }

  /** Starts a client of this listener (or of `port`, e.g. a proxy's). */
  client(o: Partial<CableClientOptions> & { key: CableKey | null }): CableClient {
    const c = new CableClient({
      hostname: "127.0.0.1",
      port: this.port,
      sessionId: crypto.getRandomValues(new Uint8Array(16)),
      retryMinMs: 50,
      retryMaxMs: 200,
      handshakeTimeoutMs: 3000,
      log: (m) => this.clientLog.push(m),
      ...o,
    });
    this.#clients.push(c);
    return c;
  }

  /** Registers something to close with the bench. */
  defer(fn: () => void): void {
    this.#closers.push(fn);
  }

  /** Waits until `n` sessions exist. */
  async sessionCount(n: number, ms = 5000): Promise<ListenerSession> {
    await until(`${n} session(s)`, () => this.sessions.length >= n, ms);
    return this.sessions[n - 1]!;
  }

  /** Closes every client, the listener and anything deferred. */
  async close(): Promise<void> {
    for (const c of this.#clients) c.close("test over");
    for (const fn of this.#closers) {
      try {
        fn();
      } catch { /* closed already */ }
    }
    this.listener.close();
    await Promise.all(this.#clients.map((c) => c.closed));
    await within("the listener's accept loop", 5000, this.listener.done);
  }
}

/** What a proxy does to the bytes from the client. */
export interface ProxyControl {
  /** Flip bit 4 of the byte this many bytes ahead in the client-to-server stream (once), when set. */
  flipAfter: number | null;
  /** Stop forwarding anything (a path that silently died). */
  stall: boolean;
  /** Bytes forwarded client to server. */
  forwarded: number;
  /** Bits flipped. */
  flipped: number;
}

/** A loopback TCP proxy in front of `targetPort` that can flip a bit or stall. */
export class TamperProxy {
  readonly control: ProxyControl = { flipAfter: null, stall: false, forwarded: 0, flipped: 0 };
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly port: number;

  constructor(readonly targetPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accept();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let a: Deno.Conn;
      try {
        a = await this.#listener.accept();
      } catch {
        return;
      }
      let b: Deno.Conn;
      try {
        b = await Deno.connect({ hostname: "127.0.0.1", port: this.targetPort });
      } catch {
        a.close();
        continue;
      }
      this.#conns.add(a);
      this.#conns.add(b);
      this.#pump(a, b, true);
      this.#pump(b, a, false);
    }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, upstream: boolean): Promise<void> {
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        while (this.control.stall) await sleep(20);
        const chunk = buf.subarray(0, n);
        if (upstream) {
          const f = this.control.flipAfter;
          if (f !== null && f < n) {
            chunk[f]! ^= 0x10;
            this.control.flipAfter = null;
            this.control.flipped++;
          } else if (f !== null) {
            this.control.flipAfter = f - n;
          }
          this.control.forwarded += n;
        }
        let off = 0;
        while (off < n) off += await to.write(chunk.subarray(off));
      }
    } catch { /* either side closed */ }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch { /* closed already */ }
      this.#conns.delete(c);
    }
  }

  /** Cuts every proxied connection (the path goes away). */
  cut(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    this.#conns.clear();
  }

  close(): void {
    this.control.stall = false;
    try {
      this.#listener.close();
    } catch { /* closed already */ }
    this.cut();
  }
}

/** A test frame from host `src` to host `dst` (0 for broadcast) carrying `tag`. */
export function frame(src: number, dst: number, tag: number, size = 100): Uint8Array {
  return ethFrame(dst === 0 ? BROADCAST : mac(dst), mac(src), tag, size);
}
