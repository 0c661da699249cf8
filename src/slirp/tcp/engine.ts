/**
 * The slirp TCP engine: guest TCP connections NATed onto host sockets.
 *
 * Theory of operation. Each guest connection is a `Flow`: one
 * {@link TcpConnection} facing the guest (whose "local" side is the address
 * the guest talks to) bridged to one host stream.
 *
 * - Outbound: a guest SYN to D:p creates a flow in SYN-PENDING and starts a
 *   host connect to D:p (the gateway maps to the host's loopback unless
 *   `hostLoopback` is off; the core may redirect other virtual addresses
 *   through `mapOutbound`). Only when the host connect succeeds does the
 *   guest get its SYN-ACK; a refusal or timeout answers with RST.
 * - Inbound: a forward listens on a host port; each accepted client becomes
 *   a flow whose SYN goes to the guest from the client's real address and
 *   port (a loopback, same-network or other-family client shows as the
 *   gateway instead, since the guest could not route back to it).
 * - Bridging: per flow, one host read at a time goes straight into the
 *   connection's send ring (up to 64 KiB per read, then as many segments as
 *   the guest's window and the congestion window allow); reads happen only
 *   while the ring has space, so a slow guest stops the host sender. One
 *   write at a time takes the receive ring's contents to the host stream; until
 *   the host takes them the advertised window shrinks, so a slow host stops
 *   the guest. A guest FIN half-closes the host stream after the data; host
 *   end-of-stream sends a FIN after the data; a reset on either side resets
 *   the other. Both are started from the connection's callbacks as data or
 *   room arrives, not from awaiting loops: a loop woken by a promise runs
 *   only once the data plane's busy round ends, which cost every connection
 *   a round (tens to hundreds of microseconds) per exchange.
 * - Bounds: every ring starts small (16 KiB) and grows only when it fills,
 *   up to its maximum and within an engine-wide budget (`maxBufferBytes`);
 *   half-open flows (connect pending, SYN sent or received) are capped and
 *   the oldest is evicted under a flood; flows in total and in TIME-WAIT are
 *   capped too, so a guest cannot make the engine's memory grow without bound.
 *   A forward's clients are anyone on the host: together they hold at most
 *   half the flows, and a flood of them evicts their own half-open flows
 *   first (as does a guest's connect while they hold half the half-open
 *   table), so a local user connecting thousands of times to a forward leaves
 *   the guest's own connections room (they took every flow, and the guest's
 *   connects were answered with RST). Their rings also have a budget of
 *   their own (`maxForwardBufferBytes`): past it none of them grows beyond
 *   its first 16 KiB, so clients writing what the guest does not read are
 *   held back by their own TCP, not buffered here.
 * - Timers: each flow's deadline is the earliest of its connection's timers,
 *   its connect timeout and the end of its host-write hold; the engine keeps the earliest of all as a hint
 *   (`nextTimerMs`) and `poll` visits the flows that are due.
 * - Lookup: flows sit in a hash table keyed by the four-tuple, chained, with
 *   a one-entry cache for the flow of the previous segment; no allocation.
 *
 * All time is `core.now()`; all guest I/O is `core.sendSegment`; all host
 * I/O goes through a {@link HostNet} (Deno's sockets by default).
 */
import { descriptorAdvice } from "../../os/fd_limit.ts";
import {
  newTcpRepr,
  parseTcp,
  TCP_ACK,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_RST,
  TCP_SYN,
  type TcpRepr,
  verifyTcpChecksum,
} from "../../wire/tcp.ts";
import {
  formatIp,
  inPrefix,
  ipEqual,
  type IpPrefix,
  isLoopback,
  isNonUnicast,
  parseIpText,
  parsePrefixText,
  v4Mapped,
} from "../../wire/ip_address.ts";
import type { SocketAddress, TcpCoreSide, TcpEngine } from "./api.ts";
import { log } from "../../log.ts";
import { forwardListenFailure } from "../config.ts";
import { denoHostNet, type HostConn, type HostListener, type HostNet, type HostPeer } from "./host.ts";
import { IsnGenerator } from "./isn.ts";
import { pow2AtLeast } from "./ring.ts";
import { writeResetFor } from "./reset.ts";
import { newTcpStats, type TcpStats } from "./stats.ts";
import {
  DEFAULT_TCB_CONFIG,
  type RingBudget,
  stateName,
  type TcbConfig,
  type TcbHost,
  TcpConnection,
  TcpState,
} from "./tcb.ts";

/** Where the engine connects for a guest's outbound connection. */
export interface HostTarget {
  /** An address literal (IPv4 or IPv6). */
  hostname: string;
  port: number;
}

/** Options of {@link createTcpEngine}. */
export interface TcpEngineOptions {
  /** Connections to the gateway address go to the host's 127.0.0.1 / ::1 (default true). */
  hostLoopback: boolean;
  /** The gateway's addresses as the guest sees them (defaults 10.0.2.2 and fd00::2). */
  gateway?: { v4?: Uint8Array | string; v6?: Uint8Array | string };
  /** The guest's networks (defaults 10.0.2.0/24 and fd00::/64). */
  network?: { v4?: IpPrefix | string; v6?: IpPrefix | string };
  /**
   * Redirects an outbound connection before the defaults apply: answer a
   * target, null to refuse it (RST), or undefined for the default (the
   * gateway to the host's loopback, other addresses in the guest network
   * refused, the rest to themselves). The core uses it for its virtual
   * services (e.g. DNS over TCP to the DNS address).
   */
  mapOutbound?: (dst: SocketAddress) => HostTarget | null | undefined;
  /** Host sockets (default: Deno's). */
  hostNet?: HostNet;
  /** Connection tunables (buffer sizes, timers); MSS comes from `core.mss`. */
  tcp?: Partial<Omit<TcbConfig, "mss">>;
  /** Flows of any state (default 8192). New SYNs beyond it get a RST. */
  maxConnections?: number;
  /** Half-open flows (default 256); beyond it the oldest is evicted. */
  maxHalfOpen?: number;
  /**
   * Ring bytes the forwards' clients may hold together (default 32 MiB, see
   * FORWARD_BUFFER_BYTES), within the engine-wide `tcp.maxBufferBytes`.
   */
  maxForwardBufferBytes?: number;
  /** Flows in TIME-WAIT (default 4096); beyond it the oldest is dropped. */
  maxTimeWait?: number;
  /** Host connect timeout, ms (default 30000). */
  connectTimeoutMs?: number;
  /** Verify the checksum of guest segments (default true). */
  verifyChecksum?: boolean;
  /** Largest host read, bytes (default 256 KiB: see READ_AHEAD_BYTES). */
  hostReadSize?: number;
  /** Random 32-bit numbers: the key of the initial-sequence-number hash, spare client ports (default: crypto). */
  random?: () => number;
  /**
   * Where unexpected host-socket errors are reported (default: the project
   * log, once per kind of message). Resets and refusals are normal and only
   * counted.
   */
  log?: (message: string) => void;
}

/** An inbound forward, as `addForward` takes it. */
export interface TcpForwardSpec {
  /** Host address to listen on (default 0.0.0.0, or :: with `v6`). */
  hostAddr?: string;
  /** Host port; 0 picks a free one (see `listForwards` or the returned info). */
  hostPort: number;
  /** The guest's address. */
  guestAddr: string | Uint8Array;
  guestPort: number;
  /** The guest side is IPv6 (default: the family of `guestAddr`). */
  v6?: boolean;
}

/** A forward as `listForwards` reports it. */
export interface TcpForwardInfo {
  hostAddr: string;
  hostPort: number;
  guestAddr: string;
  guestPort: number;
  v6: boolean;
  /** Connections accepted on it so far. */
  accepted: number;
}

/** Inbound port forwarding, run-time editable. */
export interface TcpForwarding {
  /** Starts listening; rejects with a one-line error when the port is taken or the spec is wrong. */
  addForward(spec: TcpForwardSpec): Promise<TcpForwardInfo>;
  /** Stops listening (existing connections stay); false when no such forward. */
  removeForward(spec: { hostAddr?: string; hostPort: number; v6?: boolean }): boolean;
  listForwards(): TcpForwardInfo[];
}

/** The engine with its extras: ACK batching and a debug listing. */
export interface SlirpTcpEngine extends TcpEngine, TcpForwarding {
  readonly stats: TcpStats;
  /** Sends ACKs held for coalescing; call after a batch of `input`s. */
  flush(): void;
  /** One line per flow, for the console. */
  describeConnections(): string[];
}

const DEFAULT_GW4 = new Uint8Array([10, 0, 2, 2]);
const DEFAULT_GW6 = new Uint8Array([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
const LOOP4 = "127.0.0.1";
const LOOP6 = "::1";

const FLOW_OUT = 0;
const FLOW_IN = 1;

/**
 * Guest data for the host is held back until the guest's segment with PSH
 * (the end of one of its writes), until this many bytes wait, or for at most
 * HOST_WRITE_HOLD_MS: a slirp thread that keeps up with the guest sees one
 * segment per round, and one send() per 1448 bytes wakes the host's reader
 * per segment (measured: iperf3 guest->host halved).
 */
const HOST_WRITE_HOLD_BYTES = 64 * 1024;
/** Longest hold of guest data without PSH (a guest stack that never sets it). */
const HOST_WRITE_HOLD_MS = 1;
/** What a flow waits for at the end of a batch: a host write, a host read. */
/**
 * Unsent bytes in a flow's send ring above which the host is read only
 * once there is room for a full read (`hostReadSize`): a download behind
 * Debian's switch keeps about 88 frames (127 KB) in flight of a 512 KiB
 * ring, and reading each round what its ACKs freed (about 33 KB) cost 30
 * reads per MB, each with the host TCP's window update and its loopback
 * delivery on this thread. With this much still to send, the guest's ACKs
 * of a few rounds cannot drain the ring before the larger read comes.
 */
const READ_AHEAD_BYTES = 128 * 1024;
const PUMP_WRITE = 1;
const PUMP_READ = 2;
/**
 * The forwards' clients' rings together (`maxForwardBufferBytes`). Anyone on
 * the host may connect to a forward and write what the guest never reads:
 * each flow stops reading its client once its send ring is full, but under
 * the engine-wide budget (256 MiB) 1,024 such clients grew the slirp by
 * 236-342 MiB in 4 s. 32 MiB holds the largest rings (2 MiB each way at a
 * jumbo MTU) of several fast flows at once; past it their rings stay at
 * their first 16 KiB each way, so the flood's clients wait in their own
 * kernel's buffers (TCP backpressure), and the guest's own connections are
 * not held to it. Their first 16 KiB each way are never refused: the most
 * flows forwards may hold (4,096) could still hold 128 MiB. Tried: starting
 * the rings of clients past the budget at one segment (2 KiB); not kept,
 * and not tried again since the stall it was blamed for (some flows of that
 * flood never sent again once the guest read, with either size) was found
 * in the persist timer (see `TcpConnection`'s header).
 */
const FORWARD_BUFFER_BYTES = 32 * 1024 * 1024;

/**
 * Creates the TCP engine for one slirp stack.
 *
 * @param core what the engine needs from the stack: segment output, clock, MSS
 * @param options addresses, policy, limits and tunables
 * @returns the engine, which is also the forward manager
 */
export function createTcpEngine(core: TcpCoreSide, options: TcpEngineOptions): SlirpTcpEngine {
  return new Engine(core, options);
}

/** Ring buffers kept for reuse (at the default 16 KiB, 1 MiB). */
const POOLED_BUFFERS = 64;

class Flow implements TcbHost {
  readonly engine: Engine;
  readonly tcb: TcpConnection;
  readonly kind: number;
  readonly guestAddr: Uint8Array;
  readonly guestPort: number;
  readonly farAddr: Uint8Array;
  readonly farPort: number;
  readonly hash: number;
  next: Flow | null = null;
  inTable = false;
  /** Position in the engine's dense list of flows (for timers), -1 when out. */
  listIndex = -1;
  host: HostConn | null = null;
  connectAbort: AbortController | null = null;
  connectDeadline = Infinity;
  /** Where an outbound flow connects (host:port), for its log lines. */
  target = "";
  hostEof = false;
  hostWriteDone = false;
  hostClosed = false;
  /** The pumps run from establishment on (a forward's host socket exists before the guest answers). */
  #started = false;
  /** PUMP_WRITE and PUMP_READ bits waiting in the engine's queue for the end of the batch. */
  pumps = 0;
  #reading = false;
  #writing = false;
  /** Received bytes that must reach the host without waiting (they end with a PSH, a FIN or a hold timeout). */
  #owed = 0;
  /** When data held back for coalescing goes out anyway (Infinity: none held). */
  holdDeadline = Infinity;

  constructor(
    engine: Engine,
    kind: number,
    guestAddr: Uint8Array,
    guestPort: number,
    farAddr: Uint8Array,
    farPort: number,
    iss: number,
  ) {
    this.engine = engine;
    this.kind = kind;
    this.guestAddr = guestAddr;
    this.guestPort = guestPort;
    this.farAddr = farAddr;
    this.farPort = farPort;
    this.hash = tupleHash(guestAddr, guestPort, farAddr, farPort);
    const cfg = guestAddr.length === 16 ? engine.cfg6 : engine.cfg4;
    const budget = kind === FLOW_IN ? engine.forwardBudget : null;
    this.tcb = new TcpConnection(
      this,
      cfg,
      engine.stats,
      farAddr,
      farPort,
      guestAddr,
      guestPort,
      iss,
      budget,
    );
  }

  get deadline(): number {
    return Math.min(this.tcb.deadline, this.connectDeadline, this.holdDeadline);
  }

  matches(ga: Uint8Array, gp: number, fa: Uint8Array, fp: number): boolean {
    return gp === this.guestPort && fp === this.farPort && ipEqual(ga, this.guestAddr) &&
      ipEqual(fa, this.farAddr);
  }

  // TcbHost
  now(): number {
    return this.engine.core.now();
  }
  emit(src: Uint8Array, dst: Uint8Array, segment: Uint8Array, frame: Uint8Array): void {
    this.engine.core.sendSegment(src, dst, segment, frame);
  }
  outputBlocked(): boolean {
    const core = this.engine.core;
    if (core.congested === undefined || !core.congested()) return false;
    this.engine.blocked.add(this);
    return true;
  }
  onEstablished(): void {
    this.engine.halfOpenDone(this);
    this.#started = true;
    this.pumpRead();
    this.pumpWrite();
  }
  onReadable(): void {
    this.engine.wantPump(this, PUMP_WRITE);
  }
  onWritable(): void {
    this.engine.wantPump(this, PUMP_READ);
  }
  onTimeWait(): void {
    this.engine.enteredTimeWait(this);
  }
  onClosed(reason: string | null): void {
    this.engine.flowClosed(this, reason);
    if (this.connectAbort !== null) {
      this.connectAbort.abort();
      this.connectAbort = null;
    }
    if (reason !== null) {
      this.closeHost();
    }
    // The writer still drains after an orderly close.
    this.pumpWrite();
  }
  onTimer(): void {
    this.engine.noteDeadline(this.deadline);
  }
  takeBuffer(size: number): Uint8Array<ArrayBuffer> | null {
    return this.engine.takeBuffer(size);
  }
  giveBuffer(buf: Uint8Array<ArrayBuffer>, send: boolean): void {
    // A host read fills the send ring and a host write drains the receive ring: in flight, they hold a view.
    if (send ? this.#reading : this.#writing) return;
    this.engine.giveBuffer(buf);
  }
  onAckPending(): void {
    const q = this.engine.ackQueue;
    q.push(this);
    // Bounded even if the core never calls flush: the delayed-ACK timer covers these too.
    if (q.length > 4096) this.engine.flush();
  }

  closeHost(): void {
    if (this.hostClosed) return;
    this.hostClosed = true;
    if (this.host !== null) {
      try {
        this.host.close();
      } catch {
        // Already closed.
      }
    }
  }

  #maybeCloseHost(): void {
    if (this.hostEof && this.hostWriteDone) this.closeHost();
  }

  /**
   * Host to guest: reads into the send ring while it has room, one read in
   * flight. The room the guest's ACKs free is read into at the end of their
   * batch (the engine's `flush`), in one read rather than one per ACK; Deno
   * starts a socket read or write at the call, so the host sees it then, not
   * after the data plane's busy stretch of rounds ends and microtasks run.
   */
  pumpRead(): void {
    const conn = this.host;
    const tcb = this.tcb;
    if (conn === null) return;
    let region: Uint8Array;
    // A socket with data waiting is read again in this loop, not a promise reaction later.
    for (;;) {
      if (!this.#started || this.#reading || this.hostClosed || this.hostEof) return;
      if (tcb.state === TcpState.Closed || tcb.finQueued) return;
      // Plenty left to send: wait for room for a full read (see READ_AHEAD_BYTES).
      if (tcb.unsentBytes >= READ_AHEAD_BYTES && tcb.sendSpace < this.engine.hostReadSize) {
        return tcb.releaseTail();
      }
      region = tcb.sendRegion(this.engine.hostReadSize);
      // No room: the guest's next ACK (onWritable) comes back here. A partial segment held for the
      // next read (#got) leaves now.
      if (region.length === 0) return tcb.releaseTail();
      const now = conn.tryRead === undefined ? -1 : conn.tryRead(region);
      if (now === -1) break;
      if (!this.#got(now, now === region.length)) return;
    }
    tcb.releaseTail();
    this.#reading = true;
    if (conn.readThen !== undefined) {
      // The data or end of stream is taken in the poller's round that brings it (no promise).
      conn.readThen(region, this.#afterRead, this.#readFailed);
      return;
    }
    let read: Promise<number | null>;
    try {
      read = conn.read(region);
    } catch (e) {
      read = Promise.reject(e);
    }
    read.then(this.#afterRead, this.#readFailed);
  }

  readonly #afterRead = (n: number | null): void => {
    this.#reading = false;
    if (this.#got(n, true)) this.pumpRead();
  };

  /**
   * Takes a host read's result into the send ring; false when the flow reads no more. `more`: the read
   * filled its region, so the loop reads again at once and a last partial segment waits for that read
   * (at MTU 65520, 9 KB frames, a 64 KiB read left one small frame in eight).
   */
  #got(n: number | null, more: boolean): boolean {
    this.engine.stats.hostReads++;
    const tcb = this.tcb;
    if (this.hostClosed || tcb.state === TcpState.Closed) return false;
    if (n === null) {
      this.hostEof = true;
      tcb.closeSend();
      this.#maybeCloseHost();
      return false;
    }
    tcb.commitSend(n, more);
    return true;
  }

  readonly #readFailed = (e: unknown): void => {
    this.#reading = false;
    const tcb = this.tcb;
    if (this.hostClosed || tcb.state === TcpState.Closed) return;
    if (!isResetError(e)) this.engine.log(`host read failed for ${this.describe()}: ${errorText(e)}`);
    this.hostEof = true;
    tcb.abort("host reset");
    this.closeHost();
  };

  /**
   * Guest to host: writes the receive ring out, one write in flight;
   * half-closes after the guest's FIN. Data that arrives is written at the
   * end of its batch of frames (the engine's `flush`), so a round's
   * segments leave in one write, and only once the guest's write is
   * complete (PSH), enough waits, or the hold times out (see
   * HOST_WRITE_HOLD_BYTES), so consecutive rounds share a write too.
   */
  pumpWrite(): void {
    const conn = this.host;
    const tcb = this.tcb;
    if (conn === null) return;
    // A socket that takes the data at once is written again in this loop, not a promise reaction later.
    for (;;) {
      if (!this.#started || this.#writing || this.hostClosed || this.hostWriteDone) return;
      const region = tcb.receiveRegion();
      let op: Promise<number | void>;
      if (region.length > 0) {
        const held = tcb.readableBytes;
        // Half the window at most: the window the guest sees must not close on held data.
        const window = Math.min(tcb.rcvBuf?.capacity ?? 0, tcb.receiveWindowMax);
        const enough = Math.min(HOST_WRITE_HOLD_BYTES, window >> 1);
        if (tcb.pushed || held >= enough || tcb.peerFin || tcb.state === TcpState.Closed) {
          tcb.pushed = false;
          this.#owed = held;
        }
        if (this.#owed <= 0) {
          if (this.holdDeadline === Infinity) {
            this.holdDeadline = this.engine.core.now() + HOST_WRITE_HOLD_MS;
            this.engine.noteDeadline(this.holdDeadline);
          }
          return;
        }
        this.holdDeadline = Infinity;
        // The guest's last bytes before its FIN: they leave with our half-close, one segment for both
        // (a forward's client then wakes once for its data and end of stream, not twice).
        const now = conn.tryWrite?.(region, tcb.peerFin && region.length === tcb.readableBytes) ?? -1;
        if (now >= 0) {
          this.#wrote(now);
          continue;
        }
        this.#writing = true;
        if (conn.writeThen !== undefined) {
          conn.writeThen(region, this.#afterWrite, this.#writeFailed);
          return;
        }
        try {
          op = conn.write(region);
        } catch (e) {
          op = Promise.reject(e);
        }
        op.then(this.#afterWrite, this.#writeFailed);
        return;
      }
      if (!tcb.peerFin && !(tcb.state === TcpState.Closed && tcb.closeReason === null)) return;
      if (conn.tryCloseWrite?.() === true) {
        this.#closedWrite();
        return;
      }
      this.#writing = true;
      try {
        op = conn.closeWrite();
      } catch (e) {
        op = Promise.reject(e);
      }
      op.then(this.#afterCloseWrite, this.#writeFailed);
      return;
    }
  }

  /** The hold timer ran out: what the ring holds goes to the host now. */
  holdExpired(): void {
    this.holdDeadline = Infinity;
    this.#owed = this.tcb.readableBytes;
    this.pumpWrite();
  }

  readonly #afterWrite = (n: number | void): void => {
    this.#writing = false;
    this.#wrote(n ?? 0);
    this.pumpWrite();
  };

  #wrote(n: number): void {
    this.engine.stats.hostWrites++;
    if (this.hostClosed) return;
    this.#owed -= n;
    this.tcb.consume(n);
  }

  readonly #afterCloseWrite = (): void => {
    this.#writing = false;
    this.#closedWrite();
  };

  #closedWrite(): void {
    this.hostWriteDone = true;
    this.#maybeCloseHost();
  }

  readonly #writeFailed = (e: unknown): void => {
    this.#writing = false;
    if (this.hostClosed) return;
    if (!isResetError(e)) this.engine.log(`host write failed for ${this.describe()}: ${errorText(e)}`);
    this.hostWriteDone = true;
    this.tcb.abort("host write failed");
    this.closeHost();
  };

  describe(): string {
    const g = `${fmtEndpoint(this.guestAddr, this.guestPort)}`;
    const f = `${fmtEndpoint(this.farAddr, this.farPort)}`;
    return this.kind === FLOW_OUT ? `guest ${g} -> ${f}` : `${f} -> guest ${g}`;
  }
}

interface Forward {
  key: string;
  hostAddr: string;
  hostPort: number;
  guestAddr: Uint8Array;
  guestPort: number;
  v6: boolean;
  listener: HostListener;
  accepted: number;
  closed: boolean;
}

class Engine implements SlirpTcpEngine {
  readonly core: TcpCoreSide;
  readonly stats: TcpStats = newTcpStats();
  readonly cfg4: TcbConfig;
  readonly cfg6: TcbConfig;
  readonly hostReadSize: number;
  readonly ackQueue: Flow[] = [];
  /** Flows with data for the host or room for it, served at the end of the batch. */
  readonly #pumpQueue: Flow[] = [];
  #pumpsScheduled = false;
  /** Flows holding data back while the guest link is congested, in the order they stopped. */
  readonly blocked = new Set<Flow>();
  /** The rings of the forwards' clients (FLOW_IN), together (FORWARD_BUFFER_BYTES). */
  readonly forwardBudget: RingBudget;
  readonly #opts: TcpEngineOptions;
  readonly #hostNet: HostNet;
  readonly #gw4: Uint8Array;
  readonly #gw6: Uint8Array;
  readonly #net4: IpPrefix;
  readonly #net6: IpPrefix;
  readonly #maxConnections: number;
  readonly #maxHalfOpen: number;
  readonly #maxTimeWait: number;
  readonly #connectTimeout: number;
  readonly #verify: boolean;
  readonly #random: () => number;
  readonly #isn: IsnGenerator;
  // Hash table of flows, chained.
  #buckets: (Flow | null)[];
  #mask: number;
  #count = 0;
  /** Of #count, the forwards' flows (FLOW_IN): at most half of #maxConnections. */
  #inbound = 0;
  /** Every flow in the table, densely, for timers and listings. */
  readonly #list: Flow[] = [];
  #last: Flow | null = null;
  readonly #halfOpen = new Set<Flow>();
  readonly #timeWait = new Set<Flow>();
  readonly #forwards = new Map<string, Forward>();
  /** Listeners of removed forwards not yet off their ports (see addForward); null when none. */
  #releasing: Promise<void> | null = null;
  /** Once closed: settles when every forward's port is free again. */
  #released: Promise<void> = Promise.resolve();
  /** The port `#clientEndpoint` chose (a second result without an array per connection). */
  #clientPort = 0;
  #nextDeadline = Infinity;
  #closed = false;
  readonly #repr: TcpRepr = newTcpRepr();
  readonly #rst = new Uint8Array(TCP_HEADER_LEN);
  readonly #logged = new Set<string>();
  /** Ring buffers of closed connections, for the next ones (see TcbHost.takeBuffer). */
  readonly #buffers: Uint8Array<ArrayBuffer>[] = [];
  readonly #bufferSize: number;

  constructor(core: TcpCoreSide, o: TcpEngineOptions) {
    this.core = core;
    this.#opts = o;
    this.#hostNet = o.hostNet ?? denoHostNet;
    this.#gw4 = toAddr(o.gateway?.v4, 4) ?? DEFAULT_GW4;
    this.#gw6 = toAddr(o.gateway?.v6, 16) ?? DEFAULT_GW6;
    this.#net4 = toPrefix(o.network?.v4) ?? { addr: new Uint8Array([10, 0, 2, 0]), length: 24 };
    this.#net6 = toPrefix(o.network?.v6) ??
      { addr: new Uint8Array([0xfd, ...new Array(15).fill(0)]), length: 64 };
    this.#maxConnections = o.maxConnections ?? 8192;
    this.#maxHalfOpen = o.maxHalfOpen ?? 256;
    this.forwardBudget = { used: 0, limit: o.maxForwardBufferBytes ?? FORWARD_BUFFER_BYTES };
    this.#maxTimeWait = o.maxTimeWait ?? 4096;
    this.#connectTimeout = o.connectTimeoutMs ?? 30_000;
    this.#verify = o.verifyChecksum ?? true;
    this.hostReadSize = o.hostReadSize ?? 256 * 1024;
    this.#random = o.random ?? cryptoRandom32();
    this.#isn = new IsnGenerator(() => core.now(), this.#random);
    const base = { ...DEFAULT_TCB_CONFIG, ...o.tcp };
    this.#bufferSize = pow2AtLeast(base.initialBufferSize);
    this.cfg4 = { ...base, mss: core.mss(4) };
    this.cfg6 = { ...base, mss: core.mss(6) };
    this.#buckets = new Array<Flow | null>(1024).fill(null);
    this.#mask = 1023;
  }

  log(message: string): void {
    if (this.#opts.log !== undefined) {
      this.#opts.log(message);
      return;
    }
    // One line per kind of message (numbers and addresses aside), so a flood cannot spam.
    const kind = message.replace(/[0-9a-f.:[\]]{2,}/g, "#");
    if (this.#logged.has(kind) || this.#logged.size > 256) return;
    this.#logged.add(kind);
    log("slirp", `tcp: ${message}`);
  }

  // ------------------------------------------------------------ TcpEngine

  input(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void {
    if (this.#closed) return;
    const stats = this.stats;
    stats.segmentsIn++;
    const r = this.#repr;
    if (parseTcp(segment, r, { urgentPastData: "clamp" }) !== null) {
      stats.badSegments++;
      return;
    }
    if (this.#verify && !verifyTcpChecksum(src, dst, segment)) {
      stats.badChecksum++;
      return;
    }
    let flow = this.#last;
    if (flow === null || !flow.matches(src, r.srcPort, dst, r.dstPort)) {
      flow = this.#lookup(src, r.srcPort, dst, r.dstPort);
      if (flow !== null) this.#last = flow;
    }
    const f = r.flags;
    if (flow !== null) {
      if (flow.tcb.state === TcpState.TimeWait && (f & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
        // A new connection reusing the tuple: TIME-WAIT gives way (RFC 9293 allows it for a higher ISN).
        flow.tcb.abort("reused");
      } else {
        flow.tcb.input(r, segment);
        return;
      }
    }
    if ((f & TCP_RST) !== 0) return;
    if ((f & (TCP_SYN | TCP_ACK | TCP_FIN)) !== TCP_SYN) {
      this.#resetFor(src, dst, r);
      return;
    }
    this.#outbound(src, dst, r);
  }

  poll(): void {
    if (this.#closed) return;
    // A timer may run between a batch of input and its flush: the ACKs that batch held go now, and
    // each connection's "queued" mark is cleared with them, or it would never queue an ACK again.
    this.#flushAcks();
    const now = this.core.now();
    let next = Infinity;
    // Backwards: a flow that closes is swapped with the last one, which was already visited.
    const list = this.#list;
    for (let i = list.length - 1; i >= 0; i--) {
      const flow = list[i];
      if (flow === undefined) continue;
      if (flow.deadline <= now) {
        if (flow.connectDeadline <= now) this.#connectTimedOut(flow);
        else {
          if (flow.holdDeadline <= now) flow.holdExpired();
          // The host write may have ended the flow (and swapped a visited one into its slot).
          if (flow.inTable && flow.tcb.deadline <= now) flow.tcb.poll();
        }
      }
      if (flow.inTable) next = Math.min(next, flow.deadline);
    }
    this.#nextDeadline = next;
  }

  nextTimerMs(): number {
    if (this.#nextDeadline === Infinity) return Infinity;
    return Math.max(0, this.#nextDeadline - this.core.now());
  }

  flush(): void {
    this.#runPumps();
    this.#flushAcks();
  }

  #flushAcks(): void {
    const q = this.ackQueue;
    for (let i = 0; i < q.length; i++) q[i]!.tcb.flushAck();
    q.length = 0;
  }

  resume(): void {
    // A flow that blocks again goes to the back of the set: the next drain serves the others first.
    for (const flow of this.blocked) {
      if (this.core.congested?.() === true) return;
      this.blocked.delete(flow);
      if (!flow.inTable) continue;
      flow.tcb.output();
      // What it sent armed its retransmission timer (or, behind a closed window, its persist timer) outside
      // `input` and `poll`, which note deadlines: without this, a flow whose segments were lost after
      // the others' timers had run waited for a poll that nothing asked for.
      this.noteDeadline(flow.deadline);
    }
  }

  close(): Promise<void> {
    if (this.#closed) return this.#released;
    const released: (Promise<void> | void | null)[] = [this.#releasing];
    for (const fwd of this.#forwards.values()) {
      fwd.closed = true;
      released.push(fwd.listener.close());
    }
    // A slirp removed and another added at once on its forwards' ports (a lab's node renamed) waits for it.
    this.#released = Promise.all(released).then(() => {});
    this.#forwards.clear();
    for (const flow of this.#allFlows()) {
      flow.tcb.abort("engine closed");
      flow.closeHost();
    }
    this.#closed = true;
    return this.#released;
  }

  describeConnections(): string[] {
    const lines: string[] = [];
    for (const flow of this.#allFlows()) {
      const t = flow.tcb;
      lines.push(
        `${flow.describe()} ${stateName(t.state)} sndq ${t.sndBuf?.length ?? 0} rcvq ${t.readableBytes}` +
          ` cwnd ${t.cwnd} wnd ${t.sndWnd} rto ${Math.round(t.rto)}` +
          `${t.sackOk ? " sack" : ""}${t.tsOk ? " ts" : ""}`,
      );
    }
    return lines;
  }

  // ------------------------------------------------------------ flows

  /**
   * Queues a host write (PUMP_WRITE) or read (PUMP_READ) of `flow` for the
   * end of the batch (`flush`, or a microtask when the core calls none).
   */
  wantPump(flow: Flow, pump: number): void {
    if (flow.pumps === 0) this.#pumpQueue.push(flow);
    flow.pumps |= pump;
    if (this.#pumpsScheduled) return;
    this.#pumpsScheduled = true;
    queueMicrotask(this.#runPumps);
  }

  readonly #runPumps = (): void => {
    this.#pumpsScheduled = false;
    const q = this.#pumpQueue;
    for (let i = 0; i < q.length; i++) {
      const flow = q[i]!;
      const pumps = flow.pumps;
      flow.pumps = 0;
      if ((pumps & PUMP_WRITE) !== 0) flow.pumpWrite();
      if ((pumps & PUMP_READ) !== 0) flow.pumpRead();
    }
    q.length = 0;
  };

  takeBuffer(size: number): Uint8Array<ArrayBuffer> | null {
    return size === this.#bufferSize ? this.#buffers.pop() ?? null : null;
  }

  giveBuffer(buf: Uint8Array<ArrayBuffer>): void {
    if (buf.length === this.#bufferSize && this.#buffers.length < POOLED_BUFFERS) this.#buffers.push(buf);
  }

  noteDeadline(d: number): void {
    if (d < this.#nextDeadline) this.#nextDeadline = d;
  }

  halfOpenDone(flow: Flow): void {
    if (this.#halfOpen.delete(flow)) this.stats.halfOpen = this.#halfOpen.size;
  }

  enteredTimeWait(flow: Flow): void {
    this.halfOpenDone(flow);
    this.#timeWait.add(flow);
    if (this.#timeWait.size > this.#maxTimeWait) {
      const oldest = this.#timeWait.values().next().value;
      if (oldest !== undefined) oldest.tcb.abort("time-wait overflow");
    }
    this.stats.timeWait = this.#timeWait.size;
  }

  flowClosed(flow: Flow, reason: string | null): void {
    this.#remove(flow);
    if (this.#halfOpen.delete(flow)) {
      this.stats.halfOpen = this.#halfOpen.size;
      if (flow.kind === FLOW_IN && reason !== null) this.stats.acceptsFailed++;
    }
    if (this.#timeWait.delete(flow)) this.stats.timeWait = this.#timeWait.size;
  }

  /** A snapshot of every flow (safe against closes while iterating). */
  #allFlows(): Flow[] {
    return this.#list.slice();
  }

  #lookup(ga: Uint8Array, gp: number, fa: Uint8Array, fp: number): Flow | null {
    const h = tupleHash(ga, gp, fa, fp);
    for (let f: Flow | null = this.#buckets[h & this.#mask] ?? null; f !== null; f = f.next) {
      if (f.hash === h && f.matches(ga, gp, fa, fp)) return f;
    }
    return null;
  }

  #insert(flow: Flow): void {
    if (this.#count >= this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    const i = flow.hash & this.#mask;
    flow.next = this.#buckets[i] ?? null;
    this.#buckets[i] = flow;
    flow.inTable = true;
    flow.listIndex = this.#list.length;
    this.#list.push(flow);
    this.#count++;
    if (flow.kind === FLOW_IN) this.#inbound++;
    this.stats.connections = this.#count;
    this.noteDeadline(flow.deadline);
  }

  #remove(flow: Flow): void {
    if (!flow.inTable) return;
    const i = flow.hash & this.#mask;
    let prev: Flow | null = null;
    for (let f: Flow | null = this.#buckets[i] ?? null; f !== null; prev = f, f = f.next) {
      if (f !== flow) continue;
      if (prev === null) this.#buckets[i] = f.next;
      else prev.next = f.next;
      break;
    }
    flow.next = null;
    flow.inTable = false;
    this.blocked.delete(flow);
    const last = this.#list.pop()!;
    if (last !== flow) {
      this.#list[flow.listIndex] = last;
      last.listIndex = flow.listIndex;
    }
    flow.listIndex = -1;
    this.#count--;
    if (flow.kind === FLOW_IN) this.#inbound--;
    this.stats.connections = this.#count;
    if (this.#last === flow) this.#last = null;
  }

  #rehash(size: number): void {
    const old = this.#buckets;
    this.#buckets = new Array<Flow | null>(size).fill(null);
    this.#mask = size - 1;
    for (let i = 0; i < old.length; i++) {
      let f: Flow | null = old[i] ?? null;
      while (f !== null) {
        const next: Flow | null = f.next;
        const j = f.hash & this.#mask;
        f.next = this.#buckets[j] ?? null;
        this.#buckets[j] = f;
        f = next;
      }
    }
  }

  /** The ISN of a flow: clock plus keyed tuple hash, so a reused tuple starts above its last use. */
  #iss(guestAddr: Uint8Array, guestPort: number, farAddr: Uint8Array, farPort: number): number {
    return this.#isn.next(farAddr, farPort, guestAddr, guestPort);
  }

  /** Admits a new half-open flow of `kind`, evicting one when at the cap (#evictedFor); false when full. */
  #admit(kind: number): boolean {
    if (this.#count >= this.#maxConnections) {
      // Make room from TIME-WAIT first: those carry no data.
      const oldest = this.#timeWait.values().next().value;
      if (oldest === undefined) return false;
      oldest.tcb.abort("table full");
    }
    if (this.#halfOpen.size >= this.#maxHalfOpen) {
      const victim = this.#evictedFor(kind);
      if (victim === undefined) return false;
      this.stats.synEvicted++;
      victim.tcb.abort("evicted");
      victim.closeHost();
    }
    return true;
  }

  /**
   * The half-open flow a new one of `kind` gives up in a full table: a forward's oldest when the new one is
   * a forward's client (host clients do not evict the guest's connects) or when forwards hold half the
   * table or more (their flood kept every guest connect but the newest the oldest flow: each one the guest
   * made evicted its own last); otherwise the oldest. Walked only when the table is full.
   */
  #evictedFor(kind: number): Flow | undefined {
    let oldestForward: Flow | undefined;
    let forwards = 0;
    for (const f of this.#halfOpen) {
      if (f.kind !== FLOW_IN) continue;
      if (kind === FLOW_IN) return f;
      oldestForward ??= f;
      forwards++;
    }
    if (oldestForward !== undefined && forwards * 2 >= this.#halfOpen.size) return oldestForward;
    return this.#halfOpen.values().next().value;
  }

  /** Gives up the forwards' oldest TIME-WAIT flow (it carries no data); false when they hold none. */
  #forwardTimeWaitGone(): boolean {
    for (const f of this.#timeWait) {
      if (f.kind !== FLOW_IN) continue;
      f.tcb.abort("table full");
      return true;
    }
    return false;
  }

  #addHalfOpen(flow: Flow): void {
    this.#halfOpen.add(flow);
    this.stats.halfOpen = this.#halfOpen.size;
  }

  // ------------------------------------------------------------ outbound

  #outbound(src: Uint8Array, dst: Uint8Array, syn: TcpRepr): void {
    if (isNonUnicast(dst) || isNonUnicast(src) || syn.dstPort === 0 || syn.srcPort === 0) {
      this.stats.badSegments++;
      return;
    }
    const target = this.#resolve(dst, syn.dstPort);
    if (target === null) {
      // Refused by policy (nothing listens there): answer at once.
      this.stats.connectsFailed++;
      this.#resetFor(src, dst, syn);
      return;
    }
    if (!this.#admit(FLOW_OUT)) {
      this.stats.synDropped++;
      this.#resetFor(src, dst, syn);
      return;
    }
    const flow = new Flow(
      this,
      FLOW_OUT,
      src.slice(),
      syn.srcPort,
      dst.slice(),
      syn.dstPort,
      this.#iss(src, syn.srcPort, dst, syn.dstPort),
    );
    flow.tcb.receiveSyn(syn);
    this.#insert(flow);
    this.#addHalfOpen(flow);
    this.stats.connectsOut++;
    flow.target = `${target.hostname}:${target.port}`;
    const abort = new AbortController();
    flow.connectAbort = abort;
    flow.connectDeadline = this.core.now() + this.#connectTimeout;
    this.noteDeadline(flow.connectDeadline);
    let attempt: Promise<HostConn>;
    try {
      attempt = this.#hostNet.connect(target.hostname, target.port, abort.signal);
    } catch (e) {
      attempt = Promise.reject(e);
    }
    attempt.then(
      (conn) => {
        flow.connectAbort = null;
        flow.connectDeadline = Infinity;
        if (flow.tcb.state !== TcpState.SynPending || this.#closed) {
          try {
            conn.close();
          } catch {
            // Already closed.
          }
          return;
        }
        flow.host = conn;
        flow.tcb.acceptSyn();
      },
      (e) => {
        flow.connectAbort = null;
        flow.connectDeadline = Infinity;
        if (flow.tcb.state !== TcpState.SynPending) return;
        this.stats.connectsFailed++;
        const refused = e instanceof Deno.errors.ConnectionRefused;
        if (!refused) this.log(`connect to ${flow.target} failed: ${errorText(e)}`);
        const code = unreachableCode(e);
        if (code !== null) {
          this.core.unreachable?.(
            flow.guestAddr,
            flow.guestPort,
            flow.farAddr,
            flow.farPort,
            flow.tcb.irs,
            code,
          );
        }
        flow.tcb.refuseSyn(refused ? "refused" : "unreachable");
      },
    );
  }

  #connectTimedOut(flow: Flow): void {
    flow.connectDeadline = Infinity;
    if (flow.connectAbort !== null) {
      flow.connectAbort.abort();
      flow.connectAbort = null;
    }
    if (flow.tcb.state === TcpState.SynPending) {
      this.stats.connectsFailed++;
      flow.tcb.refuseSyn("connect timeout");
    }
  }

  /** Where an outbound connection to `dst:port` goes; null to refuse. */
  #resolve(dst: Uint8Array, port: number): HostTarget | null {
    const hook = this.#opts.mapOutbound?.({ addr: dst, port });
    if (hook !== undefined) return hook;
    const v6 = dst.length === 16;
    if (ipEqual(dst, v6 ? this.#gw6 : this.#gw4)) {
      if (this.#opts.hostLoopback === false) return null;
      return { hostname: v6 ? LOOP6 : LOOP4, port };
    }
    if (inPrefix(dst, v6 ? this.#net6 : this.#net4)) return null;
    if (isLoopback(dst)) return null;
    return { hostname: formatIp(dst), port };
  }

  /** A RST for a segment that belongs to no connection (reset.ts). */
  #resetFor(src: Uint8Array, dst: Uint8Array, r: TcpRepr): void {
    const b = this.#rst;
    if (writeResetFor(b, src, dst, r) === 0) return;
    this.stats.rstOut++;
    this.stats.segmentsOut++;
    this.core.sendSegment(dst, src, b);
  }

  // ------------------------------------------------------------ inbound

  /**
   * The address the guest sees for a host client at `a` (borrowed: copied
   * when kept), and in `#clientPort` the port.
   */
  #clientEndpoint(
    a: Uint8Array | null,
    peerPort: number,
    v6: boolean,
    guestAddr: Uint8Array,
    guestPort: number,
  ): Uint8Array {
    if (a !== null) a = v4Mapped(a) ?? a;
    const gw = v6 ? this.#gw6 : this.#gw4;
    const net = v6 ? this.#net6 : this.#net4;
    let addr = gw;
    if (a !== null && a.length === gw.length && !isLoopback(a) && !isNonUnicast(a) && !inPrefix(a, net)) {
      addr = a.slice();
    }
    let port = peerPort;
    // Another flow already uses this tuple (the client's port on two forwards, or gateway-mapped clients):
    // pick a free port on the same address.
    for (let tries = 0; tries < 64; tries++) {
      const existing = this.#lookup(guestAddr, guestPort, addr, port);
      if (existing === null) break;
      if (existing.tcb.state === TcpState.TimeWait) {
        existing.tcb.abort("reused");
        break;
      }
      port = 32768 + Math.floor((this.#random() >>> 0) % 28000);
    }
    this.#clientPort = port;
    return addr;
  }

  /** A client of `fwd` at `addr` (borrowed; null when unknown) becomes a flow whose SYN goes to the guest. */
  #accepted(fwd: Forward, conn: HostConn, peerAddr: Uint8Array | null, peerPort: number): void {
    if (this.#closed || fwd.closed) {
      conn.close();
      return;
    }
    fwd.accepted++;
    const share = this.#maxConnections >> 1;
    // Their TIME-WAIT flows give way first: short connections one after another (a health check, a load
    // test) left one each for 10 s, and those alone held the share.
    if (this.#inbound >= share && !this.#forwardTimeWaitGone()) {
      this.stats.synDropped++;
      this.log(
        `forward ${fwd.hostAddr}:${fwd.hostPort}: forwards' clients hold ${share} connections, the most they ` +
          `may (half of ${this.#maxConnections}, the rest kept for the guest's own): new clients are closed`,
      );
      conn.close();
      return;
    }
    if (!this.#admit(FLOW_IN)) {
      this.stats.synDropped++;
      conn.close();
      return;
    }
    const addr = this.#clientEndpoint(peerAddr, peerPort, fwd.v6, fwd.guestAddr, fwd.guestPort);
    const port = this.#clientPort;
    const flow = new Flow(
      this,
      FLOW_IN,
      fwd.guestAddr,
      fwd.guestPort,
      addr,
      port,
      this.#iss(fwd.guestAddr, fwd.guestPort, addr, port),
    );
    flow.host = conn;
    this.#insert(flow);
    this.#addHalfOpen(flow);
    this.stats.acceptsIn++;
    flow.tcb.connect();
  }

  async #acceptLoop(fwd: Forward): Promise<void> {
    while (!fwd.closed) {
      let got: { conn: HostConn; remote: HostPeer };
      try {
        got = await fwd.listener.accept();
      } catch (e) {
        if (fwd.closed) return;
        this.log(`accept on ${fwd.hostAddr}:${fwd.hostPort} failed: ${errorText(e)}`);
        if (e instanceof Deno.errors.BadResource) return;
        // Out of descriptors the client stays queued: tried again at once, the loop would spin.
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      const peer = got.remote;
      let a: Uint8Array | null = peer.addr ?? null;
      if (a === null) {
        const parsed = parseIpText(peer.hostname);
        a = parsed.ok ? parsed.value : null;
      }
      this.#accepted(fwd, got.conn, a, peer.port);
    }
  }

  addForward(spec: TcpForwardSpec): Promise<TcpForwardInfo> {
    // A forward just removed may still hold its port for a turn (host.ts):
    // one added in its place (a guest port changed live) waits for it.
    if (this.#releasing !== null) return this.#releasing.then(() => this.#addForward(spec));
    try {
      return Promise.resolve(this.#addForward(spec));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #addForward(spec: TcpForwardSpec): TcpForwardInfo {
    if (this.#closed) throw new Error("The TCP engine is closed");
    const guestParsed = typeof spec.guestAddr === "string" ? parseIpText(spec.guestAddr) : null;
    const guestAddr = guestParsed === null
      ? spec.guestAddr as Uint8Array
      : guestParsed.ok
      ? guestParsed.value
      : null;
    if (guestAddr === null || (guestAddr.length !== 4 && guestAddr.length !== 16)) {
      throw new Error(`Guest address ${String(spec.guestAddr)} is not an IP address`);
    }
    const v6 = spec.v6 ?? guestAddr.length === 16;
    if ((guestAddr.length === 16) !== v6) {
      throw new Error(`Guest address ${formatIp(guestAddr)} is not ${v6 ? "IPv6" : "IPv4"}`);
    }
    const net = v6 ? this.#net6 : this.#net4;
    if (!inPrefix(guestAddr, net)) {
      throw new Error(
        `Guest address ${formatIp(guestAddr)} is outside the guest network ${
          formatIp(net.addr)
        }/${net.length}`,
      );
    }
    checkPort(spec.guestPort, "Guest port", false);
    checkPort(spec.hostPort, "Host port", true);
    const hostAddr = spec.hostAddr ?? (v6 ? "::" : "0.0.0.0");
    const hostBytes = parseIpText(hostAddr);
    if (!hostBytes.ok) throw new Error(`Host address ${hostAddr} is not an IP address`);
    const hostText = formatIp(hostBytes.value);
    const key = forwardKey(hostText, spec.hostPort);
    if (spec.hostPort !== 0 && this.#forwards.has(key)) {
      throw new Error(`A TCP forward from ${hostText} port ${spec.hostPort} already exists`);
    }
    let listener: HostListener;
    try {
      listener = this.#hostNet.listen(hostText, spec.hostPort);
    } catch (e) {
      throw new Error(
        forwardListenFailure("tcp", hostText, spec.hostPort, `${formatIp(guestAddr)}:${spec.guestPort}`, e) ??
          `Cannot listen on ${hostText} port ${spec.hostPort}: ${errorText(e)}`,
      );
    }
    const fwd: Forward = {
      key: forwardKey(hostText, listener.port),
      hostAddr: hostText,
      hostPort: listener.port,
      guestAddr: guestAddr.slice(),
      guestPort: spec.guestPort,
      v6,
      listener,
      accepted: 0,
      closed: false,
    };
    this.#forwards.set(fwd.key, fwd);
    if (listener.watch !== undefined) {
      // Clients come from the poller's round: their SYNs leave with the round's frames.
      listener.watch(
        (conn, addr, port) => this.#accepted(fwd, conn, addr, port),
        (e) => this.log(`accept on ${fwd.hostAddr}:${fwd.hostPort} failed: ${errorText(e)}`),
      );
    } else void this.#acceptLoop(fwd);
    return forwardInfo(fwd);
  }

  removeForward(spec: { hostAddr?: string; hostPort: number; v6?: boolean }): boolean {
    let hostText: string | null = null;
    if (spec.hostAddr !== undefined) {
      const b = parseIpText(spec.hostAddr);
      if (!b.ok) return false;
      hostText = formatIp(b.value);
    }
    for (const fwd of this.#forwards.values()) {
      if (fwd.hostPort !== spec.hostPort) continue;
      if (hostText !== null && fwd.hostAddr !== hostText) continue;
      if (hostText === null && spec.v6 !== undefined && fwd.v6 !== spec.v6) continue;
      fwd.closed = true;
      const released = fwd.listener.close();
      if (released !== undefined) {
        const all: Promise<void> = Promise.all([this.#releasing, released]).then(() => {
          if (this.#releasing === all) this.#releasing = null;
        });
        this.#releasing = all;
      }
      this.#forwards.delete(fwd.key);
      return true;
    }
    return false;
  }

  listForwards(): TcpForwardInfo[] {
    return [...this.#forwards.values()].map(forwardInfo);
  }
}

function forwardKey(host: string, port: number): string {
  return `${host}|${port}`;
}

function forwardInfo(f: Forward): TcpForwardInfo {
  return {
    hostAddr: f.hostAddr,
    hostPort: f.hostPort,
    guestAddr: formatIp(f.guestAddr),
    guestPort: f.guestPort,
    v6: f.v6,
    accepted: f.accepted,
  };
}

function checkPort(p: number, what: string, zeroOk: boolean): void {
  if (!Number.isInteger(p) || p < (zeroOk ? 0 : 1) || p > 65535) {
    throw new Error(`${what} ${p} is not a port number (${zeroOk ? 0 : 1}-65535)`);
  }
}

/** FNV-1a over the four-tuple. */
function tupleHash(ga: Uint8Array, gp: number, fa: Uint8Array, fp: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ga.length; i++) h = Math.imul(h ^ ga[i]!, 0x01000193);
  for (let i = 0; i < fa.length; i++) h = Math.imul(h ^ fa[i]!, 0x01000193);
  h = Math.imul(h ^ (gp & 0xff), 0x01000193);
  h = Math.imul(h ^ (gp >> 8), 0x01000193);
  h = Math.imul(h ^ (fp & 0xff), 0x01000193);
  h = Math.imul(h ^ (fp >> 8), 0x01000193);
  return h >>> 0;
}

function toAddr(v: Uint8Array | string | undefined, len: number): Uint8Array | null {
  if (v === undefined) return null;
  const p = typeof v === "string" ? parseIpText(v) : null;
  const a = p === null ? v as Uint8Array : p.ok ? p.value : null;
  if (a === null || a.length !== len) {
    throw new Error(`Gateway address ${String(v)} is not an IPv${len === 4 ? 4 : 6} address`);
  }
  return a;
}

function toPrefix(v: IpPrefix | string | undefined): IpPrefix | null {
  if (v === undefined) return null;
  if (typeof v !== "string") return v;
  const p = parsePrefixText(v);
  if (!p.ok) throw new Error(`Network ${v} is not an address prefix`);
  return p.value;
}

function fmtEndpoint(a: Uint8Array, port: number): string {
  return a.length === 16 ? `[${formatIp(a)}]:${port}` : `${formatIp(a)}:${port}`;
}

function isResetError(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted || e instanceof Deno.errors.NotConnected;
}

/** "net" or "host" when a connect failed for want of a route (ENETUNREACH, EHOSTUNREACH), else null. */
function unreachableCode(e: unknown): "net" | "host" | null {
  const code = (e as { code?: unknown }).code;
  return code === "ENETUNREACH" ? "net" : code === "EHOSTUNREACH" ? "host" : null;
}

/** How long a forward's accept loop waits after a failed accept (out of descriptors) before the next. */
const ACCEPT_RETRY_MS = 100;

/** `e`'s message, and what to do when it is a spent open-file limit. */
function errorText(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const advice = descriptorAdvice(e, "the slirp", "1 a connection");
  return advice === undefined ? message : `${message}: ${advice}`;
}

function cryptoRandom32(): () => number {
  const pool = new Uint32Array(64);
  let i = pool.length;
  return () => {
    if (i >= pool.length) {
      crypto.getRandomValues(pool);
      i = 0;
    }
    return pool[i++]!;
  };
}
