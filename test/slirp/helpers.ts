/**
 * Test support for the slirp stack: a fake host network that records what
 * the stack sends and lets a test answer, frame builders for a guest, and a
 * stack wired to a list of output frames with a fake clock.
 */
import { buildFrame } from "../../src/wire/ethernet.ts";
import { writeIpv4Header } from "../../src/wire/ipv4.ts";
import { writeIpv6Header } from "../../src/wire/ipv6.ts";
import { writeUdp } from "../../src/wire/udp.ts";
import { defaultConfig, type SlirpConfig } from "../../src/slirp/config.ts";
import {
  type DatagramErrorHandler,
  type DatagramHandler,
  HEADROOM,
  type HostNet,
  type HostSocket,
} from "../../src/slirp/host_net.ts";
import { SlirpStack } from "../../src/slirp/stack.ts";

/** One socket of the fake network. */
export class FakeSocket implements HostSocket {
  readonly sent: { data: Uint8Array; addr: Uint8Array; port: number }[] = [];
  closed = false;
  /** The errno every send fails with (0: sends succeed). */
  failWith = 0;
  constructor(
    readonly family: 4 | 6,
    readonly localPort: number,
    readonly onDatagram: DatagramHandler,
    readonly kind: "udp" | "ping",
    readonly bindAddr?: Uint8Array,
    readonly onError?: DatagramErrorHandler,
  ) {}
  sendTo(b: Uint8Array, off: number, len: number, addr: Uint8Array, addrOff: number, port: number): number {
    if (this.failWith !== 0) return this.failWith;
    this.sent.push({
      data: b.slice(off, off + len),
      addr: addr.slice(addrOff, addrOff + (this.family === 4 ? 4 : 16)),
      port,
    });
    return 0;
  }
  /** Delivers a datagram from `from:port` to the stack, with headroom as the real one has. */
  receive(data: Uint8Array, from: number[], port: number): void {
    const buf = new Uint8Array(HEADROOM + data.length);
    buf.set(data, HEADROOM);
    this.onDatagram(buf, HEADROOM, data.length, new Uint8Array(from), port);
  }
  /** Reports an error from the host's error queue for a datagram sent to `to:port`. */
  error(errno: number, info: number, to: number[], port: number, payload: Uint8Array): void {
    this.onError?.(errno, info, new Uint8Array(to), port, payload);
  }
  close(): void {
    this.closed = true;
  }
}

/** A host network that opens fake sockets. */
export class FakeHostNet implements HostNet {
  readonly sockets: FakeSocket[] = [];
  readonly taken = new Set<number>();
  /** Ports an unprivileged process may not bind. */
  readonly denied = new Set<number>();
  #port = 40000;
  /** The errno sends of sockets opened from now on fail with. */
  failWith = 0;
  openUdp(
    family: 4 | 6,
    onDatagram: DatagramHandler,
    bindAddr?: Uint8Array,
    bindPort = 0,
    onError?: DatagramErrorHandler,
  ): HostSocket {
    if (bindPort !== 0 && this.taken.has(bindPort)) {
      throw new Deno.errors.AddrInUse(`UDP port ${bindPort} is already in use on the host`);
    }
    if (this.denied.has(bindPort)) {
      throw new Deno.errors.PermissionDenied(`UDP port ${bindPort} is not allowed`);
    }
    const s = new FakeSocket(family, bindPort || this.#port++, onDatagram, "udp", bindAddr, onError);
    s.failWith = this.failWith;
    this.sockets.push(s);
    return s;
  }
  openPing(family: 4 | 6, onDatagram: DatagramHandler, onError?: DatagramErrorHandler): HostSocket | null {
    const s = new FakeSocket(family, this.#port++, onDatagram, "ping", undefined, onError);
    s.failWith = this.failWith;
    this.sockets.push(s);
    return s;
  }
}

export const GUEST_MAC = "02:00:00:00:00:15";
export const GW_MAC = "52:55:0a:00:02:02";

/** A stack with a fake network and clock; frames out are collected. */
export function testStack(config: Partial<SlirpConfig> = {}, pingAllowed = false) {
  const net = new FakeHostNet();
  const out: Uint8Array[] = [];
  const logs: string[] = [];
  let clock = 1000;
  const stack = new SlirpStack({
    log: (m) => logs.push(m),
    config: {
      ...defaultConfig(),
      dnsUpstream: [{ family: 4, addr: new Uint8Array([127, 0, 0, 1]), port: 5353 }],
      ...config,
    },
    output: (f) => out.push(f.slice()),
    hostNet: net,
    now: () => clock,
    pingAllowed: { 4: pingAllowed, 6: pingAllowed },
  });
  return {
    stack,
    net,
    out,
    logs,
    advance(ms: number) {
      clock += ms;
      stack.poll();
    },
    take(): Uint8Array[] {
      return out.splice(0, out.length);
    },
  };
}

/** An IPv4 UDP frame from the guest. */
export function udp4Frame(
  src: number[],
  sport: number,
  dst: number[],
  dport: number,
  payload: Uint8Array,
  opts: { mac?: string; dstMac?: string } = {},
): Uint8Array {
  const ip = new Uint8Array(28 + payload.length);
  const n = (a: number[]) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
  writeIpv4Header(ip, 0, { totalLength: ip.length, protocol: 17, src: n(src), dst: n(dst), id: 1 });
  ip.set(payload, 28);
  writeUdp(ip, 20, sport, dport, payload.length, 12, 16, 4);
  return buildFrame({ src: opts.mac ?? GUEST_MAC, dst: opts.dstMac ?? GW_MAC, type: 0x0800, payload: ip });
}

/** An IPv6 UDP frame from the guest. */
export function udp6Frame(
  src: Uint8Array,
  sport: number,
  dst: Uint8Array,
  dport: number,
  payload: Uint8Array,
): Uint8Array {
  const ip = new Uint8Array(48 + payload.length);
  writeIpv6Header(ip, 0, 8 + payload.length, 17, 64, src, dst);
  ip.set(payload, 48);
  writeUdp(ip, 40, sport, dport, payload.length, 8, 24, 16);
  return buildFrame({ src: GUEST_MAC, dst: GW_MAC, type: 0x86dd, payload: ip });
}
