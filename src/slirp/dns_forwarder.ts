/**
 * DNS forwarding for the slirp stack: queries the guest sends to the
 * virtual DNS address (10.0.2.3, fd00::3) go to the host's resolvers
 * (/etc/resolv.conf, or the configured upstreams) and the answers come back
 * from the virtual address.
 *
 * Theory of operation: one host UDP socket per address family carries
 * every query. Each query gets a fresh random id (so two guests' ids
 * cannot collide and a spoofed answer must guess it); a pending table maps
 * it back to the guest's id, address and port and keeps a copy of the
 * query. An answer is accepted only from the upstream it was sent to. An
 * answer with the TC bit set is asked again over TCP; the full answer goes
 * to the guest if it fits the guest's UDP size (512 or its EDNS size), else
 * the truncated one does, and the guest can ask over TCP itself. A query
 * that gets no answer within the timeout is forgotten and the next
 * upstream is tried for the following queries. The pending table is
 * bounded. A guest whose lookups time out sees only that, so the first
 * timeout of an upstream is logged once (naming it and the option that
 * changes it); its next answer makes a later silence worth a line again.
 */
import { DNS_HLEN, dnsUdpPayloadSize } from "../wire/dns.ts";
import type { DnsUpstream } from "./config.ts";
import { formatIpv6 } from "../wire/ipv6.ts";
import type { HostNet, HostSocket } from "./host_net.ts";

/** Queries waiting for an answer before new ones are dropped. */
export const MAX_PENDING = 512;
/** How long a query waits for its answer. */
export const QUERY_TIMEOUT_MS = 5000;
/** Bound on a TCP fallback exchange. */
export const TCP_TIMEOUT_MS = 3000;

/** Sends an answer to the guest: payload `b[off, off+len)` (borrowed), with headroom before `off` when `inPlace`. */
export type DnsDeliver = (
  family: 4 | 6,
  guestAddr: Uint8Array,
  guestPort: number,
  b: Uint8Array,
  off: number,
  len: number,
  inPlace: boolean,
) => void;

interface Pending {
  family: 4 | 6;
  guestAddr: Uint8Array;
  guestPort: number;
  guestId: number;
  query: Uint8Array;
  upstream: DnsUpstream;
  sent: number;
}

/** Counters of the forwarder. */
export interface DnsStats {
  queries: number;
  answers: number;
  timeouts: number;
  truncated: number;
  tcpFallbacks: number;
  dropped: number;
}

/** The DNS forwarder. */
export class DnsForwarder {
  readonly #pending = new Map<number, Pending>();
  readonly #sockets = new Map<4 | 6, HostSocket>();
  /** Upstreams whose silence was logged and which have not answered since. */
  readonly #silent = new Set<DnsUpstream>();
  #next = 0;
  #closed = false;
  readonly stats: DnsStats = {
    queries: 0,
    answers: 0,
    timeouts: 0,
    truncated: 0,
    tcpFallbacks: 0,
    dropped: 0,
  };

  constructor(
    readonly upstreams: DnsUpstream[],
    readonly net: HostNet,
    readonly deliver: DnsDeliver,
    readonly now: () => number,
    readonly log: (message: string) => void = () => {},
  ) {}

  /** Handles a query from the guest (payload borrowed). */
  query(
    family: 4 | 6,
    guestAddr: Uint8Array,
    guestPort: number,
    b: Uint8Array,
    off: number,
    len: number,
  ): void {
    if (this.#closed || len < DNS_HLEN || (b[off + 2]! & 0x80) !== 0 || this.upstreams.length === 0) {
      this.stats.dropped++;
      return;
    }
    if (this.#pending.size >= MAX_PENDING) this.expire(this.now());
    if (this.#pending.size >= MAX_PENDING) {
      this.stats.dropped++;
      return;
    }
    const upstream = this.upstreams[this.#next % this.upstreams.length]!;
    let sock: HostSocket;
    try {
      sock = this.#socket(upstream.family);
    } catch {
      this.stats.dropped++;
      return;
    }
    let id = 0;
    do id = (Math.random() * 0x10000) | 0; while (this.#pending.has(id));
    const query = b.slice(off, off + len);
    const guestId = (query[0]! << 8) | query[1]!;
    query[0] = id >>> 8;
    query[1] = id & 0xff;
    this.#pending.set(id, {
      family,
      guestAddr: guestAddr.slice(),
      guestPort,
      guestId,
      query,
      upstream,
      sent: this.now(),
    });
    this.stats.queries++;
    if (sock.sendTo(query, 0, query.length, upstream.addr, 0, upstream.port) !== 0) {
      this.#pending.delete(id);
      this.stats.dropped++;
      this.#next++;
    }
  }

  #socket(family: 4 | 6): HostSocket {
    let s = this.#sockets.get(family);
    if (s === undefined) {
      s = this.net.openUdp(family, (buf, off, len, from, port) => this.#answer(buf, off, len, from, port));
      this.#sockets.set(family, s);
    }
    return s;
  }

  #answer(b: Uint8Array, off: number, len: number, from: Uint8Array, port: number): void {
    if (len < DNS_HLEN) return;
    const id = (b[off]! << 8) | b[off + 1]!;
    const p = this.#pending.get(id);
    if (p === undefined || port !== p.upstream.port) return;
    for (let i = 0; i < p.upstream.addr.length; i++) if (from[i] !== p.upstream.addr[i]) return;
    this.#pending.delete(id);
    this.#silent.delete(p.upstream);
    if ((b[off + 2]! & 0x02) !== 0) {
      this.stats.truncated++;
      const truncated = b.slice(off, off + len);
      void this.#tcpFallback(p, truncated);
      return;
    }
    this.stats.answers++;
    b[off] = p.guestId >>> 8;
    b[off + 1] = p.guestId & 0xff;
    this.deliver(p.family, p.guestAddr, p.guestPort, b, off, len, true);
  }

  async #tcpFallback(p: Pending, truncated: Uint8Array): Promise<void> {
    const limit = Math.min(65507, dnsUdpPayloadSize(p.query));
    let answer: Uint8Array | null = null;
    try {
      answer = await askOverTcp(p.upstream, p.query, TCP_TIMEOUT_MS);
    } catch { /* fall back to the truncated answer */ }
    if (this.#closed) return;
    let out = truncated;
    if (
      answer !== null && answer.length >= DNS_HLEN && answer[0] === p.query[0] && answer[1] === p.query[1] &&
      answer.length <= limit
    ) {
      out = answer;
      this.stats.tcpFallbacks++;
    }
    this.stats.answers++;
    out[0] = p.guestId >>> 8;
    out[1] = p.guestId & 0xff;
    this.deliver(p.family, p.guestAddr, p.guestPort, out, 0, out.length, false);
  }

  /**
   * Forgets queries older than the timeout; the next queries go to the next
   * upstream. Queries are kept in the order sent, so the walk stops at the
   * first one still waiting: a guest flooding a silent upstream costs each
   * query a few steps, not a walk of every pending one.
   */
  expire(now: number): void {
    for (const [id, p] of this.#pending) {
      if (now - p.sent < QUERY_TIMEOUT_MS) break;
      this.#pending.delete(id);
      this.stats.timeouts++;
      this.#next++;
      if (!this.#silent.has(p.upstream)) {
        this.#silent.add(p.upstream);
        this.log(
          `DNS upstream ${formatUpstream(p.upstream)} did not answer within ${
            QUERY_TIMEOUT_MS / 1000
          } s; the guest's lookups through it fail ` +
            `while it is silent (--dns-upstream ADDR[:PORT] or dns_upstream= names another)`,
        );
      }
    }
  }

  /** Queries waiting for an answer. */
  get pending(): number {
    return this.#pending.size;
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#sockets.values()) s.close();
    this.#sockets.clear();
    this.#pending.clear();
  }
}

/** An upstream as a user writes it: `127.0.0.1:53`, `[::1]:53`. */
export function formatUpstream(u: DnsUpstream): string {
  return `${u.family === 4 ? u.addr.join(".") : `[${formatIpv6(u.addr)}]`}:${u.port}`;
}

let tcpInFlight = 0;

/**
 * DNS exchanges over TCP under way in this thread: they run on Deno's event
 * loop, which the slirp thread turns only while this is non-zero (or idle).
 */
export function dnsTcpInFlight(): number {
  return tcpInFlight;
}

/** One DNS exchange over TCP (RFC 1035 4.2.2: two-byte length prefix), bounded in time. */
export async function askOverTcp(
  upstream: DnsUpstream,
  query: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  const hostname = upstream.family === 4
    ? [...upstream.addr].join(".")
    : [...Array(8)].map((_, i) => ((upstream.addr[2 * i]! << 8) | upstream.addr[2 * i + 1]!).toString(16))
      .join(":");
  const ac = new AbortController();
  let conn: Deno.TcpConn | null = null;
  tcpInFlight++;
  const timer = setTimeout(() => {
    ac.abort();
    try {
      conn?.close();
    } catch { /* closed already */ }
  }, timeoutMs);
  try {
    conn = await Deno.connect({ hostname, port: upstream.port, signal: ac.signal });
    const framed = new Uint8Array(2 + query.length);
    framed[0] = query.length >>> 8;
    framed[1] = query.length & 0xff;
    framed.set(query, 2);
    let w = 0;
    while (w < framed.length) w += await conn.write(framed.subarray(w));
    const head = await readExactly(conn, 2);
    return await readExactly(conn, (head[0]! << 8) | head[1]!);
  } finally {
    tcpInFlight--;
    clearTimeout(timer);
    try {
      conn?.close();
    } catch { /* closed by the timer */ }
  }
}

async function readExactly(conn: Deno.TcpConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) throw new Error("connection closed early");
    got += r;
  }
  return out;
}
