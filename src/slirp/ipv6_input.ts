/**
 * IPv6 input of the slirp stack, and the router side of neighbour
 * discovery.
 *
 * Theory of operation. `parseIpv6` walks the extension headers (bounded)
 * and reports the upper-layer protocol and any fragment header. A source
 * that cannot be a guest is dropped; a good one teaches the neighbour cache
 * its MAC, and a global one is remembered as the guest's address (forwards
 * without a guest address go there). Fragments are reassembled as for IPv4.
 * Then by protocol:
 *
 * - ICMPv6: router and neighbour solicitations and advertisements (hop
 *   limit 255 only, RFC 4861 section 7.1.1): the caches learn from them, a
 *   router solicitation gets a router advertisement (prefix for SLAAC, MTU,
 *   RDNSS, DNSSL) and a solicitation for one of our addresses gets an
 *   advertisement. Echo requests are answered here for our addresses and
 *   taken to the ping NAT for the outside;
 * - TCP to the engine, or a RST when the guest may not reach the address;
 * - UDP: port 53 on the DNS address to the forwarder, port 69 on the
 *   gateway to the TFTP server when configured, the rest to the NAT.
 *
 * A packet larger than the MTU is answered with "packet too big" (RFC 8201)
 * carrying the MTU; a datagram or echo request the host has no route for,
 * with "destination unreachable" (icmp_errors.ts).
 *
 * A neighbour advertisement for one of our addresses from another host
 * (from another port: a second slirp answering our duplicate address
 * detection, or announcing itself) goes to the gateway guard
 * (gateway_guard.ts); it comes from our address, so it is dropped as no
 * guest's, after that look.
 *
 * Unsolicited router advertisements go out every `RA_INTERVAL_MS` (the
 * stack's timer calls `advertise`).
 */
import { ETH_HLEN, writeEthernetHeader } from "../wire/ethernet.ts";
import { IPPROTO } from "../wire/ipv4.ts";
import {
  ETH_P_IPV6,
  formatIpv6,
  IPV6_HLEN,
  ipv6Equal,
  type Ipv6Header,
  isIpv6LinkLocal,
  isIpv6Multicast,
  isIpv6Unspecified,
  newIpv6Header,
  parseIpv6,
  writeIpv6Header,
} from "../wire/ipv6.ts";
import { finishIcmpv6, ICMPV6, newIcmpv6Message, parseIcmpv6 } from "../wire/icmpv6.ts";
import {
  type NdpMessage,
  newNdpMessage,
  parseNdp,
  writeNeighborAdvert,
  writeRouterAdvert,
} from "../wire/ndp.ts";
import { macEquals } from "../wire/ethernet.ts";
import { newUdpHeader, parseUdp, udpChecksumOk } from "../wire/udp.ts";
import { TFTP_PORT } from "../wire/tftp.ts";
import { echoOutside, tcpFromGuest } from "./guest_handoff.ts";
import { hex16, type Iface, MAX_IP } from "./iface.ts";
import { IPV6 } from "./ip_family.ts";
import type { Ipv4Parts } from "./ipv4_input.ts";
import { Reassembler } from "./reassembly.ts";

/** Period of unsolicited router advertisements. */
export const RA_INTERVAL_MS = 120_000;

const ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const ALL_NODES_MAC = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

/** The parts an IPv6 packet may go to (those of IPv4 but DHCP). */
export type Ipv6Parts = Omit<Ipv4Parts, "dhcp">;

/** The IPv6 input of one interface. */
export class Ipv6Input {
  readonly reassembly: Reassembler = new Reassembler();
  readonly #iface: Iface;
  readonly #p: Ipv6Parts;
  readonly #h = newIpv6Header();
  readonly #udp = newUdpHeader();
  readonly #icmp = newIcmpv6Message();
  readonly #ndp = newNdpMessage();
  readonly #reasm = new Uint8Array(IPV6_HLEN + MAX_IP + 64);

  constructor(iface: Iface, parts: Ipv6Parts) {
    this.#iface = iface;
    this.#p = parts;
  }

  /** Takes the IPv6 packet `b[off, off+len)`; its frame's source MAC is at `macOff` (-1: reassembled). */
  input(b: Uint8Array, off: number, len: number, macOff: number): void {
    const h = this.#h;
    const iface = this.#iface;
    const stats = iface.stats;
    stats.ipv6In++;
    if (parseIpv6(b, off, len, h) !== null) {
      stats.badIp++;
      return;
    }
    const so = h.srcOffset;
    const dOff = h.dstOffset;
    const unspecified = isIpv6Unspecified(b, so);
    if (!unspecified && !iface.isGuest6(b, so)) {
      stats.notForUs++;
      if (h.protocol === IPPROTO.ICMPV6 && !h.fragmented && macOff >= 0) this.#fromOurs(b, h, macOff);
      return;
    }
    if (!unspecified && macOff >= 0) {
      this.#p.neighbours.learn6(b, so, b, macOff);
      if (!isIpv6LinkLocal(b, so) && (iface.guest6 === null || !ipv6Equal(iface.guest6, 0, b, so))) {
        iface.guest6 = b.slice(so, so + 16);
      }
    }
    const multicast = isIpv6Multicast(b, dOff);
    if (IPV6_HLEN + h.payloadLength > iface.mtu && macOff >= 0 && !unspecified && !multicast) {
      this.#p.icmp.aboutPacket6("too-big", iface.mtu, b, off, IPV6_HLEN + h.payloadLength);
      return;
    }
    if (h.fragmented) {
      stats.fragmentsIn++;
      const key = `${hex16(b, so)}>${hex16(b, dOff)}#${h.fragmentId}`;
      const done = this.reassembly.add(
        key,
        h.fragmentOffset,
        b.subarray(h.dataOffset, h.dataOffset + h.dataLength),
        h.mf,
        iface.now(),
        b.subarray(h.offset, h.offset + IPV6_HLEN + 1),
      );
      if (done === null || done.first === null) return;
      const r = this.#reasm;
      if (done.payload.length > MAX_IP) return;
      // A fresh header: the first fragment's addresses, its upper-layer protocol, the whole payload.
      r.set(done.first.subarray(0, IPV6_HLEN), 0);
      r[6] = h.protocol;
      r[4] = done.payload.length >>> 8;
      r[5] = done.payload.length & 0xff;
      r.set(done.payload, IPV6_HLEN);
      this.input(r, 0, IPV6_HLEN + done.payload.length, -1);
      return;
    }
    const po = h.dataOffset;
    const pl = h.dataLength;
    switch (h.protocol) {
      case IPPROTO.ICMPV6:
        this.#icmpIn(b, po, pl, so, dOff, macOff, h.hopLimit, off);
        return;
      case IPPROTO.TCP:
        if (!unspecified && !multicast && pl >= 20) tcpFromGuest(IPV6, this.#p, iface, b, so, dOff, po, pl);
        return;
      case IPPROTO.UDP:
        if (unspecified || multicast) return;
        this.#udpIn(b, po, pl, so, dOff, off);
        return;
      default:
        stats.notForUs++;
    }
  }

  #icmpIn(
    b: Uint8Array,
    off: number,
    len: number,
    so: number,
    dOff: number,
    macOff: number,
    hopLimit: number,
    ipOff: number,
  ): void {
    const m = this.#icmp;
    const iface = this.#iface;
    if (parseIcmpv6(b, off, len, so, dOff, m) !== null) {
      iface.stats.icmpDropped++;
      return;
    }
    const type = m.type;
    if (
      type === ICMPV6.ROUTER_SOLICIT || type === ICMPV6.NEIGHBOR_SOLICIT || type === ICMPV6.NEIGHBOR_ADVERT
    ) {
      // NDP messages must come from the link itself.
      if (hopLimit === 255) this.#ndpIn(b, off, len, so, macOff, type);
      return;
    }
    if (type !== ICMPV6.ECHO_REQUEST || isIpv6Unspecified(b, so)) {
      iface.stats.icmpDropped++;
      return;
    }
    if (iface.isOurs6(b, dOff)) {
      const out = this.#p.out;
      const t = out.tx;
      const io = ETH_HLEN + IPV6_HLEN;
      t.set(b.subarray(off, off + len), io);
      t[io] = ICMPV6.ECHO_REPLY;
      writeIpv6Header(t, ETH_HLEN, len, IPPROTO.ICMPV6, 64, b, b, dOff, so);
      finishIcmpv6(t, io, len, ETH_HLEN + 8, ETH_HLEN + 24);
      iface.stats.icmpEchoLocal++;
      out.send6(t, 0, io + len, t, ETH_HLEN + 24);
      return;
    }
    echoOutside(IPV6, this.#p, iface, b, so, dOff, m.id, off, len, ipOff);
  }

  /** An ICMPv6 message from one of our addresses off the wire: a neighbour advertisement is another's claim. */
  #fromOurs(b: Uint8Array, h: Ipv6Header, macOff: number): void {
    const m = this.#icmp;
    const off = h.dataOffset;
    const len = h.dataLength;
    if (h.hopLimit !== 255 || parseIcmpv6(b, off, len, h.srcOffset, h.dstOffset, m) !== null) return;
    if (m.type !== ICMPV6.NEIGHBOR_ADVERT || parseNdp(b, off, len, this.#ndp) !== null) return;
    this.#advertIn(b, this.#ndp, macOff);
  }

  /**
   * A neighbour advertisement for one of our addresses that is not ours come back is another host's claim;
   * for the DNS address, from a MAC no slirp has (ours, another slirp's of this network; libslirp's, 52:56
   * and the address's last four bytes), a host that has that address (gateway_guard.ts `dns6Claimed`);
   * another slirp's answer for it is not counted: its answer for the gateway is the claim said.
   */
  #advertIn(b: Uint8Array, n: NdpMessage, macOff: number): void {
    const iface = this.#iface;
    if (!iface.isOurs6(b, n.targetOffset)) return;
    const guard = this.#p.guard;
    const dns6 = iface.config.dns6;
    if (ipv6Equal(b, n.targetOffset, dns6, 0)) {
      const libslirp = b[macOff] === 0x52 && b[macOff + 1] === 0x56 &&
        b[macOff + 2] === dns6[12] && b[macOff + 3] === dns6[13] && b[macOff + 4] === dns6[14] &&
        b[macOff + 5] === dns6[15];
      if (!macEquals(b, macOff, iface.mac) && !libslirp) {
        guard.dns6Claimed(`a neighbour advertisement for ${formatIpv6(b, n.targetOffset)}`, b, macOff);
      }
      return;
    }
    if (
      n.targetMacOffset >= 0 && macEquals(b, n.targetMacOffset, iface.mac) && guard.ownAdvert(iface.now())
    ) return;
    guard.claimed(`a neighbour advertisement for ${formatIpv6(b, n.targetOffset)}`, 6, b, macOff);
  }

  #ndpIn(b: Uint8Array, off: number, len: number, so: number, macOff: number, type: number): void {
    const iface = this.#iface;
    const n = this.#ndp;
    if (parseNdp(b, off, len, n) !== null) {
      iface.stats.icmpDropped++;
      return;
    }
    // Our own duplicate address detection, come back through a loop: not a question for us.
    if (macOff >= 0 && this.#p.guard.isProbeMac(b, macOff)) return;
    if (type === ICMPV6.NEIGHBOR_ADVERT && macOff >= 0) this.#advertIn(b, n, macOff);
    const neighbours = this.#p.neighbours;
    const unspecified = isIpv6Unspecified(b, so);
    if (!unspecified && n.sourceMacOffset >= 0) neighbours.learn6(b, so, b, n.sourceMacOffset);
    if (type === ICMPV6.NEIGHBOR_ADVERT && n.targetMacOffset >= 0 && iface.isGuest6(b, n.targetOffset)) {
      neighbours.learn6(b, n.targetOffset, b, n.targetMacOffset);
    }
    if (type === ICMPV6.ROUTER_SOLICIT) {
      this.advertise(unspecified ? null : b.slice(so, so + 16));
      return;
    }
    if (type !== ICMPV6.NEIGHBOR_SOLICIT || !iface.isOurs6(b, n.targetOffset)) return;
    // The DNS address a host on the switch holds is that host's to answer for.
    if (iface.dns6HeldByHost && ipv6Equal(b, n.targetOffset, iface.config.dns6, 0)) return;
    const out = this.#p.out;
    const t = out.tx;
    const io = ETH_HLEN + IPV6_HLEN;
    const to = unspecified ? ALL_NODES : b.slice(so, so + 16);
    const target = b.slice(n.targetOffset, n.targetOffset + 16);
    const l = writeNeighborAdvert(t, io, target, iface.mac, {
      router: true,
      solicited: !unspecified,
      override: true,
    });
    writeIpv6Header(t, ETH_HLEN, l, IPPROTO.ICMPV6, 255, target, to);
    finishIcmpv6(t, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
    if (unspecified) {
      writeEthernetHeader(t, 0, ALL_NODES_MAC, 0, iface.mac, ETH_P_IPV6);
      this.#p.guard.sentAdvertToAll(iface.now());
      iface.emit(t.subarray(0, io + l));
    } else if (macOff >= 0 || n.sourceMacOffset >= 0) {
      // Straight back to the MAC it came from: the solicitation itself is the answer to "who are you".
      writeEthernetHeader(
        t,
        0,
        b,
        n.sourceMacOffset >= 0 ? n.sourceMacOffset : macOff,
        iface.mac,
        ETH_P_IPV6,
      );
      iface.emit(t.subarray(0, io + l));
    } else out.send6(t, 0, io + l, to, 0);
  }

  #udpIn(b: Uint8Array, off: number, len: number, so: number, dOff: number, ipOff: number): void {
    const u = this.#udp;
    const iface = this.#iface;
    if (parseUdp(b, off, len, u) !== null || !udpChecksumOk(b, so, dOff, 16, off, u.length)) {
      iface.stats.udpBad++;
      return;
    }
    iface.stats.udpIn++;
    const po = u.payloadOffset;
    const pl = u.payloadLength;
    const tftp = this.#p.tftp;
    if (u.dstPort === TFTP_PORT && tftp !== null && ipv6Equal(b, dOff, iface.config.gateway6, 0)) {
      tftp.input(6, b.subarray(so, so + 16), u.srcPort, b, po, pl);
      return;
    }
    if (ipv6Equal(b, dOff, iface.config.dns6, 0)) {
      if (u.dstPort === 53) this.#p.dns.query(6, b.subarray(so, so + 16), u.srcPort, b, po, pl);
      else iface.stats.udpDropped++;
      return;
    }
    const err = this.#p.udp.fromGuest6(b, po, pl, so, u.srcPort, dOff, u.dstPort);
    if (err !== 0) this.#p.icmp.sendFailed(6, err, b, ipOff, off + len - ipOff);
  }

  /** Sends a router advertisement to `to`, or to all nodes when null. */
  advertise(to: Uint8Array | null): void {
    const iface = this.#iface;
    const c = iface.config;
    const out = this.#p.out;
    const t = out.tx;
    const io = ETH_HLEN + IPV6_HLEN;
    const l = writeRouterAdvert(t, io, {
      mac: iface.mac,
      prefix: c.prefix6,
      prefixLength: c.prefix6Length,
      routerLifetime: 1800,
      validLifetime: 86400,
      preferredLifetime: 14400,
      mtu: c.mtu,
      dns: [c.dns6],
      dnsLifetime: 1800,
      search: c.search.length > 0 ? c.search : c.domain !== undefined ? [c.domain] : [],
    });
    const dst = to ?? ALL_NODES;
    writeIpv6Header(t, ETH_HLEN, l, IPPROTO.ICMPV6, 255, iface.linkLocal, dst);
    finishIcmpv6(t, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
    iface.stats.routerAdverts++;
    if (to === null) {
      writeEthernetHeader(t, 0, ALL_NODES_MAC, 0, iface.mac, ETH_P_IPV6);
      iface.emit(t.subarray(0, io + l));
    } else out.send6(t, 0, io + l, dst, 0);
  }
}
