/**
 * Test support for the TCP engine (test/helpers/random.ts gives its seeded
 * randomness): a deterministic network simulator with a fake clock, and a simulated TCP peer built on
 * {@link TcpConnection}. Used by the netsim tests and by tests that need a
 * "guest" without a kernel; no I/O, no real timers.
 *
 * Theory of operation: a `SimNet` holds a fake clock and one queue of
 * segments in flight, ordered by delivery time (then by send order, so runs
 * are reproducible). Every segment sent is copied and then, by the seeded
 * PRNG, dropped, duplicated or delayed (which reorders it); a bounded queue
 * per direction drops at the tail like a router buffer. `run` advances the
 * clock to the next delivery or timer, delivers, polls, and lets the
 * callers' `step` hooks move application data, until a condition holds or a
 * limit (simulated time, steps) is reached.
 */
import {
  buildTcpSegment,
  newTcpRepr,
  parseTcp,
  TCP_ACK,
  TCP_RST,
  TCP_SYN,
  type TcpRepr,
  verifyTcpChecksum,
} from "../../src/wire/tcp.ts";
import { formatIp } from "../../src/wire/ip_address.ts";
import { createTcpEngine, type SlirpTcpEngine, type TcpEngineOptions } from "../../src/slirp/tcp/engine.ts";
import type { HostConn, HostListener, HostNet, HostPeer } from "../../src/slirp/tcp/host.ts";
import { newTcpStats, type TcpStats } from "../../src/slirp/tcp/stats.ts";
import {
  DEFAULT_TCB_CONFIG,
  type TcbConfig,
  type TcbHost,
  TcpConnection,
  TcpState,
} from "../../src/slirp/tcp/tcb.ts";
import { prng } from "../helpers/random.ts";

/** The test pattern's byte at stream offset `i` for stream `tag`. */
export function patternByte(tag: number, i: number): number {
  return (Math.imul((i + tag * 7919) >>> 0, 2654435761) >>> 24) & 0xff;
}

/** Fills `dst` with the pattern from stream offset `from`. */
export function fillPattern(tag: number, from: number, dst: Uint8Array): void {
  for (let k = 0; k < dst.length; k++) dst[k] = patternByte(tag, from + k);
}

/** Impairments of a simulated link, each a probability per segment or a time in ms. */
export interface SimImpairments {
  loss?: number;
  duplicate?: number;
  /** Probability that a segment is delayed by up to `reorderMs` more (and so overtaken). */
  reorder?: number;
  reorderMs?: number;
  /** One-way delay. */
  delayMs?: number;
  /** Segments in flight per direction before tail drop (Infinity: none). */
  queueLimit?: number;
}

interface InFlight {
  at: number;
  id: number;
  to: SimNode;
  src: Uint8Array;
  dst: Uint8Array;
  seg: Uint8Array;
}

/** Where a simulated node receives segments. */
export interface SimNode {
  deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void;
  /** Earliest timer. */
  deadline(): number;
  poll(): void;
  /** Segments queued towards this node (for the queue limit). */
  queued: number;
}

/** A deterministic network between simulated nodes. */
export class SimNet {
  now = 0;
  readonly random: () => number;
  readonly imp: Required<SimImpairments>;
  #heap: InFlight[] = [];
  #ids = 0;
  readonly nodes: SimNode[] = [];
  /** Counters. */
  sent = 0;
  dropped = 0;
  duplicated = 0;
  reordered = 0;
  tailDropped = 0;

  constructor(seed: number, imp: SimImpairments = {}) {
    this.random = prng(seed);
    this.imp = {
      loss: imp.loss ?? 0,
      duplicate: imp.duplicate ?? 0,
      reorder: imp.reorder ?? 0,
      reorderMs: imp.reorderMs ?? 5,
      delayMs: imp.delayMs ?? 1,
      queueLimit: imp.queueLimit ?? Infinity,
    };
  }

  /** Sends a copy of `seg` to `to`, through the impairments. */
  send(to: SimNode, src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    this.sent++;
    const r = this.random;
    if (r() < this.imp.loss) {
      this.dropped++;
      return;
    }
    const copies = r() < this.imp.duplicate ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (to.queued >= this.imp.queueLimit) {
        this.tailDropped++;
        continue;
      }
      let at = this.now + this.imp.delayMs;
      if (r() < this.imp.reorder) {
        this.reordered++;
        at += r() * this.imp.reorderMs;
      }
      to.queued++;
      this.#push({ at, id: this.#ids++, to, src: src.slice(), dst: dst.slice(), seg: seg.slice() });
    }
  }

  /**
   * Runs until `done()` is true, nothing is left to do, or `maxMs` of
   * simulated time pass. `step` runs after every event (applications).
   *
   * @returns true when `done()` held
   */
  run(done: () => boolean, step: () => void = () => {}, maxMs = 600_000, maxEvents = 5_000_000): boolean {
    const end = this.now + maxMs;
    let events = 0;
    step();
    while (!done()) {
      if (++events > maxEvents) return false;
      if (!this.#nextEvent(end)) return done();
      step();
    }
    return true;
  }

  /**
   * Moves the clock to the next delivery or timer deadline (if one comes
   * before `end`), delivers every packet due and polls every node due.
   * False when nothing is due before `end`.
   */
  #nextEvent(end: number): boolean {
    let next = this.#heap.length > 0 ? this.#heap[0]!.at : Infinity;
    for (const n of this.nodes) next = Math.min(next, n.deadline());
    if (next === Infinity || next > end) return false;
    if (next > this.now) this.now = next;
    while (this.#heap.length > 0 && this.#heap[0]!.at <= this.now) {
      const p = this.#pop()!;
      p.to.queued--;
      p.to.deliver(p.src, p.dst, p.seg);
    }
    for (const n of this.nodes) if (n.deadline() <= this.now) n.poll();
    return true;
  }

  /**
   * `run` for nodes with asynchronous parts (the engine's host loops): after
   * every event, pending promise callbacks run (`settle`) before the next.
   */
  async runAsync(
    done: () => boolean,
    step: () => void = () => {},
    maxMs = 600_000,
    maxEvents = 2_000_000,
  ): Promise<boolean> {
    const end = this.now + maxMs;
    let events = 0;
    step();
    await settle();
    while (!done()) {
      if (++events > maxEvents) return false;
      if (!this.#nextEvent(end)) return done();
      step();
      await settle();
      step();
    }
    return true;
  }

  /** Advances the clock by `ms`, delivering and polling on the way. */
  advance(ms: number, step?: () => void): void {
    const until = this.now + ms;
    this.run(() => false, step, ms);
    this.now = Math.max(this.now, until);
  }

  #push(p: InFlight): void {
    const h = this.#heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (less(h[parent]!, h[i]!)) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  #pop(): InFlight | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: InFlight, b: InFlight): boolean {
  return a.at < b.at || (a.at === b.at && a.id < b.id);
}

/**
 * A simulated TCP endpoint: one {@link TcpConnection} (active or passive)
 * on a {@link SimNet}, with a pattern writer and a checking reader.
 */
export class SimPeer implements SimNode, TcbHost {
  readonly net: SimNet;
  readonly stats: TcpStats = newTcpStats();
  readonly cfg: TcbConfig;
  conn: TcpConnection | null = null;
  peer: SimNode | null = null;
  queued = 0;
  readonly addr: Uint8Array;
  readonly port: number;
  /** Bytes to send (pattern with tag `sendTag`), then FIN when `finAfterSend`. */
  toSend = 0;
  sent = 0;
  sendTag = 1;
  finAfterSend = true;
  /** Reader: verifies the pattern with tag `recvTag`. */
  recvTag = 2;
  received = 0;
  /** First pattern mismatch, or -1. */
  mismatchAt = -1;
  /** Reads this many bytes per step at most (Infinity: all), to model a slow application. */
  readLimit = Infinity;
  /** With a `readLimit`: the application reads again this often (simulated ms), even when nothing arrives. */
  readIntervalMs = 0;
  /** Sends the FIN only after the peer's FIN (instead of after the data). */
  closeOnEof = false;
  #nextRead = 0;
  established = false;
  closedReason: string | null | undefined = undefined;
  sawTimeWait = false;
  /** Segments this peer received that failed parsing or checksum. */
  badSegments = 0;
  #repr = newTcpRepr();
  #readBuf = new Uint8Array(65536);

  constructor(net: SimNet, addr: Uint8Array, port: number, cfg: Partial<TcbConfig> = {}) {
    this.net = net;
    this.addr = addr;
    this.port = port;
    this.cfg = { ...DEFAULT_TCB_CONFIG, keepAliveIdleMs: Infinity, ...cfg };
    net.nodes.push(this);
  }

  /** Opens actively towards `peer` at `addr:port`. */
  connect(peer: SimNode, addr: Uint8Array, port: number, iss: number): void {
    this.peer = peer;
    this.conn = new TcpConnection(this, this.cfg, this.stats, this.addr, this.port, addr, port, iss);
    this.conn.connect();
  }

  /** Waits for a SYN from `peer` and answers it with ISN `iss`. */
  listen(peer: SimNode, iss: number): void {
    this.peer = peer;
    this.#listenIss = iss;
  }
  #listenIss = -1;

  deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    const r = this.#repr;
    if (parseTcp(seg, r, { urgentPastData: "clamp" }) !== null || !verifyTcpChecksum(src, dst, seg)) {
      this.badSegments++;
      return;
    }
    this.stats.segmentsIn++;
    if (this.conn === null || this.conn.state === TcpState.Closed) {
      if (
        this.#listenIss >= 0 && (r.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && this.conn === null
      ) {
        this.conn = new TcpConnection(
          this,
          this.cfg,
          this.stats,
          this.addr,
          this.port,
          src.slice(),
          r.srcPort,
          this.#listenIss,
        );
        this.conn.receiveSyn(r);
        this.conn.acceptSyn();
      }
      return;
    }
    this.conn.input(r, seg);
  }

  deadline(): number {
    if (this.conn === null) return Infinity;
    let d = this.conn.deadline;
    if (this.readIntervalMs > 0 && this.conn.readableBytes > 0) d = Math.min(d, this.#nextRead);
    return d;
  }

  poll(): void {
    this.conn?.poll();
    if (this.readIntervalMs > 0 && this.net.now >= this.#nextRead) this.step();
  }

  /** Moves application data: writes the pattern, reads and checks. */
  step(): void {
    const c = this.conn;
    if (c === null) return;
    while (this.sent < this.toSend && c.synchronized && c.state !== TcpState.TimeWait) {
      const region = c.sendRegion(this.toSend - this.sent);
      if (region.length === 0) break;
      fillPattern(this.sendTag, this.sent, region);
      this.sent += region.length;
      c.commitSend(region.length);
    }
    const finNow = this.closeOnEof ? c.peerFin && c.readableBytes === 0 : this.finAfterSend;
    if (this.sent >= this.toSend && finNow && !c.finQueued && c.synchronized) c.closeSend();
    if (this.readIntervalMs > 0) {
      if (this.net.now < this.#nextRead) return;
      this.#nextRead = this.net.now + this.readIntervalMs;
    }
    let budget = this.readLimit;
    while (budget > 0) {
      const n = c.read(this.#readBuf.subarray(0, Math.min(this.#readBuf.length, budget)));
      if (n === 0) break;
      budget -= n;
      for (let k = 0; k < n; k++) {
        if (this.mismatchAt < 0 && this.#readBuf[k] !== patternByte(this.recvTag, this.received + k)) {
          this.mismatchAt = this.received + k;
        }
      }
      this.received += n;
    }
  }

  /** True when the peer's FIN arrived and all its data was read. */
  get gotEof(): boolean {
    const c = this.conn;
    return c !== null && (c.peerFin || this.closedReason === null) && c.readableBytes === 0;
  }

  // TcbHost
  now(): number {
    return this.net.now;
  }
  emit(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    if (this.peer !== null) this.net.send(this.peer, src, dst, seg);
  }
  onEstablished(): void {
    this.established = true;
  }
  onReadable(): void {}
  onWritable(): void {}
  onTimeWait(): void {
    this.sawTimeWait = true;
  }
  onClosed(reason: string | null): void {
    this.closedReason = reason;
  }
  onTimer(): void {}
  onAckPending(): void {}
  outputBlocked(): boolean {
    return false;
  }
}

/** Options for {@link simulateTransfer}. */
export interface TransferOptions extends SimImpairments {
  seed: number;
  /** Bytes from the active side to the passive side. */
  bytesAB: number;
  /** Bytes from the passive side back. */
  bytesBA: number;
  cfgA?: Partial<TcbConfig>;
  cfgB?: Partial<TcbConfig>;
  /** Limit on simulated time. */
  maxMs?: number;
  v6?: boolean;
}

/** What a transfer produced. */
export interface TransferResult {
  done: boolean;
  a: SimPeer;
  b: SimPeer;
  net: SimNet;
  simMs: number;
}

/**
 * Connects two simulated endpoints, sends `bytesAB` and `bytesBA` both ways
 * with FINs, and runs until both saw the other's FIN with every byte read
 * (or the time limit).
 */
export function simulateTransfer(o: TransferOptions): TransferResult {
  const net = new SimNet(o.seed, o);
  const addrA = o.v6 ? v6(1) : new Uint8Array([10, 0, 2, 15]);
  const addrB = o.v6 ? v6(2) : new Uint8Array([192, 0, 2, 1]);
  const a = new SimPeer(net, addrA, 40000 + (o.seed % 1000), o.cfgA);
  const b = new SimPeer(net, addrB, 80, o.cfgB);
  a.toSend = o.bytesAB;
  a.sendTag = 1;
  b.recvTag = 1;
  b.toSend = o.bytesBA;
  b.sendTag = 2;
  a.recvTag = 2;
  const rnd = prng(o.seed ^ 0x5a5a5a5a);
  b.listen(a, Math.floor(rnd() * 2 ** 32));
  a.connect(b, addrB, 80, Math.floor(rnd() * 2 ** 32));
  const start = net.now;
  const done = net.run(
    () =>
      (a.gotEof && b.gotEof && a.received === o.bytesBA && b.received === o.bytesAB) ||
      (a.closedReason !== undefined && a.closedReason !== null) ||
      (b.closedReason !== undefined && b.closedReason !== null),
    () => {
      a.step();
      b.step();
    },
    o.maxMs ?? 3_600_000,
  );
  return {
    done: done && a.received === o.bytesBA && b.received === o.bytesAB,
    a,
    b,
    net,
    simMs: net.now - start,
  };
}

function v6(last: number): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0xfd;
  b[15] = last;
  return b;
}

// ---------------------------------------------------------------------------
// A live guest: simulated guest TCP sockets wired to a real engine.

/** A TCP socket of the simulated guest (one {@link TcpConnection}). */
export class GuestSocket implements TcbHost {
  readonly guest: LiveGuest;
  readonly conn: TcpConnection;
  established = false;
  closedReason: string | null | undefined = undefined;
  /** For a passively opened socket: called once, when established. */
  onAccept: ((s: GuestSocket) => void) | null = null;
  #waiters: (() => void)[] = [];
  #opened: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(guest: LiveGuest, remoteAddr: Uint8Array, remotePort: number, localPort: number, iss: number) {
    this.guest = guest;
    this.conn = new TcpConnection(
      this,
      guest.cfg,
      guest.stats,
      guest.addrFor(remoteAddr),
      localPort,
      remoteAddr,
      remotePort,
      iss,
    );
  }

  /** Resolves once established; rejects on reset or timeout. */
  opened(): Promise<void> {
    if (this.established) return Promise.resolve();
    if (this.closedReason !== undefined) return Promise.reject(new Error(`connection ${this.closedReason}`));
    return new Promise((resolve, reject) => this.#opened = { resolve, reject });
  }

  /** Writes all of `data`, waiting for send space (back-pressure). */
  async writeAll(data: Uint8Array, deadline = Date.now() + 60_000): Promise<void> {
    let done = 0;
    while (done < data.length) {
      if (this.closedReason !== undefined && this.closedReason !== null) {
        throw new Error(`connection ${this.closedReason}`);
      }
      const n = this.conn.write(data.subarray(done));
      done += n;
      this.guest.kick();
      if (n === 0) await this.#wait(deadline);
    }
  }

  /** Reads everything until the peer's FIN; returns the bytes. */
  async readAll(deadline = Date.now() + 60_000, onChunk?: (chunk: Uint8Array) => void): Promise<number> {
    const buf = new Uint8Array(65536);
    let total = 0;
    for (;;) {
      const n = this.conn.read(buf);
      if (n > 0) {
        total += n;
        onChunk?.(buf.subarray(0, n));
        this.guest.kick();
        continue;
      }
      if (this.conn.peerFin || this.closedReason === null) return total;
      if (this.closedReason !== undefined) throw new Error(`connection ${this.closedReason}`);
      await this.#wait(deadline);
    }
  }

  /** Half-closes (FIN after the data). */
  close(): void {
    this.conn.closeSend();
    this.guest.kick();
  }

  #wait(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error("guest socket wait timed out"));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("guest socket wait timed out")), left);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  // TcbHost
  now(): number {
    return this.guest.now();
  }
  emit(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    this.guest.toEngine(src, dst, seg);
  }
  onEstablished(): void {
    this.established = true;
    this.#opened?.resolve();
    this.#opened = null;
    const cb = this.onAccept;
    this.onAccept = null;
    cb?.(this);
  }
  onReadable(): void {
    this.#wake();
  }
  onWritable(): void {
    this.#wake();
  }
  onTimeWait(): void {
    this.#wake();
  }
  onClosed(reason: string | null): void {
    this.closedReason = reason;
    this.#opened?.reject(new Error(`connection ${reason ?? "closed"}`));
    this.#opened = null;
    this.#wake();
  }
  onTimer(): void {
    this.guest.kick();
  }
  onAckPending(): void {}
  outputBlocked(): boolean {
    return false;
  }
}

/** What a {@link LiveGuest} wires up. */
export interface LiveGuestCore {
  sendSegment(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void;
  now(): number;
  mss(version: 4 | 6): number;
}

/**
 * A simulated guest at 10.0.2.15 / fd00::15 whose TCP sockets talk to an
 * engine through in-memory queues, on the real clock. `core` is what to
 * pass to `createTcpEngine`; then `attach(engine)`.
 */
export class LiveGuest {
  readonly cfg: TcbConfig;
  readonly stats: TcpStats = newTcpStats();
  readonly addr4 = new Uint8Array([10, 0, 2, 15]);
  readonly addr6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15]);
  readonly core: LiveGuestCore;
  /** Segments dropped on the way to the guest / to the engine (probability). */
  lossToGuest = 0;
  lossToEngine = 0;
  readonly random = prng(7);
  #engine: {
    input(s: Uint8Array, d: Uint8Array, g: Uint8Array): void;
    poll(): void;
    nextTimerMs(): number;
    flush?(): void;
  } | null = null;
  #toEngine: Uint8Array[][] = [];
  #toGuest: Uint8Array[][] = [];
  #sockets = new Map<string, GuestSocket>();
  #listeners = new Map<number, (s: GuestSocket) => void>();
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #nextPort = 40000;
  #repr = newTcpRepr();
  #closed = false;
  readonly #t0 = performance.now();

  constructor(cfg: Partial<TcbConfig> = {}, mss = 1460) {
    this.cfg = { ...DEFAULT_TCB_CONFIG, mss, ...cfg };
    this.core = {
      sendSegment: (src, dst, seg) => {
        if (this.lossToGuest > 0 && this.random() < this.lossToGuest) return;
        this.#toGuest.push([src.slice(), dst.slice(), seg.slice()]);
        this.kick();
      },
      now: () => this.now(),
      mss: (v) => (v === 6 ? mss - 20 : mss),
    };
  }

  now(): number {
    return performance.now() - this.#t0;
  }

  attach(
    engine: {
      input(s: Uint8Array, d: Uint8Array, g: Uint8Array): void;
      poll(): void;
      nextTimerMs(): number;
      flush?(): void;
    },
  ): void {
    this.#engine = engine;
  }

  addrFor(remote: Uint8Array): Uint8Array {
    return remote.length === 16 ? this.addr6 : this.addr4;
  }

  /** Opens a guest connection to `addr:port` (through the engine). */
  connect(addr: Uint8Array, port: number): GuestSocket {
    const local = this.#nextPort++;
    const s = new GuestSocket(this, addr, port, local, Math.floor(this.random() * 2 ** 32));
    this.#sockets.set(key(addr, port, local), s);
    s.conn.connect();
    return s;
  }

  /** Accepts inbound connections on `port`. */
  listen(port: number, onAccept: (s: GuestSocket) => void): void {
    this.#listeners.set(port, onAccept);
  }

  toEngine(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    if (this.lossToEngine > 0 && this.random() < this.lossToEngine) return;
    this.#toEngine.push([src.slice(), dst.slice(), seg.slice()]);
    this.kick();
  }

  /** Schedules a drain of both queues. */
  kick(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const engine = this.#engine;
    if (engine === null || this.#closed) return;
    for (let round = 0; round < 256; round++) {
      if (this.#toEngine.length === 0 && this.#toGuest.length === 0) break;
      const te = this.#toEngine;
      this.#toEngine = [];
      for (const [s, d, g] of te) engine.input(s!, d!, g!);
      engine.flush?.();
      const tg = this.#toGuest;
      this.#toGuest = [];
      for (const [s, d, g] of tg) this.#deliver(s!, d!, g!);
      for (const sock of this.#sockets.values()) sock.conn.flushAck();
    }
    if (this.#toEngine.length > 0 || this.#toGuest.length > 0) {
      // Let host I/O run before the next batch.
      this.#scheduled = true;
      setTimeout(() => this.#drain(), 0);
    }
    this.#armTimer();
  }

  #armTimer(): void {
    const engine = this.#engine;
    if (engine === null || this.#closed) return;
    const now = this.now();
    let at = now + engine.nextTimerMs();
    for (const s of this.#sockets.values()) at = Math.min(at, s.conn.deadline);
    if (at === Infinity) return;
    at = Math.max(at, now + 1);
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      engine.poll();
      for (const [k, s] of this.#sockets) {
        s.conn.poll();
        if (s.conn.state === TcpState.Closed && s.conn.readableBytes === 0) this.#sockets.delete(k);
      }
      this.kick();
      this.#armTimer();
    }, at - now);
  }

  #deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    const r = this.#repr;
    if (parseTcp(seg, r, { urgentPastData: "clamp" }) !== null || !verifyTcpChecksum(src, dst, seg)) {
      this.stats.badSegments++;
      return;
    }
    this.stats.segmentsIn++;
    const k = key(src, r.srcPort, r.dstPort);
    let s = this.#sockets.get(k);
    if (s !== undefined && s.conn.state === TcpState.Closed) {
      if ((r.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
        this.#sockets.delete(k);
        s = undefined;
      } else {
        return;
      }
    }
    if (s === undefined) {
      if ((r.flags & (TCP_SYN | TCP_ACK | TCP_RST)) !== TCP_SYN) return;
      if (!this.#listeners.has(r.dstPort)) {
        // Closed port: RST.
        const rst = buildTcpSegment(
          {
            srcPort: r.dstPort,
            dstPort: r.srcPort,
            seq: 0,
            ack: (r.seq + 1) >>> 0,
            flags: TCP_RST | TCP_ACK,
          },
          undefined,
          dst,
          src,
        );
        this.toEngine(dst, src, rst);
        return;
      }
      s = new GuestSocket(this, src.slice(), r.srcPort, r.dstPort, Math.floor(this.random() * 2 ** 32));
      this.#sockets.set(k, s);
      s.onAccept = this.#listeners.get(r.dstPort)!;
      s.conn.receiveSyn(r);
      s.conn.acceptSyn();
      return;
    }
    s.conn.input(r, seg);
  }

  /** Stops timers and drops queued segments. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const s of this.#sockets.values()) s.conn.abort("guest closed");
  }
}

function key(remote: Uint8Array, remotePort: number, localPort: number): string {
  return `${remote.join(".")}|${remotePort}|${localPort}`;
}

// ---------------------------------------------------------------------------
// In-memory host sockets, for deterministic engine tests.

/**
 * The engine's end of an in-memory host stream. The test plays the far end:
 * `push`/`end`/`reset` feed the engine's reads (or `source` produces bytes
 * on demand), and what the engine writes goes to `sink` (default: kept in
 * `written`). `stallWrites` holds the engine's writes until `releaseWrites`,
 * to model a host peer that does not read.
 */
export class MemoryConn implements HostConn {
  readonly remote: HostPeer;
  /** Bytes the engine wrote (when no `sink` is set). */
  written: Uint8Array[] = [];
  writtenBytes = 0;
  /** Called with each chunk the engine writes (a copy). */
  sink: ((chunk: Uint8Array) => void) | null = null;
  /** Produces bytes for the engine's read when nothing is pushed: bytes written into `p`, 0 for none yet, null for end. */
  source: ((p: Uint8Array) => number | null) | null = null;
  stallWrites = false;
  writeClosed = false;
  closed = false;
  readCalls = 0;
  writeCalls = 0;
  /** True while the engine waits in read. */
  readPending = false;
  #inbox: Uint8Array[] = [];
  #ended = false;
  #resetError: Error | null = null;
  #readWaiter: (() => void) | null = null;
  #writeWaiters: (() => void)[] = [];
  onClose: (() => void) | null = null;
  onCloseWrite: (() => void) | null = null;

  constructor(remote: HostPeer = { hostname: "127.0.0.1", port: 1 }) {
    this.remote = remote;
  }

  /** Far end: sends bytes towards the engine. */
  push(bytes: Uint8Array): void {
    this.#inbox.push(bytes.slice());
    this.#wakeRead();
  }
  /** Far end: end of stream after what was pushed. */
  end(): void {
    this.#ended = true;
    this.#wakeRead();
  }
  /** Far end: the connection is reset; the engine's next (or pending) read fails. */
  reset(): void {
    this.#resetError = new Deno.errors.ConnectionReset("connection reset by peer");
    this.#wakeRead();
    this.#wakeWrites();
  }
  /** Lets stalled writes complete. */
  releaseWrites(): void {
    this.stallWrites = false;
    this.#wakeWrites();
  }
  /** Wakes a pending read so it polls `source` again. */
  poke(): void {
    this.#wakeRead();
  }

  async read(p: Uint8Array): Promise<number | null> {
    this.readCalls++;
    this.readPending = true;
    try {
      for (;;) {
        if (this.closed) throw new Deno.errors.BadResource("closed");
        if (this.#resetError !== null) throw this.#resetError;
        const head = this.#inbox[0];
        if (head !== undefined) {
          const n = Math.min(head.length, p.length);
          p.set(head.subarray(0, n));
          if (n === head.length) this.#inbox.shift();
          else this.#inbox[0] = head.subarray(n);
          return n;
        }
        if (this.#ended) return null;
        if (this.source !== null) {
          const n = this.source(p);
          if (n === null) return null;
          if (n > 0) return n;
        }
        await new Promise<void>((resolve) => this.#readWaiter = resolve);
      }
    } finally {
      this.readPending = false;
    }
  }

  async write(p: Uint8Array): Promise<number> {
    this.writeCalls++;
    while (this.stallWrites && !this.closed && this.#resetError === null) {
      await new Promise<void>((resolve) => this.#writeWaiters.push(resolve));
    }
    if (this.closed) throw new Deno.errors.BadResource("closed");
    if (this.#resetError !== null) throw new Deno.errors.BrokenPipe("broken pipe");
    if (this.writeClosed) throw new Deno.errors.BrokenPipe("write after closeWrite");
    const copy = p.slice();
    this.writtenBytes += copy.length;
    if (this.sink !== null) this.sink(copy);
    else this.written.push(copy);
    return copy.length;
  }

  closeWrite(): Promise<void> {
    this.writeClosed = true;
    this.onCloseWrite?.();
    return Promise.resolve();
  }

  /** Answers the synchronous calls (as the libc sockets do) instead of declining them. */
  synchronous = false;
  /** Calls of tryRead, tryWrite and tryCloseWrite that were answered. */
  syncCalls = 0;

  tryRead(p: Uint8Array): number | null {
    const head = this.#inbox[0];
    if (!this.synchronous || this.closed || this.#resetError !== null) return -1;
    if (head === undefined) {
      if (!this.#ended) return -1;
      this.syncCalls++;
      return null;
    }
    this.syncCalls++;
    const n = Math.min(head.length, p.length);
    p.set(head.subarray(0, n));
    if (n === head.length) this.#inbox.shift();
    else this.#inbox[0] = head.subarray(n);
    return n;
  }

  /** The `last` hint of each answered tryWrite (the half-close follows at once). */
  readonly lastHints: boolean[] = [];

  tryWrite(p: Uint8Array, last = false): number {
    if (!this.synchronous || this.stallWrites || this.closed || this.#resetError !== null) return -1;
    if (this.writeClosed) return -1;
    this.syncCalls++;
    this.lastHints.push(last);
    const copy = p.slice();
    this.writtenBytes += copy.length;
    if (this.sink !== null) this.sink(copy);
    else this.written.push(copy);
    return copy.length;
  }

  tryCloseWrite(): boolean {
    if (!this.synchronous || this.closed) return false;
    this.syncCalls++;
    this.writeClosed = true;
    this.onCloseWrite?.();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#wakeRead();
    this.#wakeWrites();
    this.onClose?.();
  }

  /** Everything written so far, joined. */
  writtenData(): Uint8Array {
    const out = new Uint8Array(this.writtenBytes);
    let o = 0;
    for (const c of this.written) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  #wakeRead(): void {
    const w = this.#readWaiter;
    this.#readWaiter = null;
    w?.();
  }
  #wakeWrites(): void {
    const ws = this.#writeWaiters;
    this.#writeWaiters = [];
    for (const w of ws) w();
  }
}

/** A listener of {@link MemoryHostNet}: `inject` plays a client connecting. */
export class MemoryListener implements HostListener {
  readonly net: MemoryHostNet;
  readonly hostname: string;
  readonly port: number;
  closed = false;
  #queue: { conn: HostConn; remote: HostPeer }[] = [];
  #waiter: (() => void) | null = null;

  constructor(net: MemoryHostNet, hostname: string, port: number) {
    this.net = net;
    this.hostname = hostname;
    this.port = port;
  }

  /** A client at `remote` connects; returns the engine's end of it. */
  inject(remote: HostPeer): MemoryConn {
    const conn = new MemoryConn(remote);
    this.#queue.push({ conn, remote });
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
    return conn;
  }

  async accept(): Promise<{ conn: HostConn; remote: HostPeer }> {
    for (;;) {
      if (this.closed) throw new Deno.errors.BadResource("listener closed");
      const next = this.#queue.shift();
      if (next !== undefined) return next;
      await new Promise<void>((resolve) => this.#waiter = resolve);
    }
  }

  close(): void {
    this.closed = true;
    this.net.listeners.delete(`${this.hostname}|${this.port}`);
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}

/** What `MemoryHostNet.connect` does for a target. */
export type ConnectBehaviour = "refuse" | "unreachable" | "hang" | MemoryConn;

/** Host sockets in memory: connects answered by `onConnect`, listeners driven by the test. */
export class MemoryHostNet implements HostNet {
  readonly listeners = new Map<string, MemoryListener>();
  /** Every connect attempt, in order. */
  readonly connects: { hostname: string; port: number; signal: AbortSignal }[] = [];
  /** Decides each connect (default: a fresh MemoryConn, kept in `conns`). */
  onConnect: (hostname: string, port: number) => ConnectBehaviour = () => new MemoryConn();
  readonly conns: MemoryConn[] = [];
  #nextPort = 20000;

  connect(hostname: string, port: number, signal: AbortSignal): Promise<HostConn> {
    this.connects.push({ hostname, port, signal });
    const b = this.onConnect(hostname, port);
    if (b === "refuse") return Promise.reject(new Deno.errors.ConnectionRefused("connection refused"));
    if (b === "unreachable") return Promise.reject(new Error("network unreachable"));
    if (b === "hang") {
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), {
          once: true,
        });
      });
    }
    this.conns.push(b);
    return Promise.resolve(b);
  }

  listen(hostname: string, port: number): HostListener {
    const p = port === 0 ? this.#nextPort++ : port;
    const key = `${hostname}|${p}`;
    if (this.listeners.has(key)) throw new Deno.errors.AddrInUse("Address already in use (os error 98)");
    const l = new MemoryListener(this, hostname, p);
    this.listeners.set(key, l);
    return l;
  }

  /** The listener on `port` (any address). */
  listener(port: number): MemoryListener {
    for (const l of this.listeners.values()) if (l.port === port) return l;
    throw new Error(`nothing listens on port ${port}`);
  }
}

/** Lets pending promise callbacks (the engine's host loops) run; deterministic. */
export async function settle(rounds = 64): Promise<void> {
  for (let i = 0; i < rounds; i++) await null;
}

/** The engine as a node of a {@link SimNet}: its core is the simulated network and clock. */
export class EngineNode implements SimNode {
  readonly net: SimNet;
  queued = 0;
  /** Where the engine's segments go (the simulated guest). */
  peer: SimNode | null = null;
  readonly core: LiveGuestCore;
  engine: {
    input(s: Uint8Array, d: Uint8Array, g: Uint8Array): void;
    poll(): void;
    nextTimerMs(): number;
    flush?(): void;
  } | null = null;

  constructor(net: SimNet, mss = 1460) {
    this.net = net;
    this.core = {
      sendSegment: (src, dst, seg) => {
        if (this.peer !== null) net.send(this.peer, src, dst, seg);
      },
      now: () => net.now,
      mss: (v) => (v === 6 ? mss - 20 : mss),
    };
    net.nodes.push(this);
  }

  deliver(src: Uint8Array, dst: Uint8Array, seg: Uint8Array): void {
    this.engine?.input(src, dst, seg);
    this.engine?.flush?.();
  }
  deadline(): number {
    return this.engine === null ? Infinity : this.net.now + this.engine.nextTimerMs();
  }
  poll(): void {
    this.engine?.poll();
  }
}

/** A segment the engine sent towards the guest, parsed. */
export interface SentSegment extends TcpRepr {
  src: string;
  dst: string;
  payload: Uint8Array;
}

/**
 * A TCP engine on a recording core and a fake clock, with in-memory host
 * sockets: what engine tests drive. Every segment's checksum is verified.
 * Options default to host loopback on, keep-alive off and a fixed random
 * source; `opts` overrides them.
 */
export class EngineRig {
  t = 0;
  out: SentSegment[] = [];
  /** What the core answers to `congested`: the link towards the guest is backed up. */
  congested = false;
  readonly hostNet = new MemoryHostNet();
  readonly engine: SlirpTcpEngine;

  constructor(opts: Partial<TcpEngineOptions> = {}) {
    this.engine = createTcpEngine({
      sendSegment: (src, dst, seg) => {
        if (!verifyTcpChecksum(src, dst, seg)) throw new Error("engine segment checksum is wrong");
        const copy = seg.slice();
        const r = newTcpRepr();
        const err = parseTcp(copy, r);
        if (err !== null) throw new Error(err);
        this.out.push({
          ...r,
          src: formatIp(src),
          dst: formatIp(dst),
          payload: copy.subarray(r.headerLength),
        });
      },
      now: () => this.t,
      mss: (v) => (v === 4 ? 1460 : 1440),
      congested: () => this.congested,
    }, {
      hostLoopback: true,
      hostNet: this.hostNet,
      random: () => 7000,
      tcp: { keepAliveIdleMs: Infinity },
      ...opts,
    });
  }

  /** The segments sent since the last call. */
  take(): SentSegment[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  /** Moves the clock `ms` forward, running every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.t + this.engine.nextTimerMs();
      if (next > end) break;
      this.t = Math.max(this.t, next);
      this.engine.poll();
    }
    this.t = end;
  }
}
