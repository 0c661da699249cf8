/**
 * Warms the slirp's connection path (stack, TCP engine, connection state
 * machine) on the thread that will run it, before its first real frame.
 *
 * Theory of operation: V8 runs a function in its interpreter or a baseline
 * tier until it has run often enough to be worth optimizing, and compiles
 * it on helper threads meanwhile. A slirp that serves a burst of
 * connections through a forward pays for both during its first thousands.
 * Measured through a forward after 20,000 pings had warmed the frame path
 * (10 alternating pairs of 3,000 connections on two loaded cores): the
 * slirp thread's CPU per connection 20-25% lower in six pairs, 8-27%
 * higher in four, and the rate higher in seven (medians 2,474 against
 * 2,052 conn/s); 6,000 real connections first had brought it from
 * 118-208 µs to 60-74. So the thread, before it says ready, plays throwaway connections through
 * a twin stack: same classes, same closures (what V8 learns holds for the
 * real stack), but its own objects, and a guest played here frame by
 * frame, so nothing of it reaches the guest or the real stack's counters.
 * Its host side is the one real connections take: a libc listener on a
 * loopback port of its own, real loopback clients made here, the accepted
 * sockets read, written and half-closed by the flows as a forward's are
 * (a host side in memory left LibcConn, the flows' pumps and the accept
 * path to be compiled during the first real connections). Those sockets
 * live in a poller of the warm-up's own, turned here, never in the
 * thread's: a real client is not taken before the stack is linked, and
 * all of the warm-up's fds are closed when it ends (the accepted sockets
 * linger in the kernel's TIME-WAIT, as a forward's own do). Where loopback
 * TCP cannot be had the host side falls back to memory: a listener whose
 * clients are made here and streams that answer at once. Each connection
 * is what a forward sees most: SYN and SYN-ACK, a byte of data with PSH
 * from the guest, its FIN, the host's end of stream, our FIN and the last
 * ACK. Bounded by a count and a time budget; never throws (a failure only
 * means a cold start).
 */
import { defaultConfig, type SlirpConfig } from "./config.ts";
import type { HostNet, HostSocket } from "./host_net.ts";
import { SlirpStack } from "./stack.ts";
import { startTcpEngine } from "./tcp_glue.ts";
import type { HostConn, HostListener, HostNet as TcpHostNet } from "./tcp/host.ts";
import { C, direct, libc } from "../../ffi/libc.ts";
import { Poller, withPoller } from "../io/poller.ts";
import { encodeSockaddrInto, SOCKADDR_MAX } from "../io/sockaddr.ts";
import { libcHostNet } from "./tcp/libc_host.ts";
import { writeIpv4Header } from "../wire/ipv4.ts";
import { buildTcpSegment, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "../wire/tcp.ts";

/** Connections played at most. */
const CONNECTIONS = 6000;
/** Warming stops after this long even if unfinished: a loaded machine delays the start less. */
const BUDGET_MS = 250;

const GUEST = new Uint8Array([10, 0, 2, 15]);
const GUEST_U32 = 0x0a00020f;
const GATEWAY_U32 = 0x0a000202;
const GUEST_MAC = [0x02, 0, 0, 0, 0, 0x15];
const CLIENT = new Uint8Array([127, 0, 0, 1]);
/** A loopback client shows as the gateway to the guest. */
const CLIENT_AS_SEEN = new Uint8Array([10, 0, 2, 2]);
const GUEST_PORT = 80;
/**
 * The guest's sequence numbers and timestamps above 2^31, as a real guest's random ones mostly are:
 * V8 keeps a number field small-integer until a larger value comes, and then changes the shape of
 * every object holding it, which throws away the code compiled for the old shape. With small ones
 * here the first real connections threw most of the warm-up's code away: in the first 1.5 s of
 * connections through a forward, V8 marked 75-102 compiled functions for deoptimization at once and
 * compiled 402-414 times; with these, 7-14 and 331-332.
 */
const GUEST_ISS = 0xc000_0000;
const GUEST_TS = 0xc000_0000;

/** Host datagram sockets that go nowhere (the twin's DNS and UDP never send). */
export const inertNet: HostNet = {
  openUdp(family): HostSocket {
    return { family, localPort: 1, sendTo: () => 0, close() {} };
  },
  openPing: () => null,
};

/** A forward's client in memory: everything written is taken, reads wait for `end`. */
export class MemoryStream implements HostConn {
  #done: ((n: number | null) => void) | null = null;
  #eof = false;
  read(): Promise<number | null> {
    return Promise.resolve(this.#eof ? null : 0);
  }
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
  tryRead(): number | null {
    return this.#eof ? null : -1;
  }
  tryWrite(p: Uint8Array): number {
    return p.length;
  }
  tryCloseWrite(): boolean {
    return true;
  }
  readThen(_p: Uint8Array, done: (n: number | null) => void): void {
    this.#done = done;
  }
  writeThen(p: Uint8Array, done: (n: number) => void): void {
    done(p.length);
  }
  /** A new client again (scripts/conn_engine_rig.ts plays its connections on a few streams). */
  reset(): void {
    this.#done = null;
    this.#eof = false;
  }
  /** The client closed: a waiting read hears the end of stream. */
  end(): void {
    this.#eof = true;
    const done = this.#done;
    this.#done = null;
    done?.(null);
  }
}

/** The one forward's listener: `connect` hands a client over as the libc listener's poller round would. */
export class MemoryListener implements HostListener {
  readonly port = 1;
  #take: ((conn: HostConn, addr: Uint8Array, port: number) => void) | null = null;
  accept(): Promise<never> {
    return new Promise(() => {});
  }
  watch(take: (conn: HostConn, addr: Uint8Array, port: number) => void): void {
    this.#take = take;
  }
  close(): void {
    this.#take = null;
  }
  connect(conn: HostConn, port: number): void {
    this.#take?.(conn, CLIENT, port);
  }
}

/** What a twin sent last: our SYN's and FIN's sequence numbers (for the guest's answers), and its frames. */
export interface TwinSent {
  syn: number;
  fin: number;
  frames: number;
  /** Our SYN's source port: the client's as the guest sees it. */
  port: number;
  /** A SYN or FIN went out since this was last cleared (what a loopback client waits for). */
  heard: boolean;
  /** Our last segment's timestamp (TSval), which the guest echoes. */
  tsVal: number;
}

/**
 * A stack of MTU `mtu` with one forward (host port 1 to the guest's port
 * 80), host sockets in memory (`listener` hands over its clients) and the
 * clock `now`, its forward open and its frames read into `sent`: the twin
 * below, and scripts/conn_engine_rig.ts's stack.
 */
export function forwardTwin(
  mtu: number,
  now: () => number,
  listener: HostListener,
): { stack: SlirpStack; sent: TwinSent } {
  const tcpNet: TcpHostNet = {
    connect: () => Promise.reject(new Error("a twin makes no outbound connections")),
    listen: () => listener,
  };
  const twin: SlirpConfig = {
    ...defaultConfig(),
    mtu,
    dnsUpstream: [],
    forwards: [{
      proto: "tcp",
      family: 4,
      hostAddr: undefined,
      hostPort: 1,
      guestAddr: GUEST,
      guestPort: GUEST_PORT,
    }],
  };
  const stack = new SlirpStack({
    config: twin,
    hostNet: inertNet,
    now,
    log: () => {},
    resolvers: [],
    tcp: (st) => startTcpEngine(st, twin, [], () => GUEST, tcpNet),
  });
  const sent: TwinSent = { syn: 0, fin: -1, frames: 0, port: 0, heard: false, tsVal: 0 };
  stack.attach({
    output(f) {
      sent.frames++;
      // Ethernet, IPv4 without options, TCP.
      if (f.length < 54 || f[23] !== 6) return;
      const seq = ((f[38]! << 24) | (f[39]! << 16) | (f[40]! << 8) | f[41]!) >>> 0;
      // Our timestamp, for the guest's echo: a real guest's ACKs give RTT samples, so the warm-up's must.
      const end = Math.min(f.length, 34 + ((f[46]! >> 4) << 2));
      for (let i = 54; i + 1 < end && f[i] !== 0;) {
        if (f[i] === 1) {
          i++;
          continue;
        }
        if (f[i] === 8 && i + 10 <= end) {
          sent.tsVal = ((f[i + 2]! << 24) | (f[i + 3]! << 16) | (f[i + 4]! << 8) | f[i + 5]!) >>> 0;
        }
        i += Math.max(2, f[i + 1]!);
      }
      if ((f[47]! & TCP_SYN) !== 0) {
        sent.syn = seq;
        sent.port = (f[34]! << 8) | f[35]!;
        sent.heard = true;
      }
      if ((f[47]! & TCP_FIN) !== 0) {
        sent.fin = seq;
        sent.heard = true;
      }
    },
    kick() {},
    congested: () => false,
  });
  // The forward's listener is watched from the call on (the engine adds it synchronously).
  void stack.openTcpForwards().catch(() => {});
  return { stack, sent };
}

/** A forward's clients for the twin: each one connected, then at its end of stream closed. */
interface TwinClients {
  /** A new client connects; the twin's listener has handed it over (false: it did not come). */
  connect(port: number): boolean;
  /** The client reads what it was sent and its end of stream, then closes (the twin hears it). */
  finish(): void;
  /** Closes what is still open. */
  close(): void;
}

/** Clients in memory, handed over by `listener` (where the host has no loopback TCP). */
function memoryClients(listener: MemoryListener): TwinClients {
  let conn = new MemoryStream();
  return {
    connect(port) {
      conn = new MemoryStream();
      listener.connect(conn, port);
      return true;
    },
    finish: () => conn.end(),
    close() {},
  };
}

/** Turns of the warm-up's poller a step waits for loopback's news at most (1 ms each). */
const LOOPBACK_TURNS = 20;

/**
 * Real loopback clients of the twin's libc listener on `port`, turned
 * through `p`: the forward's host side as real connections take it (the
 * listener's accept, a LibcConn, its reads, writes and half-close).
 */
function loopbackClients(p: Poller, port: number, heard: () => boolean): TwinClients {
  const addr = new Uint8Array(SOCKADDR_MAX);
  const len = encodeSockaddrInto(addr, 4, CLIENT, 0, port);
  const sink = new Uint8Array(16);
  let fd = -1;
  /** Turns the poller until `heard` says the twin's news came (loopback is quick, not instant). */
  const turn = () => {
    p.turn(0);
    for (let i = 0; i < LOOPBACK_TURNS && !heard(); i++) p.turn(1);
  };
  return {
    connect() {
      fd = libc().socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
      if (fd < 0) return false;
      // Loopback's handshake is done by the time connect returns (EINPROGRESS or not).
      libc().connect(fd, addr, len);
      turn();
      return heard();
    },
    finish() {
      // Our byte and our FIN, read to the end: a close with unread data would reset, not end.
      for (let i = 0; i < LOOPBACK_TURNS; i++) {
        const n = direct.read(fd, sink, sink.length);
        if (n === 0) break;
        if (n < 0) p.turn(1);
      }
      libc().close(fd);
      fd = -1;
      turn();
    },
    close() {
      if (fd >= 0) libc().close(fd);
      fd = -1;
    },
  };
}

/** What a warm-up did. */
export interface WarmResult {
  played: number;
  host: "loopback" | "memory";
}

/**
 * Plays throwaway connections through a twin of a stack of `config`'s MTU
 * (see the header): its forward's listener a libc one on a loopback port
 * of its own and its clients real loopback sockets, turned through a
 * poller of the warm-up's own (`memory`: both in memory).
 *
 * @returns the connections played (0 when warming failed) and where its host side was
 */
export function warmSlirp(config: SlirpConfig, memory = false): WarmResult {
  const started = performance.now();
  const p = new Poller(true);
  try {
    return withPoller(p, () => play(config, started, p, memory));
  } finally {
    void p.stop();
  }
}

function play(config: SlirpConfig, started: number, p: Poller, memory: boolean): WarmResult {
  let clock = 1000;
  let stack: SlirpStack | null = null;
  let clients: TwinClients | null = null;
  let played = 0;
  try {
    const memoryListener = new MemoryListener();
    let listener: HostListener = memoryListener;
    if (!memory) {
      try {
        listener = libcHostNet.listen("127.0.0.1", 0);
      } catch {
        memory = true;
      }
    }
    const twin = forwardTwin(config.mtu, () => clock, listener);
    const s = stack = twin.stack;
    const sent = twin.sent;
    clients = memory ? memoryClients(memoryListener) : loopbackClients(p, listener.port, () => {
      s.flush();
      return sent.heard;
    });
    const frame = new Uint8Array(14 + 20 + 60 + 1);
    frame.set(s.mac, 0);
    frame.set(GUEST_MAC, 6);
    frame[12] = 0x08;
    const fromGuest = (
      port: number,
      seq: number,
      ack: number,
      flags: number,
      more = {},
      data?: Uint8Array,
    ) => {
      const seg = buildTcpSegment(
        { srcPort: GUEST_PORT, dstPort: port, seq, ack, flags, window: 64240, ...more },
        data,
        GUEST,
        CLIENT_AS_SEEN,
      );
      writeIpv4Header(frame, 14, {
        totalLength: 20 + seg.length,
        protocol: 6,
        src: GUEST_U32,
        dst: GATEWAY_U32,
        id: 1,
      });
      frame.set(seg, 34);
      s.input(frame.subarray(0, 34 + seg.length));
    };
    // The twin learns the guest's MAC from a frame of its own (a RST for nothing: dropped).
    fromGuest(1, 1, 0, TCP_RST);
    const one = new Uint8Array([0x78]);
    for (; played < CONNECTIONS; played++) {
      if ((played & 15) === 0 && performance.now() - started > BUDGET_MS) break;
      sent.fin = -1;
      sent.heard = false;
      if (!clients.connect(10000 + (played % 50000))) break;
      s.flush();
      // The client's port as the guest sees it (our SYN's source).
      const port = sent.port;
      const ack = (sent.syn + 1) >>> 0;
      const ts = (n: number) => ({ tsVal: GUEST_TS + played + n, tsEcr: sent.tsVal });
      clock += 0.05;
      fromGuest(port, GUEST_ISS, ack, TCP_SYN | TCP_ACK, {
        mss: 1460,
        wscale: 7,
        sackPermitted: true,
        ...ts(0),
      });
      s.flush();
      clock += 0.05;
      fromGuest(port, GUEST_ISS + 1, ack, TCP_ACK | TCP_PSH, ts(1), one);
      s.flush();
      fromGuest(port, GUEST_ISS + 2, ack, TCP_ACK | TCP_FIN, ts(1));
      s.flush();
      clock += 0.05;
      sent.heard = false;
      clients.finish();
      s.flush();
      if (sent.fin < 0) break;
      fromGuest(port, GUEST_ISS + 3, (sent.fin + 1) >>> 0, TCP_ACK, ts(2));
      s.flush();
      clock += 0.05;
    }
  } catch {
    played = 0;
  } finally {
    try {
      stack?.close();
      clients?.close();
    } catch { /* a cold start at worst */ }
  }
  return { played, host: memory ? "memory" : "loopback" };
}
