/**
 * A non-blocking IP datagram (UDP) socket on a raw fd, the sibling of
 * unix_dgram.ts: udp://, vxlan:// and vxvde:// run on it.
 *
 * Theory of operation: UDP sockets are raw non-blocking fds in the shared
 * poller's epoll set, like the switch's unix datagram ports: Deno's own UDP
 * API needs --unstable-net, has no connect() and no multicast options. When
 * readable, a socket is drained with `recvmmsg` (64 datagrams per call, with
 * their source addresses) into one process-wide arena, and each datagram is
 * handed out as a borrowed view. Sends are synchronous and never block; a
 * full socket buffer is the caller's counted drop (the errno is returned).
 */
import { C, check, direct, errno, libc } from "../../ffi/libc.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { type IpAddress, parseIpText } from "../wire/ip_address.ts";
import { RecvArena } from "./mmsg.ts";
import { encodeSockaddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { setSocketBuffer } from "./socket_buffers.ts";

/** Datagrams per recvmmsg call. */
const BATCH = 64;
/** Slot size: a frame plus an 8-byte VXLAN header plus one, so oversize shows as MSG_TRUNC. */
const SLOT = VDE_MAX_FRAME + 8 + 8;

let arena: RecvArena | null = null;

/** Called once per received datagram; both views are valid only during the call. */
export type InetDatagramHandler = (datagram: Uint8Array, source: Uint8Array) => void;

/** A non-blocking UDP socket (IPv4 or IPv6) on a raw fd. */
export class InetDgramSocket {
  #fd: number;
  readonly family: 4 | 6;
  /** Datagrams dropped because they were larger than a slot. */
  oversize = 0;

  private constructor(fd: number, family: 4 | 6) {
    this.#fd = fd;
    this.family = family;
  }

  /** Creates an unbound socket of `family`. */
  static create(family: 4 | 6): InetDgramSocket {
    const af = family === 4 ? C.AF_INET : C.AF_INET6;
    const fd = check("socket", libc().socket(af, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0));
    return new InetDgramSocket(fd, family);
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
    this.#setInt(C.SOL_SOCKET, C.SO_REUSEADDR, 1);
  }

  /** IPV6_V6ONLY, so an IPv6 socket does not also take IPv4. */
  v6Only(): void {
    if (this.family === 6) this.#setInt(C.IPPROTO_IPV6, C.IPV6_V6ONLY, 1);
  }

  /** Binds to `addr`:`port`; throws SysError. */
  bind(addr: IpAddress, port: number): void {
    const sa = encodeSockaddr(addr, port);
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

  /**
   * Asks for a receive buffer of `bytes` (best effort): beyond
   * net.core.rmem_max with CAP_NET_ADMIN, up to it without.
   */
  setReceiveBuffer(bytes: number): void {
    setSocketBuffer(this.#fd, "receive", bytes);
  }

  /** Sets the multicast TTL (hop limit) of what this socket sends. */
  multicastTtl(ttl: number): void {
    if (this.family === 4) this.#setInt(C.IPPROTO_IP, C.IP_MULTICAST_TTL, ttl);
    else this.#setInt(C.IPPROTO_IPV6, C.IPV6_MULTICAST_HOPS, ttl);
  }

  /** Whether this host's own multicast sends come back to its sockets. */
  multicastLoop(on: boolean): void {
    if (this.family === 4) this.#setInt(C.IPPROTO_IP, C.IP_MULTICAST_LOOP, on ? 1 : 0);
    else this.#setInt(C.IPPROTO_IPV6, C.IPV6_MULTICAST_LOOP, on ? 1 : 0);
  }

  /** Sends multicast out of interface `ifindex`. */
  multicastInterface(ifindex: number): void {
    if (this.family === 6) {
      this.#setInt(C.IPPROTO_IPV6, C.IPV6_MULTICAST_IF, ifindex);
      return;
    }
    const mreqn = new Uint8Array(12);
    new DataView(mreqn.buffer).setInt32(8, ifindex, true);
    check("setsockopt", libc().setsockopt(this.#fd, C.IPPROTO_IP, C.IP_MULTICAST_IF, mreqn, 12));
  }

  /** Joins multicast `group` (on `ifindex`, or the interface routing picks when 0). */
  joinGroup(group: IpAddress, ifindex = 0): void {
    this.#membership(group, ifindex, true);
  }

  /** Leaves multicast `group`, joined on `ifindex`. */
  leaveGroup(group: IpAddress, ifindex = 0): void {
    this.#membership(group, ifindex, false);
  }

  #membership(group: IpAddress, ifindex: number, join: boolean): void {
    if (this.family === 4) {
      const mreqn = new Uint8Array(12);
      mreqn.set(group, 0);
      new DataView(mreqn.buffer).setInt32(8, ifindex, true);
      const [name, opt] = join
        ? ["IP_ADD_MEMBERSHIP", C.IP_ADD_MEMBERSHIP]
        : ["IP_DROP_MEMBERSHIP", C.IP_DROP_MEMBERSHIP];
      check(name, libc().setsockopt(this.#fd, C.IPPROTO_IP, opt, mreqn, 12));
    } else {
      const mreq = new Uint8Array(20);
      mreq.set(group, 0);
      new DataView(mreq.buffer).setUint32(16, ifindex, true);
      const [name, opt] = join
        ? ["IPV6_ADD_MEMBERSHIP", C.IPV6_ADD_MEMBERSHIP]
        : ["IPV6_DROP_MEMBERSHIP", C.IPV6_DROP_MEMBERSHIP];
      check(name, libc().setsockopt(this.#fd, C.IPPROTO_IPV6, opt, mreq, 20));
    }
  }

  /** Sends on a connected socket; 0 or the errno. */
  send(buf: Uint8Array): number {
    // Per datagram: libc's syscall, not glibc's wrapper, a cancellation point (ffi/libc.ts `direct`).
    const n = direct.send(this.#fd, buf, buf.length, C.MSG_DONTWAIT | C.MSG_NOSIGNAL);
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
  recvBatch(onDatagram: InetDatagramHandler): number {
    const a = arena ??= new RecvArena(BATCH, SLOT, SOCKADDR_MAX);
    const n = direct.recvmmsg(this.#fd, a.mmsg, BATCH, C.MSG_DONTWAIT);
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
  const literal = parseIpText(host);
  if (literal.ok) return literal.value;
  const { lookup } = await import("node:dns/promises");
  try {
    const r = await lookup(host, family === undefined ? {} : { family });
    const a = parseIpText(r.address);
    if (a.ok) return a.value;
  } catch { /* reported below */ }
  throw new Error(`cannot resolve "${host}"`);
}
