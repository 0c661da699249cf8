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
 * real stack), but its own objects, host sockets in memory (a listener
 * whose clients are made here, streams that answer at once) and a guest
 * played here frame by frame, so nothing of it reaches a real socket, the
 * guest or the real stack's counters. Each connection is what a forward
 * sees most: SYN and SYN-ACK, a byte of data with PSH from the guest, its
 * FIN, the host's end of stream, our FIN and the last ACK. Bounded by a
 * count and a time budget; never throws (a failure only means a cold
 * start).
 */
import { defaultConfig, type SlirpConfig } from "./config.ts";
import type { HostNet, HostSocket } from "./host_net.ts";
import { SlirpStack } from "./stack.ts";
import { startTcpEngine } from "./tcp_glue.ts";
import type { HostConn, HostListener, HostNet as TcpHostNet } from "./tcp/host.ts";
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
  listener: MemoryListener,
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
  const sent: TwinSent = { syn: 0, fin: -1, frames: 0 };
  stack.attach({
    output(f) {
      sent.frames++;
      // Ethernet, IPv4 without options, TCP.
      if (f.length < 54 || f[23] !== 6) return;
      const seq = ((f[38]! << 24) | (f[39]! << 16) | (f[40]! << 8) | f[41]!) >>> 0;
      if ((f[47]! & TCP_SYN) !== 0) sent.syn = seq;
      if ((f[47]! & TCP_FIN) !== 0) sent.fin = seq;
    },
    kick() {},
    congested: () => false,
  });
  // The forward's listener is watched from the call on (the engine adds it synchronously).
  void stack.openTcpForwards().catch(() => {});
  return { stack, sent };
}

/**
 * Plays throwaway connections through a twin of a stack of `config`'s MTU
 * (see the header).
 *
 * @returns the connections played (0 when warming failed)
 */
export function warmSlirp(config: SlirpConfig): number {
  const started = performance.now();
  let clock = 1000;
  const listener = new MemoryListener();
  let stack: SlirpStack | null = null;
  let played = 0;
  try {
    const twin = forwardTwin(config.mtu, () => clock, listener);
    const s = stack = twin.stack;
    const sent = twin.sent;
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
      if ((played & 63) === 0 && performance.now() - started > BUDGET_MS) break;
      const port = 10000 + (played % 50000);
      const conn = new MemoryStream();
      sent.fin = -1;
      listener.connect(conn, port);
      s.flush();
      const ack = (sent.syn + 1) >>> 0;
      const ts = (n: number) => ({ tsVal: GUEST_TS + played + n, tsEcr: 0 });
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
      conn.end();
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
    } catch { /* a cold start at worst */ }
  }
  return played;
}
