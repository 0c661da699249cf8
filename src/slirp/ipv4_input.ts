/**
 * IPv4 input of the slirp stack: one checked IPv4 packet from the guest is
 * taken to the part that handles it.
 *
 * Theory of operation. The header is parsed by `parseIpv4` (lengths and
 * checksum checked there); a source that cannot be a guest is dropped, and
 * a good one teaches the neighbour cache its MAC. Fragments go to the
 * reassembler (bounded, see reassembly.ts) and a completed packet comes
 * back through `input` as if it had arrived whole. Then by protocol:
 *
 * - TCP to the engine, or a RST when the guest may not reach the address;
 * - UDP: DHCP to the server, port 53 on the DNS address to the forwarder,
 *   port 69 on the gateway to the TFTP server when one is configured,
 *   everything else to the UDP NAT;
 * - ICMP echo: answered here for the gateway and DNS addresses, taken to
 *   the ping NAT for the outside when the host allows ping sockets.
 *
 * A packet from the gateway's own address is not a guest's: dropped, but a
 * DHCP offer or ack among them is another DHCP server on our address (a
 * second slirp), which the gateway guard is told of (gateway_guard.ts).
 *
 * A packet with DF set that is larger than the MTU is answered with
 * "fragmentation needed" (RFC 1191) carrying the MTU; a UDP datagram or
 * echo request the host has no route for, with "network/host
 * unreachable" (icmp_errors.ts). Nothing else is answered; every drop is
 * counted.
 */
import { ETH_HLEN, writeEthernetHeader } from "../wire/ethernet.ts";
import {
  ETH_P_IP,
  formatIpv4,
  IPPROTO,
  IPV4_HLEN,
  type Ipv4Header,
  newIpv4Header,
  parseIpv4,
  writeIpv4,
} from "../wire/ipv4.ts";
import { readU32 } from "../wire/bytes.ts";
import { ICMP, newIcmpMessage, parseIcmpv4, writeIcmpv4 } from "../wire/icmpv4.ts";
import { newUdpHeader, parseUdp, UDP_HLEN, udpChecksumOk, writeUdp } from "../wire/udp.ts";
import { buildDhcp, DHCP_CLIENT_PORT, DHCP_MSG, DHCP_SERVER_PORT, parseDhcp } from "../wire/dhcp.ts";
import { TFTP_PORT } from "../wire/tftp.ts";
import type { DhcpServer } from "./dhcp_server.ts";
import type { DnsForwarder } from "./dns_forwarder.ts";
import type { GatewayGuard } from "./gateway_guard.ts";
import { echoOutside, tcpFromGuest } from "./guest_handoff.ts";
import type { IcmpErrors } from "./icmp_errors.ts";
import { type Iface, MAX_IP } from "./iface.ts";
import { IPV4 } from "./ip_family.ts";
import type { IpOutput } from "./ip_output.ts";
import type { Neighbours } from "./neighbours.ts";
import type { PingNat } from "./ping_nat.ts";
import { Reassembler } from "./reassembly.ts";
import type { TcpEngine } from "./tcp/api.ts";
import type { TftpServer } from "./tftp_server.ts";
import type { UdpNat } from "./udp_nat.ts";

const BROADCAST4 = 0xffffffff;

/** The parts an IPv4 packet may go to. */
export interface Ipv4Parts {
  out: IpOutput;
  neighbours: Neighbours;
  guard: GatewayGuard;
  udp: UdpNat;
  ping: PingNat;
  dhcp: DhcpServer;
  dns: DnsForwarder;
  tcp: TcpEngine;
  icmp: IcmpErrors;
  /** The TFTP server on the gateway, when configured. */
  tftp: TftpServer | null;
  /** Answers a TCP segment the guest may not send with a RST. */
  refuseTcp: (src: Uint8Array, dst: Uint8Array, segment: Uint8Array) => void;
}

/** The IPv4 input of one interface. */
export class Ipv4Input {
  readonly reassembly: Reassembler = new Reassembler();
  readonly #iface: Iface;
  readonly #p: Ipv4Parts;
  readonly #h = newIpv4Header();
  readonly #udp = newUdpHeader();
  readonly #icmp = newIcmpMessage();
  readonly #reasm = new Uint8Array(MAX_IP + 64);

  constructor(iface: Iface, parts: Ipv4Parts) {
    this.#iface = iface;
    this.#p = parts;
  }

  /** Takes the IPv4 packet `b[off, off+len)`; its frame's source MAC is at `macOff` (-1: reassembled). */
  input(b: Uint8Array, off: number, len: number, macOff: number): void {
    const h = this.#h;
    const iface = this.#iface;
    const stats = iface.stats;
    stats.ipv4In++;
    if (parseIpv4(b, off, len, h) !== null) {
      stats.badIp++;
      return;
    }
    const src = h.src;
    const dst = h.dst;
    if (src !== 0 && !iface.isGuest4(src)) {
      stats.notForUs++;
      if (src === iface.config.gateway && macOff >= 0) this.#fromGateway(b, h, macOff);
      return;
    }
    if (src !== 0 && macOff >= 0) this.#p.neighbours.learn4(src, b, macOff);
    if (h.df && h.totalLength > iface.mtu && macOff >= 0) {
      this.#p.icmp.aboutPacket4("too-big", iface.mtu, b, off, h.totalLength);
      return;
    }
    if (h.mf || h.fragmentOffset !== 0) {
      stats.fragmentsIn++;
      const key = `${src}>${dst}/${h.protocol}#${h.id}`;
      const done = this.reassembly.add(
        key,
        h.fragmentOffset,
        b.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength),
        h.mf,
        iface.now(),
        b.subarray(off, off + IPV4_HLEN),
      );
      if (done === null || done.first === null) return;
      const r = this.#reasm;
      const total = IPV4_HLEN + done.payload.length;
      if (total > MAX_IP) return;
      r.set(done.first, 0);
      r.set(done.payload, IPV4_HLEN);
      writeIpv4(r, 0, total, (r[4]! << 8) | r[5]!, 0, r[8]!, r[9]!, readU32(r, 12), readU32(r, 16), r[1]!);
      this.input(r, 0, total, -1);
      return;
    }
    const po = h.payloadOffset;
    const pl = h.payloadLength;
    switch (h.protocol) {
      case IPPROTO.TCP:
        if (src !== 0 && pl >= 20) {
          tcpFromGuest(IPV4, this.#p, iface, b, h.offset + 12, h.offset + 16, po, pl);
        }
        return;
      case IPPROTO.UDP:
        this.#udpIn(b, h.offset, po, pl, src, dst);
        return;
      case IPPROTO.ICMP:
        this.#icmpIn(b, h.offset, po, pl, src, dst);
        return;
      default:
        stats.notForUs++;
    }
  }

  /** A packet from our gateway address off the wire: a DHCP offer or ack in it is another server's. */
  #fromGateway(b: Uint8Array, h: Ipv4Header, macOff: number): void {
    if (h.protocol !== IPPROTO.UDP || h.mf || h.fragmentOffset !== 0) return;
    const u = this.#udp;
    if (parseUdp(b, h.payloadOffset, h.payloadLength, u) !== null) return;
    if (u.srcPort !== DHCP_SERVER_PORT || u.dstPort !== DHCP_CLIENT_PORT) return;
    const parsed = parseDhcp(b, u.payloadOffset, u.payloadLength);
    if (!parsed.ok) return;
    const type = parsed.value.messageType;
    if (type !== DHCP_MSG.OFFER && type !== DHCP_MSG.ACK) return;
    const what = `a DHCP ${type === DHCP_MSG.OFFER ? "offer" : "ack"} from ${formatIpv4(h.src)}`;
    this.#p.guard.claimed(what, 4, b, macOff);
  }

  #icmpIn(b: Uint8Array, ipOff: number, off: number, len: number, src: number, dst: number): void {
    const m = this.#icmp;
    const iface = this.#iface;
    const c = iface.config;
    if (src === 0 || parseIcmpv4(b, off, len, m) !== null || m.type !== ICMP.ECHO_REQUEST) {
      iface.stats.icmpDropped++;
      return;
    }
    if (dst === c.gateway || dst === c.dns) {
      // Answer in the transmit buffer: same data, type 0, addresses swapped.
      const out = this.#p.out;
      const t = out.tx;
      const io = ETH_HLEN + IPV4_HLEN;
      t.set(b.subarray(off, off + len), io);
      writeIcmpv4(t, io, len, ICMP.ECHO_REPLY, 0, ((m.id << 16) | m.seq) >>> 0);
      writeIpv4(t, ETH_HLEN, IPV4_HLEN + len, out.nextId(), 0, 64, IPPROTO.ICMP, dst, src);
      iface.stats.icmpEchoLocal++;
      out.send4(t, 0, io + len, src);
      return;
    }
    echoOutside(IPV4, this.#p, iface, b, ipOff + 12, ipOff + 16, m.id, off, len, ipOff);
  }

  #udpIn(b: Uint8Array, ipOff: number, off: number, len: number, src: number, dst: number): void {
    const u = this.#udp;
    const iface = this.#iface;
    const c = iface.config;
    if (parseUdp(b, off, len, u) !== null || !udpChecksumOk(b, ipOff + 12, ipOff + 16, 4, off, u.length)) {
      iface.stats.udpBad++;
      return;
    }
    iface.stats.udpIn++;
    const po = u.payloadOffset;
    const pl = u.payloadLength;
    if (u.dstPort === DHCP_SERVER_PORT && (dst === BROADCAST4 || dst === c.gateway || dst === iface.bcast)) {
      if (c.dhcp) this.#dhcpIn(b, po, pl);
      return;
    }
    if (src === 0) return;
    if (u.dstPort === TFTP_PORT && dst === c.gateway && this.#p.tftp !== null) {
      this.#p.tftp.input(4, b.subarray(ipOff + 12, ipOff + 16), u.srcPort, b, po, pl);
      return;
    }
    if (dst === c.dns) {
      if (u.dstPort === 53) this.#p.dns.query(4, b.slice(ipOff + 12, ipOff + 16), u.srcPort, b, po, pl);
      else iface.stats.udpDropped++;
      return;
    }
    const err = this.#p.udp.fromGuest4(b, po, pl, src, u.srcPort, dst, u.dstPort);
    if (err !== 0) this.#p.icmp.sendFailed(4, err, b, ipOff, off + len - ipOff);
  }

  #dhcpIn(b: Uint8Array, off: number, len: number): void {
    const parsed = parseDhcp(b, off, len);
    if (!parsed.ok) return;
    const m = parsed.value;
    const iface = this.#iface;
    const reply = this.#p.dhcp.handle(m, iface.now());
    if (reply === null) return;
    const payload = buildDhcp(reply.spec);
    const out = this.#p.out;
    const t = out.tx;
    const uo = ETH_HLEN + IPV4_HLEN;
    t.set(payload, uo + UDP_HLEN);
    const ipLen = IPV4_HLEN + UDP_HLEN + payload.length;
    writeIpv4(t, ETH_HLEN, ipLen, out.nextId(), 0, 64, IPPROTO.UDP, iface.config.gateway, reply.dst);
    writeUdp(t, uo, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, payload.length, ETH_HLEN + 12, ETH_HLEN + 16, 4);
    // To the client's hardware address: it has no IP address to resolve yet.
    writeEthernetHeader(t, 0, m.chaddr, 0, iface.mac, ETH_P_IP);
    iface.stats.dhcpReplies++;
    iface.emit(t.subarray(0, uo + UDP_HLEN + payload.length));
  }
}
