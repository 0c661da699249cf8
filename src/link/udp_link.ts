/**
 * `udp://[SRC:]SRCPORT->DST:DSTPORT`: raw frames in UDP datagrams, wire
 * compatible with vdeplug4's udp plugin (spec 3.6), and the non-blocking UDP
 * socket that vxlan:// and vxvde:// share.
 *
 * Theory of operation (the socket): UDP sockets are raw non-blocking fds in
 * the shared poller's epoll set, like the switch's unix datagram ports:
 * Deno's own UDP API needs --unstable-net, has no connect() and no multicast
 * options. When readable, a socket is drained with `recvmmsg` (64 datagrams
 * per call, with their source addresses) into one process-wide arena, and
 * each datagram is handed out as a borrowed view. Sends are synchronous and
 * never block; a full socket buffer is a counted drop.
 *
 * The udp:// link (as vdeplug4): the socket is bound to SRC:SRCPORT and
 * starts unconnected, taking datagrams from anyone; the first send connects
 * it to DST, after which the kernel only passes DST's datagrams. A
 * zero-length datagram disconnects it again. Each datagram is one frame,
 * with no header.
 */
import { C, check, errno, libc } from "../../ffi/libc.ts";
import { RecvArena } from "../io/mmsg.ts";
import { poller } from "../io/poller.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import {
  anyAddress,
  buildSockaddr,
  formatIp,
  type IpAddress,
  parseIp,
  SOCKADDR_MAX,
  splitHostPort,
} from "../wire/cable_inet.ts";
import { BaseLink, logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";

/** Socket option constants for UDP and multicast (Linux). */
const SO = {
  IPPROTO_IP: 0,
  IPPROTO_IPV6: 41,
  SO_REUSEADDR: 2,
  IP_MULTICAST_IF: 32,
  IP_MULTICAST_TTL: 33,
  IP_MULTICAST_LOOP: 34,
  IP_ADD_MEMBERSHIP: 35,
  IPV6_MULTICAST_IF: 17,
  IPV6_MULTICAST_HOPS: 18,
  IPV6_MULTICAST_LOOP: 19,
  IPV6_ADD_MEMBERSHIP: 20,
  IPV6_V6ONLY: 26,
  EDESTADDRREQ: 89,
} as const;

/** Datagrams per recvmmsg call. */
const BATCH = 64;
/** Slot size: a frame plus an 8-byte VXLAN header plus one, so oversize shows as MSG_TRUNC. */
const SLOT = VDE_MAX_FRAME + 8 + 8;

let arena: RecvArena | null = null;

/** Called once per received datagram; both views are valid only during the call. */
export type DatagramHandler = (datagram: Uint8Array, source: Uint8Array) => void;

/** A non-blocking UDP socket (IPv4 or IPv6) on a raw fd. */
export class UdpSocket {
  #fd: number;
  readonly family: 4 | 6;
  /** Datagrams dropped because they were larger than a slot. */
  oversize = 0;

  private constructor(fd: number, family: 4 | 6) {
    this.#fd = fd;
    this.family = family;
  }

  /** Creates an unbound socket of `family`. */
  static create(family: 4 | 6): UdpSocket {
    const af = family === 4 ? C.AF_INET : C.AF_INET6;
    const fd = check("socket", libc().socket(af, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0));
    return new UdpSocket(fd, family);
  }

  /** The fd, or -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  #setInt(level: number, name: number, value: number): void {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setInt32(0, value, true);
    check("setsockopt", libc().setsockopt(this.#fd, level, name, v, 4));
  }

  /** SO_REUSEADDR: several sockets (processes) may bind one multicast group and port. */
  reuseAddress(): void {
    this.#setInt(C.SOL_SOCKET, SO.SO_REUSEADDR, 1);
  }

  /** IPV6_V6ONLY, so an IPv6 socket does not also take IPv4. */
  v6Only(): void {
    if (this.family === 6) this.#setInt(SO.IPPROTO_IPV6, SO.IPV6_V6ONLY, 1);
  }

  /** Binds to `addr`:`port`; throws SysError. */
  bind(addr: IpAddress, port: number): void {
    const sa = buildSockaddr(addr, port);
    check("bind", libc().bind(this.#fd, sa, sa.length));
  }

  /** Connects to `sockaddr`, so sends need no address and only it may send to us. */
  connect(sockaddr: Uint8Array<ArrayBuffer>): void {
    check("connect", libc().connect(this.#fd, sockaddr, sockaddr.length));
  }

  /** Dissolves a connect(): datagrams from anyone are taken again. */
  disconnect(): void {
    const unspec = new Uint8Array(16); // family AF_UNSPEC (0)
    libc().connect(this.#fd, unspec, unspec.length);
  }

  /** The local port (after bind, or after the first send picked one). */
  localPort(): number {
    const sa = new Uint8Array(SOCKADDR_MAX);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, SOCKADDR_MAX, true);
    check("getsockname", libc().getsockname(this.#fd, sa, len));
    return (sa[2]! << 8) | sa[3]!;
  }

  /** Asks for a receive buffer of `bytes` (best effort). */
  setReceiveBuffer(bytes: number): void {
    try {
      this.#setInt(C.SOL_SOCKET, C.SO_RCVBUF, bytes);
    } catch { /* keep the default */ }
  }

  /** Sets the multicast TTL (hop limit) of what this socket sends. */
  multicastTtl(ttl: number): void {
    if (this.family === 4) this.#setInt(SO.IPPROTO_IP, SO.IP_MULTICAST_TTL, ttl);
    else this.#setInt(SO.IPPROTO_IPV6, SO.IPV6_MULTICAST_HOPS, ttl);
  }

  /** Whether this host's own multicast sends come back to its sockets. */
  multicastLoop(on: boolean): void {
    if (this.family === 4) this.#setInt(SO.IPPROTO_IP, SO.IP_MULTICAST_LOOP, on ? 1 : 0);
    else this.#setInt(SO.IPPROTO_IPV6, SO.IPV6_MULTICAST_LOOP, on ? 1 : 0);
  }

  /** Sends multicast out of interface `ifindex`. */
  multicastInterface(ifindex: number): void {
    if (this.family === 6) {
      this.#setInt(SO.IPPROTO_IPV6, SO.IPV6_MULTICAST_IF, ifindex);
      return;
    }
    const mreqn = new Uint8Array(12);
    new DataView(mreqn.buffer).setInt32(8, ifindex, true);
    check("setsockopt", libc().setsockopt(this.#fd, SO.IPPROTO_IP, SO.IP_MULTICAST_IF, mreqn, 12));
  }

  /** Joins multicast `group` (on `ifindex`, or the interface routing picks when 0). */
  joinGroup(group: IpAddress, ifindex = 0): void {
    if (this.family === 4) {
      const mreqn = new Uint8Array(12);
      mreqn.set(group.bytes, 0);
      new DataView(mreqn.buffer).setInt32(8, ifindex, true);
      check("IP_ADD_MEMBERSHIP", libc().setsockopt(this.#fd, SO.IPPROTO_IP, SO.IP_ADD_MEMBERSHIP, mreqn, 12));
    } else {
      const mreq = new Uint8Array(20);
      mreq.set(group.bytes, 0);
      new DataView(mreq.buffer).setUint32(16, ifindex, true);
      check(
        "IPV6_ADD_MEMBERSHIP",
        libc().setsockopt(this.#fd, SO.IPPROTO_IPV6, SO.IPV6_ADD_MEMBERSHIP, mreq, 20),
      );
    }
  }

  /** Sends on a connected socket; 0 or the errno. */
  send(buf: Uint8Array): number {
    const n = libc().send(this.#fd, buf, buf.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
    return n < 0 ? errno() : 0;
  }

  /** Sends to `sockaddr`; 0 or the errno. */
  sendTo(buf: Uint8Array, sockaddr: Uint8Array): number {
    const n = libc().sendto(
      this.#fd,
      buf as Uint8Array<ArrayBuffer>,
      buf.length,
      C.MSG_DONTWAIT | C.MSG_NOSIGNAL,
      sockaddr as Uint8Array<ArrayBuffer>,
      sockaddr.length,
    );
    return n < 0 ? errno() : 0;
  }

  /**
   * Receives up to one batch and calls `onDatagram` for each (oversize ones
   * are counted and skipped). Returns how many were read, 0 when none was
   * waiting, or -errno on an error that is not about an earlier send.
   */
  recvBatch(onDatagram: DatagramHandler): number {
    const a = arena ??= new RecvArena(BATCH, SLOT, SOCKADDR_MAX);
    const n = libc().recvmmsg(this.#fd, a.mmsg, BATCH, C.MSG_DONTWAIT, null);
    if (n < 0) {
      const e = errno();
      // ECONNREFUSED: an ICMP error for an earlier send on a connected socket.
      return e === C.EAGAIN || e === C.EINTR || e === C.ECONNREFUSED ? 0 : -e;
    }
    for (let i = 0; i < n; i++) {
      const len = a.length(i);
      const nameLen = a.takeNameLength(i);
      if (a.truncated(i) || len > SLOT - 8) {
        this.oversize++;
        continue;
      }
      onDatagram(a.slots[i]!.subarray(0, len), a.nameSlots[i]!.subarray(0, nameLen));
    }
    return n;
  }

  /** Closes the fd. */
  close(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }
}

/** The index of interface `name`; throws when there is none. */
export function interfaceIndex(name: string): number {
  const c = new TextEncoder().encode(`${name}\0`);
  const i = libc().if_nametoindex(c);
  if (i === 0) throw new Error(`no network interface "${name}"`);
  return i;
}

/**
 * Resolves `host` to an address: a literal as is, otherwise through the
 * system resolver (getaddrinfo, so /etc/hosts counts), preferring `family`.
 */
export async function resolveHost(host: string, family?: 4 | 6): Promise<IpAddress> {
  const literal = parseIp(host);
  if (literal !== null) return literal;
  const { lookup } = await import("node:dns/promises");
  try {
    const r = await lookup(host, family === undefined ? {} : { family });
    const a = parseIp(r.address);
    if (a !== null) return a;
  } catch { /* reported below */ }
  throw new Error(`cannot resolve "${host}"`);
}

/** A parsed udp:// VNL. */
export interface UdpVnl {
  srcHost: string;
  srcPort: number;
  dstHost: string;
  dstPort: number;
}

/** Parses `[SRC:]SRCPORT->DST:DSTPORT`; throws with a one-line reason. */
export function parseUdpVnl(rest: string): UdpVnl {
  const arrow = rest.indexOf("->");
  if (arrow < 0) throw new Error(`udp:// needs [SRC:]SRCPORT->DST:DSTPORT, got "${rest}"`);
  const left = rest.slice(0, arrow);
  const right = rest.slice(arrow + 2).replace(/\/+$/, "");
  let srcHost = "";
  let srcPort: number;
  if (/^\d{1,5}$/.test(left)) {
    srcPort = Number(left);
  } else {
    const s = splitHostPort(left);
    if (s === null) throw new Error(`udp:// source must be [ADDR:]PORT, got "${left}"`);
    srcHost = s.host;
    srcPort = s.port;
  }
  const d = splitHostPort(right);
  if (d === null || d.host === "") throw new Error(`udp:// destination must be ADDR:PORT, got "${right}"`);
  if (srcPort > 65535) throw new Error(`udp:// source port ${srcPort} is out of range`);
  return { srcHost, srcPort, dstHost: d.host, dstPort: d.port };
}

/** A point-to-point cable of raw frames over UDP, as vdeplug4's udp://. */
export class UdpLink extends BaseLink {
  readonly socket: UdpSocket;
  readonly #dst: Uint8Array<ArrayBuffer>;
  #connected = false;
  readonly #onDatagram: DatagramHandler;

  constructor(socket: UdpSocket, dst: Uint8Array<ArrayBuffer>, description: string) {
    super(description);
    this.socket = socket;
    this.#dst = dst;
    this.#onDatagram = (d) => {
      if (d.length === 0) {
        // vdeplug4: an empty datagram disconnects, so a restarted peer can send from anywhere.
        if (this.#connected) this.socket.disconnect();
        this.#connected = false;
        return;
      }
      if (d.length > VDE_MAX_FRAME) {
        this.stats.dropsIn++;
        return;
      }
      this.deliver(d);
    };
    poller().add(socket.fd, { onReadable: () => this.#drain() });
  }

  /** Sends one frame, connecting to the destination first if needed. Implements Link.send. */
  send(frame: Uint8Array): void {
    if (this.isClosed || frame.length === 0 || frame.length > VDE_MAX_FRAME) {
      this.stats.dropsOut++;
      return;
    }
    if (!this.#connected) {
      try {
        this.socket.connect(this.#dst);
        this.#connected = true;
      } catch (err) {
        this.stats.dropsOut++;
        logOnce(`udp-connect:${this.description}`, `${this.description}: ${(err as Error).message}`);
        return;
      }
    }
    let e = this.socket.send(frame);
    // A pending ICMP error from an earlier datagram is reported here, and this one was not sent.
    if (e === C.ECONNREFUSED) e = this.socket.send(frame);
    if (e === 0) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      return;
    }
    this.stats.dropsOut++;
    if (e !== C.EAGAIN && e !== C.ENOBUFS && e !== C.ECONNREFUSED) {
      logOnce(`udp-send:${this.description}:${e}`, `${this.description}: send failed: errno ${e}`);
    }
  }

  #drain(): void {
    if (this.isClosed) return;
    const before = this.socket.oversize;
    const n = this.socket.recvBatch(this.#onDatagram);
    this.stats.dropsIn += this.socket.oversize - before;
    if (n < 0) {
      logOnce(`udp-recv:${this.description}:${-n}`, `${this.description}: receive failed: errno ${-n}`);
    }
  }

  protected teardown(): void {
    poller().remove(this.socket.fd);
    this.socket.close();
  }
}

/** Opens a udp:// link. */
export async function openUdpLink(rest: string): Promise<UdpLink> {
  const v = parseUdpVnl(rest);
  const dst = await resolveHost(v.dstHost);
  const src = v.srcHost === "" ? anyAddress(dst.family) : await resolveHost(v.srcHost, dst.family);
  if (src.family !== dst.family) {
    throw new Error("udp:// source and destination are of different IP families");
  }
  const socket = UdpSocket.create(dst.family);
  try {
    socket.bind(src, v.srcPort);
  } catch (err) {
    socket.close();
    throw new Error(`udp:// cannot bind ${formatIp(src)}:${v.srcPort}: ${(err as Error).message}`);
  }
  const dstText = dst.family === 6 ? `[${formatIp(dst)}]:${v.dstPort}` : `${formatIp(dst)}:${v.dstPort}`;
  return new UdpLink(socket, buildSockaddr(dst, v.dstPort), `udp ${v.srcPort}->${dstText}`);
}

registerScheme("udp", openUdpLink);
