/**
 * ICMP errors towards the guest: destination unreachable (network, host,
 * port), fragmentation needed / packet too big, each quoting the packet it
 * is about so the guest's stack finds the socket to tell.
 *
 * Theory of operation. There are two kinds of trigger. A packet the guest
 * just sent that cannot go on (a host `sendto` failing with ENETUNREACH or
 * EHOSTUNREACH, a packet larger than the MTU with DF set) is quoted as it
 * is (`aboutPacket4`/`aboutPacket6`). An error that arrives later from the
 * host (a UDP datagram refused with port unreachable, seen on the socket's
 * error queue; a TCP connect that failed with "no route") no longer has the
 * guest's packet, so a header is rebuilt from what the flow remembers
 * (addresses, ports, and for TCP the SYN's sequence number): that is all a
 * receiver matches an error on (RFC 5927 section 4).
 *
 * The errors come from the gateway, as libslirp sends them (the stack is
 * the guest's router); IPv6 errors to a link-local guest address come from
 * the gateway's link-local address. Never about an ICMP error, a
 * non-initial fragment, or a packet whose source is not a single guest
 * (RFC 1122 section 3.2.2, RFC 4443 section 2.4 (e)), and at most
 * `MAX_PER_SECOND` a second (RFC 4443 section 2.4 (f) asks for a limit).
 */
import { C } from "../../ffi/libc.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import { ICMP, ICMP_UNREACH, writeIcmpv4Error } from "../wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6, ICMPV6_UNREACH, writeIcmpv6Error } from "../wire/icmpv6.ts";
import { IPPROTO, IPV4_HLEN, writeIpv4 } from "../wire/ipv4.ts";
import { readU32 } from "../wire/bytes.ts";
import { IPV6_HLEN, isIpv6LinkLocal, writeIpv6Header } from "../wire/ipv6.ts";
import type { Iface } from "./iface.ts";
import { type IpFamily, IPV4, IPV6 } from "./ip_family.ts";
import type { IpOutput } from "./ip_output.ts";

/** ICMP errors sent per second at most. */
export const MAX_PER_SECOND = 100;

/** What went wrong, as the guest is told. */
export type IcmpProblem = "net" | "host" | "port" | "too-big";

/** The problem an errno from a host socket stands for, or null when the guest is not told. */
export function problemOf(errno: number): IcmpProblem | null {
  switch (errno) {
    case C.ENETUNREACH:
      return "net";
    case C.EHOSTUNREACH:
      return "host";
    case C.ECONNREFUSED:
      return "port";
    case C.EMSGSIZE:
      return "too-big";
    default:
      return null;
  }
}

const CODE4: Record<IcmpProblem, number> = {
  net: ICMP_UNREACH.NET,
  host: ICMP_UNREACH.HOST,
  port: ICMP_UNREACH.PORT,
  "too-big": ICMP_UNREACH.FRAG_NEEDED,
};

const CODE6: Record<Exclude<IcmpProblem, "too-big">, number> = {
  net: ICMPV6_UNREACH.NO_ROUTE,
  host: ICMPV6_UNREACH.ADDRESS,
  port: ICMPV6_UNREACH.PORT,
};

/** The ICMP error sender of one interface. */
export class IcmpErrors {
  readonly #iface: Iface;
  readonly #out: IpOutput;
  /** Where rebuilt invoking packets are written. */
  readonly #inv = new Uint8Array(IPV6_HLEN + 1280);
  #windowStart = -Infinity;
  #inWindow = 0;

  constructor(iface: Iface, out: IpOutput) {
    this.#iface = iface;
    this.#out = out;
  }

  /**
   * Tells the guest about its IPv4 packet `b[off, off+len)` (header checked
   * by the caller). `mtu` is the next-hop MTU for "too-big".
   */
  aboutPacket4(problem: IcmpProblem, mtu: number, b: Uint8Array, off: number, len: number): void {
    const iface = this.#iface;
    if (len < IPV4_HLEN) return;
    const src = readU32(b, off + 12);
    if (!iface.isGuest4(src)) return;
    // Not about a non-initial fragment, nor about an ICMP message other than an echo request.
    if ((((b[off + 6]! << 8) | b[off + 7]!) & 0x1fff) !== 0) return;
    const ihl = (b[off]! & 0x0f) * 4;
    if (b[off + 9] === IPPROTO.ICMP && (len <= ihl || b[off + ihl] !== ICMP.ECHO_REQUEST)) return;
    if (!this.#allowed()) return;
    const t = this.#out.tx;
    const rest = problem === "too-big" ? mtu : 0;
    const l = writeIcmpv4Error(t, ETH_HLEN + IPV4_HLEN, ICMP.DEST_UNREACH, CODE4[problem], rest, b, off, len);
    if (l !== 0) this.#send(IPV4, l, IPPROTO.ICMP, iface.config.gateway, src);
  }

  /** As `aboutPacket4` for the IPv6 packet `b[off, off+len)`. */
  aboutPacket6(problem: IcmpProblem, mtu: number, b: Uint8Array, off: number, len: number): void {
    const iface = this.#iface;
    if (len < IPV6_HLEN || !iface.isGuest6(b, off + 8)) return;
    if (b[off + 6] === IPPROTO.ICMPV6 && (len <= IPV6_HLEN || b[off + IPV6_HLEN]! < 128)) return;
    if (!this.#allowed()) return;
    const t = this.#out.tx;
    const io = ETH_HLEN + IPV6_HLEN;
    const l = problem === "too-big"
      ? writeIcmpv6Error(t, io, ICMPV6.PACKET_TOO_BIG, 0, mtu, b, off, len)
      : writeIcmpv6Error(t, io, ICMPV6.DEST_UNREACH, CODE6[problem], 0, b, off, len);
    const guest = b.slice(off + 8, off + 24);
    const from = isIpv6LinkLocal(guest, 0) ? iface.linkLocal : iface.config.gateway6;
    this.#send(IPV6, l, IPPROTO.ICMPV6, from, guest);
  }

  /**
   * Puts the IP header in front of the error message `l` bytes long at
   * `tx[ETH_HLEN + hlen]` and sends it. ICMPv6's checksum covers a
   * pseudo-header, so it is finished once the header is there; ICMPv4's
   * is already in the message.
   */
  #send<A>(f: IpFamily<A>, l: number, proto: number, from: A, to: A): void {
    const out = this.#out;
    const t = out.tx;
    f.writeHeader(out, t, ETH_HLEN, l, proto, from, to);
    if (f.family === 6) finishIcmpv6(t, ETH_HLEN + IPV6_HLEN, l, ETH_HLEN + 8, ETH_HLEN + 24);
    this.#iface.stats.icmpErrorsOut++;
    f.send(out, t, 0, ETH_HLEN + f.hlen + l);
  }

  /** A host send of the guest's IPv4 or IPv6 packet `b[off, off+len)` failed with `errno`: tells the guest when it should know. */
  sendFailed(family: 4 | 6, errno: number, b: Uint8Array, off: number, len: number): void {
    const problem = problemOf(errno);
    if (problem === null || problem === "too-big") return;
    if (family === 4) this.aboutPacket4(problem, 0, b, off, len);
    else this.aboutPacket6(problem, 0, b, off, len);
  }

  /**
   * Tells the guest about a packet it sent earlier, rebuilt: protocol
   * `proto` from `guest:guestPort` to `far:farPort` (addresses as the guest
   * wrote them), the transport header's second word `word2` (TCP's
   * sequence number; UDP's length and checksum) and the start of the
   * payload `data`.
   */
  aboutFlow(
    problem: IcmpProblem,
    mtu: number,
    proto: number,
    guest: Uint8Array,
    guestPort: number,
    far: Uint8Array,
    farPort: number,
    word2: number,
    data: Uint8Array,
  ): void {
    const p = this.#inv;
    const v6 = guest.length === 16;
    const hl = v6 ? IPV6_HLEN : IPV4_HLEN;
    const n = Math.min(data.length, p.length - hl - 8);
    p[hl] = guestPort >>> 8;
    p[hl + 1] = guestPort & 0xff;
    p[hl + 2] = farPort >>> 8;
    p[hl + 3] = farPort & 0xff;
    p[hl + 4] = word2 >>> 24;
    p[hl + 5] = (word2 >>> 16) & 0xff;
    p[hl + 6] = (word2 >>> 8) & 0xff;
    p[hl + 7] = word2 & 0xff;
    p.set(data.subarray(0, n), hl + 8);
    if (v6) {
      writeIpv6Header(p, 0, 8 + n, proto, 64, guest, far);
      this.aboutPacket6(problem, mtu, p, 0, IPV6_HLEN + 8 + n);
    } else {
      writeIpv4(p, 0, IPV4_HLEN + 8 + n, 0, 0, 64, proto, readU32(guest, 0), readU32(far, 0));
      this.aboutPacket4(problem, mtu, p, 0, IPV4_HLEN + 8 + n);
    }
  }

  #allowed(): boolean {
    const now = this.#iface.now();
    if (now - this.#windowStart >= 1000) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= MAX_PER_SECOND) return false;
    this.#inWindow++;
    return true;
  }
}
