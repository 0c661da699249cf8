/**
 * `udp://[SRC:]SRCPORT->DST:DSTPORT`: raw frames in UDP datagrams, wire
 * compatible with vdeplug4's udp plugin (spec 3.6), on io/inet_dgram.ts's
 * socket.
 *
 * The udp:// link (as vdeplug4): the socket is bound to SRC:SRCPORT and
 * starts unconnected, taking datagrams from anyone; the first send connects
 * it to DST, after which the kernel only passes DST's datagrams. A
 * zero-length datagram disconnects it again. Each datagram is one frame,
 * with no header; one shorter than an Ethernet header is counted and dropped.
 */
import { C } from "../../ffi/libc.ts";
import { type InetDatagramHandler, InetDgramSocket, resolveHost } from "../io/inet_dgram.ts";
import { poller } from "../io/poller.ts";
import { isErrno } from "../io/unix_dgram.ts";
import { encodeSockaddr } from "../io/sockaddr.ts";
import { VDE_MAX_FRAME } from "../wire/ethernet.ts";
import {
  anyAddress,
  formatIp,
  formatSocketAddress,
  ipFamily,
  parseHostPortText,
} from "../wire/ip_address.ts";
import { BaseLink, logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";

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
  if (arrow < 0) {
    // `vde plug /tmp/net udp://5000->h:5001` unquoted: the shell took `>h:5001` as a redirection.
    const redirected = rest.endsWith("-")
      ? ` (the shell took ">" for a redirection and wrote a file named after the destination: quote the VNL, 'udp://${rest}>DST:DSTPORT')`
      : "";
    throw new Error(`udp:// needs [SRC:]SRCPORT->DST:DSTPORT, got "${rest}"${redirected}`);
  }
  const left = rest.slice(0, arrow);
  const right = rest.slice(arrow + 2).replace(/\/+$/, "");
  let srcHost = "";
  let srcPort: number;
  if (/^\d{1,5}$/.test(left)) {
    srcPort = Number(left);
  } else {
    const s = parseHostPortText(left);
    if (!s.ok) throw new Error(`udp:// source must be [ADDR:]PORT, got "${left}"`);
    srcHost = s.value.host;
    srcPort = s.value.port;
  }
  const d = parseHostPortText(right);
  if (!d.ok || d.value.host === "") throw new Error(`udp:// destination must be ADDR:PORT, got "${right}"`);
  if (srcPort > 65535) throw new Error(`udp:// source port ${srcPort} is out of range`);
  return { srcHost, srcPort, dstHost: d.value.host, dstPort: d.value.port };
}

/** A point-to-point cable of raw frames over UDP, as vdeplug4's udp://. */
export class UdpLink extends BaseLink {
  readonly kind = "udp" as const;
  readonly socket: InetDgramSocket;
  readonly #dst: Uint8Array<ArrayBuffer>;
  #connected = false;
  readonly #onDatagram: InetDatagramHandler;

  constructor(socket: InetDgramSocket, dst: Uint8Array<ArrayBuffer>, description: string) {
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
      // Anyone may send to the port while it is unconnected: a datagram too short to be a frame is
      // counted and dropped by deliver, as every link drops one.
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
  const family = ipFamily(dst);
  const src = v.srcHost === "" ? anyAddress(family) : await resolveHost(v.srcHost, family);
  if (ipFamily(src) !== family) {
    throw new Error("udp:// source and destination are of different IP families");
  }
  const socket = InetDgramSocket.create(family);
  try {
    socket.bind(src, v.srcPort);
  } catch (err) {
    socket.close();
    // Two ends on one port cannot both work (each would take some of the other's datagrams), as in vdeplug4.
    const why = isErrno(err, C.EADDRINUSE)
      ? "the port is taken on this host (another udp:// end?): each end needs a SRCPORT of its own"
      : (err as Error).message;
    throw new Error(`udp:// cannot bind ${formatIp(src)}:${v.srcPort}: ${why}`);
  }
  const dstText = formatSocketAddress({ addr: dst, port: v.dstPort });
  return new UdpLink(socket, encodeSockaddr(dst, v.dstPort), `udp ${v.srcPort}->${dstText}`);
}

registerScheme("udp", openUdpLink);
