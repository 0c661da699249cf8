/**
 * Ping NAT of the slirp stack: the guest's ICMP echo requests to the
 * outside leave through the host's unprivileged ICMP sockets
 * (`net.ipv4.ping_group_range`), the replies come back to the guest.
 *
 * Theory of operation. One ping socket per guest address and echo
 * identifier; the kernel rewrites the identifier to the socket's own, so a
 * reply gets the guest's identifier back before it is sent on. At most
 * `MAX_PING_FLOWS` are open (oldest closed first), each closed after
 * `PING_IDLE_MS` without traffic. Replies arrive with headroom, so the IP
 * and Ethernet headers are written in front of them in place. Echo to the
 * stack's own addresses never comes here: the IP input answers those.
 *
 * An echo request the host could not deliver later on (no neighbour
 * answered, a router's ICMP error) reaches the socket's error queue
 * (IP_RECVERR): the guest gets the matching ICMP error from the gateway,
 * quoting its echo request as it sent it (its identifier put back), as a
 * send that fails at once does.
 */
import { ICMP, writeIcmpv4 } from "../wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6 } from "../wire/icmpv6.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import { IPPROTO, IPV4_HLEN, writeIpv4 } from "../wire/ipv4.ts";
import { readU32, writeU32 } from "../wire/bytes.ts";
import { IPV6_HLEN, writeIpv6Header } from "../wire/ipv6.ts";
import type { HostNet, HostSocket } from "./host_net.ts";
import { type IcmpErrors, problemOf } from "./icmp_errors.ts";
import { hex16, type Iface } from "./iface.ts";
import type { IpOutput } from "./ip_output.ts";

/** ICMP echo flows kept open at once. */
export const MAX_PING_FLOWS = 64;
/** Idle timeout of an ICMP echo flow. */
export const PING_IDLE_MS = 30_000;

interface PingFlow {
  key: string;
  family: 4 | 6;
  guestAddr: Uint8Array;
  guestId: number;
  sock: HostSocket;
  lastUsed: number;
}

/** The ping NAT of one interface. */
export class PingNat {
  readonly #iface: Iface;
  readonly #out: IpOutput;
  readonly #net: HostNet;
  readonly #icmp: IcmpErrors;
  readonly #pings = new Map<string, PingFlow>();

  constructor(iface: Iface, out: IpOutput, net: HostNet, icmp: IcmpErrors) {
    this.#iface = iface;
    this.#out = out;
    this.#net = net;
    this.#icmp = icmp;
  }

  /** Echo flows open now. */
  get flowCount(): number {
    return this.#pings.size;
  }

  /**
   * Sends the echo request `b[off, off+len)` with identifier `id` from the
   * guest address at `guest[guestOff]` to the address at `to[toOff]`.
   *
   * @returns 0, or the errno of a send that failed (the caller tells the guest)
   */
  send(
    family: 4 | 6,
    guest: Uint8Array,
    guestOff: number,
    id: number,
    b: Uint8Array,
    off: number,
    len: number,
    to: Uint8Array,
    toOff: number,
  ): number {
    const flow = this.#flow(family, guest, guestOff, id);
    if (flow === null) return 0;
    const stats = this.#iface.stats;
    stats.icmpEchoOut++;
    const r = flow.sock.sendTo(b, off, len, to, toOff, 0);
    if (r !== 0) stats.icmpDropped++;
    return r;
  }

  #flow(family: 4 | 6, guest: Uint8Array, guestOff: number, id: number): PingFlow | null {
    const iface = this.#iface;
    const alen = family === 4 ? 4 : 16;
    const key = `${family}|${family === 4 ? readU32(guest, guestOff) : hex16(guest, guestOff)}|${id}`;
    const known = this.#pings.get(key);
    if (known !== undefined) {
      known.lastUsed = iface.now();
      return known;
    }
    if (this.#pings.size >= MAX_PING_FLOWS) {
      const oldest = this.#pings.values().next();
      if (!oldest.done) {
        oldest.value.sock.close();
        this.#pings.delete(oldest.value.key);
      }
    }
    const guestAddr = guest.slice(guestOff, guestOff + alen);
    const flow = { key, family, guestAddr, guestId: id, lastUsed: iface.now() } as PingFlow;
    const sock = this.#net.openPing(
      family,
      (buf, off, len, from) => this.#reply(flow, buf, off, len, from),
      (errno, info, dst, _port, payload) => this.#failed(flow, errno, info, dst, payload),
    );
    if (sock === null) {
      iface.stats.icmpDropped++;
      return null;
    }
    flow.sock = sock;
    this.#pings.set(key, flow);
    return flow;
  }

  #reply(flow: PingFlow, b: Uint8Array, off: number, len: number, from: Uint8Array): void {
    const iface = this.#iface;
    if (len < 8 || iface.closed) return;
    flow.lastUsed = iface.now();
    if (flow.family === 4) {
      if (b[off] !== ICMP.ECHO_REPLY) return;
      const seq = (b[off + 6]! << 8) | b[off + 7]!;
      writeIcmpv4(b, off, len, ICMP.ECHO_REPLY, 0, ((flow.guestId << 16) | seq) >>> 0);
      const io = off - IPV4_HLEN;
      const dst = readU32(flow.guestAddr, 0);
      const src = iface.guestView4(readU32(from, 0));
      writeIpv4(b, io, IPV4_HLEN + len, this.#out.nextId(), 0, 64, IPPROTO.ICMP, src, dst);
      this.#out.send4(b, io - ETH_HLEN, ETH_HLEN + IPV4_HLEN + len, dst);
      return;
    }
    if (b[off] !== ICMPV6.ECHO_REPLY) return;
    b[off + 4] = flow.guestId >>> 8;
    b[off + 5] = flow.guestId & 0xff;
    const io = off - IPV6_HLEN;
    writeIpv6Header(b, io, len, IPPROTO.ICMPV6, 64, iface.guestView6(from), flow.guestAddr);
    finishIcmpv6(b, off, len, io + 8, io + 24);
    this.#out.send6(b, io - ETH_HLEN, ETH_HLEN + IPV6_HLEN + len, flow.guestAddr, 0);
  }

  /** The host could not deliver one of the flow's echo requests (`echo`: its ICMP header on): the guest is told. */
  #failed(flow: PingFlow, errno: number, info: number, dst: Uint8Array, echo: Uint8Array): void {
    const iface = this.#iface;
    const problem = problemOf(errno);
    if (problem === null || iface.closed || echo.length < 8) return;
    let far: Uint8Array;
    if (flow.family === 4) {
      far = new Uint8Array(4);
      writeU32(far, 0, iface.guestView4(readU32(dst, 0)));
    } else far = iface.guestView6(dst);
    // The echo's first eight bytes as the guest wrote them: type and code, checksum, its identifier, sequence.
    const seq = (echo[6]! << 8) | echo[7]!;
    const proto = flow.family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6;
    this.#icmp.aboutFlow(
      problem,
      info,
      proto,
      flow.guestAddr,
      (echo[0]! << 8) | echo[1]!,
      far,
      (echo[2]! << 8) | echo[3]!,
      ((flow.guestId << 16) | seq) >>> 0,
      echo.subarray(8),
    );
  }

  /** Closes idle flows. */
  sweep(now: number): void {
    for (const [k, p] of this.#pings) {
      if (now - p.lastUsed >= PING_IDLE_MS) {
        p.sock.close();
        this.#pings.delete(k);
      }
    }
  }

  /** Closes every socket. */
  close(): void {
    for (const p of this.#pings.values()) p.sock.close();
    this.#pings.clear();
  }
}
