/**
 * The slirp stack's host side for datagrams: UDP sockets and unprivileged
 * ICMP echo ("ping") sockets, as non-blocking fds in the shared poller.
 *
 * Theory of operation: every socket is opened non-blocking through libc
 * and registered with `poller()`. When one is readable it is drained with
 * `recvfrom` (up to a batch) into ONE receive buffer shared by all sockets,
 * at a fixed offset that leaves {@link HEADROOM} bytes in front: the stack
 * writes its UDP, IP and Ethernet headers there and sends the frame
 * without copying the payload. The handler must finish with the view
 * before returning. The peer address is decoded into one reused 16-byte
 * array (4 bytes used for IPv4).
 *
 * A UDP socket opened with an error handler also asks for the kernel's
 * error queue (IP_RECVERR): when a destination answers with an ICMP error
 * (port unreachable, host unreachable, fragmentation needed) the socket
 * turns readable with an error, and the queued error is read with
 * MSG_ERRQUEUE: the errno, the MTU for "fragmentation needed", the
 * destination the datagram went to and the start of its payload. Without
 * IP_RECVERR Linux tells unconnected sockets nothing.
 *
 * `HostNet` is an interface so tests and the fuzz run can put a fake (or a
 * guard that refuses every non-loopback target) in its place.
 */
import { addressOf, C, errno, libc, strerror } from "../../ffi/libc.ts";
import { MSG_CONTROL, MSG_CONTROLLEN, RecvArena } from "../io/mmsg.ts";
import { poller } from "../io/poller.ts";
import { encodeSockaddrInto } from "../io/sockaddr.ts";
import { anyAddress, formatSocketAddress } from "../wire/ip_address.ts";

/** Bytes kept free in front of every received payload for the headers the stack adds. */
export const HEADROOM = 96;
/** Largest datagram received (IPv4's limit). */
const MAX_DATAGRAM = 65535;
/** Datagrams read per readiness event before other fds get their turn. */
const RECV_BATCH = 64;

/**
 * Receives one datagram: `buf[off, off+len)` is the payload with
 * `HEADROOM` free bytes before `off`; `from` holds the peer's address (4
 * or 16 bytes used, by `family`). All views are borrowed.
 */
export type DatagramHandler = (
  buf: Uint8Array,
  off: number,
  len: number,
  from: Uint8Array,
  fromPort: number,
) => void;

/**
 * A destination refused or could not take a datagram the socket sent:
 * `errno` (ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EMSGSIZE), `info` (the
 * path MTU for EMSGSIZE), the destination (4 or 16 bytes, borrowed) and the
 * start of the payload that was sent (borrowed).
 */
export type DatagramErrorHandler = (
  errno: number,
  info: number,
  dst: Uint8Array,
  dstPort: number,
  payload: Uint8Array,
) => void;

/** A datagram socket on the host. */
export interface HostSocket {
  readonly family: 4 | 6;
  /** The port the socket is bound to (the ping socket's echo identifier for ICMP). */
  readonly localPort: number;
  /**
   * Sends `b[off, off+len)` to `addr` (4 or 16 bytes at `addrOff`) port `port`.
   *
   * @returns 0 on success, else the errno
   */
  sendTo(b: Uint8Array, off: number, len: number, addr: Uint8Array, addrOff: number, port: number): number;
  close(): void;
}

/** Opens host sockets for the stack. */
export interface HostNet {
  /**
   * Opens a UDP socket bound to `bindAddr` (4 or 16 bytes; wildcard when
   * absent) and `bindPort` (0: any); `onError` hears the errors the
   * socket's destinations answer with.
   *
   * @throws Error with a one-line reason; Deno.errors.AddrInUse when the port is taken
   */
  openUdp(
    family: 4 | 6,
    onDatagram: DatagramHandler,
    bindAddr?: Uint8Array,
    bindPort?: number,
    onError?: DatagramErrorHandler,
  ): HostSocket;
  /**
   * Opens an ICMP echo socket, or null when the host does not allow
   * unprivileged ones; `onError` hears the errors its echo requests meet
   * (`payload` starts at the echo's ICMP header, the kernel's identifier in it).
   */
  openPing(family: 4 | 6, onDatagram: DatagramHandler, onError?: DatagramErrorHandler): HostSocket | null;
}

let rxBuffer: Uint8Array<ArrayBuffer> | null = null;
let rxView: Uint8Array<ArrayBuffer> | null = null;
const fromAddr = new Uint8Array(16);
const nameBuf = new Uint8Array(28);
const nameLen = new Uint8Array(4);
const nameLenView = new DataView(nameLen.buffer);
const sendName = new Uint8Array(28);

class FfiSocket implements HostSocket {
  readonly #fd: number;
  #closed = false;
  readonly localPort: number;

  constructor(
    readonly family: 4 | 6,
    fd: number,
    readonly onDatagram: DatagramHandler,
    readonly onError?: DatagramErrorHandler,
  ) {
    this.#fd = fd;
    nameLenView.setUint32(0, 28, true);
    const r = libc().getsockname(fd, nameBuf, nameLen);
    this.localPort = r === 0 ? (nameBuf[2]! << 8) | nameBuf[3]! : 0;
    poller().add(fd, { onReadable: (events) => this.#drain(events) });
  }

  sendTo(b: Uint8Array, off: number, len: number, addr: Uint8Array, addrOff: number, port: number): number {
    if (this.#closed) return C.EBADF;
    const alen = encodeSockaddrInto(sendName, this.family, addr, addrOff, port);
    const view = off === 0 && len === b.length ? b : b.subarray(off, off + len);
    const n = libc().sendto(this.#fd, view, len, C.MSG_DONTWAIT | C.MSG_NOSIGNAL, sendName, alen);
    return n < 0 ? errno() : 0;
  }

  #drain(events: number): void {
    // The error queue keeps the fd in EPOLLERR until it is read, so read it first.
    if ((events & C.EPOLLERR) !== 0 && this.onError !== undefined) this.#drainErrors();
    if (rxBuffer === null) {
      rxBuffer = new Uint8Array(HEADROOM + MAX_DATAGRAM);
      rxView = rxBuffer.subarray(HEADROOM);
    }
    const c = libc();
    for (let i = 0; i < RECV_BATCH && !this.#closed; i++) {
      nameLenView.setUint32(0, 28, true);
      const n = c.recvfrom(this.#fd, rxView!, MAX_DATAGRAM, C.MSG_DONTWAIT, nameBuf, nameLen);
      if (n < 0) {
        // EAGAIN: drained. Anything else reports an error queued on the socket.
        if (errno() === C.EAGAIN) return;
        if (this.onError !== undefined) this.#drainErrors();
        continue;
      }
      const port = (nameBuf[2]! << 8) | nameBuf[3]!;
      if (this.family === 4) { for (let k = 0; k < 4; k++) fromAddr[k] = nameBuf[4 + k]!; }
      else for (let k = 0; k < 16; k++) fromAddr[k] = nameBuf[8 + k]!;
      try {
        this.onDatagram(rxBuffer!, HEADROOM, n, fromAddr, port);
      } catch (err) {
        console.error(`vde slirp: datagram handler failed: ${err}`);
      }
    }
  }

  /** Reads the socket's error queue, handing each error on. */
  #drainErrors(): void {
    const q = errorQueue();
    for (let i = 0; i < RECV_BATCH && !this.#closed; i++) {
      q.arm();
      if (libc().recvmmsg(this.#fd, q.arena.mmsg, 1, C.MSG_ERRQUEUE | C.MSG_DONTWAIT, null) !== 1) return;
      const e = q.error(this.family);
      if (e === null) continue;
      try {
        this.onError!(e.errno, e.info, e.addr, e.port, q.arena.slots[0]!.subarray(0, q.arena.length(0)));
      } catch (err) {
        console.error(`vde slirp: datagram error handler failed: ${err}`);
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    poller().remove(this.#fd);
    libc().close(this.#fd);
  }
}

function openSocket(family: 4 | 6, protocol: number): number {
  const domain = family === 4 ? C.AF_INET : C.AF_INET6;
  return libc().socket(domain, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, protocol);
}

function describe(family: 4 | 6, addr: Uint8Array | undefined, port: number): string {
  return formatSocketAddress({ addr: addr ?? anyAddress(family), port });
}

/** Bytes of a sent datagram's payload read back with its error. */
const ERROR_PAYLOAD = 1280;
/** struct cmsghdr's size before the data (cmsg_len, cmsg_level, cmsg_type). */
const CMSG_HLEN = 16;

/** One error read back from a socket's error queue. */
interface QueuedError {
  errno: number;
  info: number;
  addr: Uint8Array;
  port: number;
}

/** The arena and control buffer that `recvmmsg(MSG_ERRQUEUE)` fills, shared by every socket. */
class ErrorQueueReader {
  readonly arena = new RecvArena(1, ERROR_PAYLOAD, 28);
  readonly #control = new Uint8Array(128);
  readonly #controlView = new DataView(this.#control.buffer);
  readonly #mmsgView = new DataView(this.arena.mmsg.buffer);
  readonly #addr = new Uint8Array(16);
  readonly #error: QueuedError = { errno: 0, info: 0, addr: this.#addr, port: 0 };

  constructor() {
    this.#mmsgView.setBigUint64(MSG_CONTROL, addressOf(this.#control), true);
  }

  /** Resets the lengths the kernel overwrites. */
  arm(): void {
    this.#mmsgView.setBigUint64(MSG_CONTROLLEN, BigInt(this.#control.length), true);
    this.arena.takeNameLength(0);
  }

  /** The error the last call read: the first IP_RECVERR/IPV6_RECVERR control message. */
  error(family: 4 | 6): QueuedError | null {
    const total = Number(this.#mmsgView.getBigUint64(MSG_CONTROLLEN, true));
    const v = this.#controlView;
    let at = 0;
    while (at + CMSG_HLEN + 16 <= total) {
      const len = Number(v.getBigUint64(at, true));
      if (len < CMSG_HLEN) return null;
      const level = v.getInt32(at + 8, true);
      const type = v.getInt32(at + 12, true);
      const wanted = family === 4
        ? level === C.IPPROTO_IP && type === C.IP_RECVERR
        : level === C.IPPROTO_IPV6 && type === C.IPV6_RECVERR;
      if (wanted) {
        const e = this.#error;
        e.errno = v.getUint32(at + CMSG_HLEN, true);
        e.info = v.getUint32(at + CMSG_HLEN + 8, true);
        const name = this.arena.nameSlots[0]!;
        e.port = (name[2]! << 8) | name[3]!;
        if (family === 4) this.#addr.set(name.subarray(4, 8), 0);
        else this.#addr.set(name.subarray(8, 24), 0);
        return e;
      }
      at += (len + 7) & ~7;
    }
    return null;
  }
}

let errorReader: ErrorQueueReader | null = null;

function errorQueue(): ErrorQueueReader {
  errorReader ??= new ErrorQueueReader();
  return errorReader;
}

/** Asks for the errors a socket's destinations answer with in its error queue (else Linux tells an unconnected socket nothing). */
function recvErrors(fd: number, family: 4 | 6): void {
  const one = new Uint8Array([1, 0, 0, 0]);
  if (family === 4) libc().setsockopt(fd, C.IPPROTO_IP, C.IP_RECVERR, one, 4);
  else libc().setsockopt(fd, C.IPPROTO_IPV6, C.IPV6_RECVERR, one, 4);
}

/** The real host network, through libc. */
export class FfiHostNet implements HostNet {
  openUdp(
    family: 4 | 6,
    onDatagram: DatagramHandler,
    bindAddr?: Uint8Array,
    bindPort = 0,
    onError?: DatagramErrorHandler,
  ): HostSocket {
    const fd = openSocket(family, 0);
    if (fd < 0) throw new Error(`cannot open a UDP socket: ${strerror(errno())}`);
    const c = libc();
    const one = new Uint8Array([1, 0, 0, 0]);
    if (family === 6) c.setsockopt(fd, C.IPPROTO_IPV6, C.IPV6_V6ONLY, one, 4);
    if (onError !== undefined) recvErrors(fd, family);
    if (bindAddr !== undefined || bindPort !== 0) {
      const len = encodeSockaddrInto(sendName, family, bindAddr, 0, bindPort);
      if (c.bind(fd, sendName, len) < 0) {
        const e = errno();
        c.close(fd);
        const where = describe(family, bindAddr, bindPort);
        // Typed, so a forward can say it in the words of a TCP forward's taken or denied port.
        if (e === C.EADDRINUSE) {
          throw new Deno.errors.AddrInUse(`UDP port ${where} is already in use on the host`);
        }
        if (e === C.EACCES) {
          throw new Deno.errors.PermissionDenied(`UDP port ${where} is not allowed on the host`);
        }
        throw new Error(`cannot bind UDP ${where}: ${strerror(e)}`);
      }
    }
    return new FfiSocket(family, fd, onDatagram, onError);
  }

  openPing(family: 4 | 6, onDatagram: DatagramHandler, onError?: DatagramErrorHandler): HostSocket | null {
    const fd = openSocket(family, family === 4 ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6);
    if (fd < 0) return null;
    if (onError !== undefined) recvErrors(fd, family);
    return new FfiSocket(family, fd, onDatagram, onError);
  }
}

/**
 * Whether unprivileged ICMP echo sockets may be opened here
 * (`net.ipv4.ping_group_range` covers one of our groups).
 */
export function pingSocketsAllowed(family: 4 | 6): boolean {
  const fd = openSocket(family, family === 4 ? C.IPPROTO_ICMP : C.IPPROTO_ICMPV6);
  if (fd < 0) return false;
  libc().close(fd);
  return true;
}
