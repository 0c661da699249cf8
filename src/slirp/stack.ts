/**
 * The slirp stack's core: a virtual gateway on an Ethernet segment that
 * takes the guest's traffic to the host's sockets.
 *
 * Theory of operation. `input(frame)` takes one Ethernet frame from the
 * guest side; frames for the guest leave through `output(frame)` (a
 * borrowed view of a reused buffer). The stack owns three virtual
 * addresses per family (gateway, DNS, and for IPv6 the gateway's
 * link-local address), all answered with one MAC. It speaks:
 *
 * - ARP and NDP for its own addresses, and learns the guest's MACs from
 *   every frame it gets (ARP/NS are sent, and a few frames queued, when a
 *   destination is not known yet);
 * - router advertisements (prefix for SLAAC, MTU, RDNSS, DNSSL), on a
 *   router solicitation and periodically;
 * - IPv4 and IPv6 with fragment reassembly (bounded: see reassembly.ts)
 *   and fragmentation of what it sends when a packet exceeds the MTU;
 * - ICMP and ICMPv6 echo: answered for its own addresses, and taken to the
 *   host's unprivileged ICMP sockets for other destinations when the host
 *   allows them;
 * - DHCP (dhcp_server.ts) and DNS forwarding (dns_forwarder.ts);
 * - UDP NAT: one host socket per guest source address and port, closed
 *   after an idle timeout, at most `MAX_UDP_FLOWS` (the least recently
 *   used is closed first); inbound UDP forwards that deliver the client's
 *   real address to the guest and carry the guest's replies back out of
 *   the forwarded socket;
 * - TCP through a `TcpEngine` (src/slirp/tcp/api.ts), which gets segments
 *   and sends them back through `sendSegment`.
 *
 * Traffic to the gateway goes to the host's loopback (127.0.0.1, ::1)
 * unless host loopback is disabled; a loopback source coming back is shown
 * to the guest as the gateway, since the guest cannot route to 127/8.
 *
 * The data path writes headers in place in front of payloads (host sockets
 * receive with headroom) and reuses one transmit buffer; the only copies
 * are the TCP segment into that buffer and the frames queued while a
 * neighbour is being resolved.
 */
import { ETH_HLEN, VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { ARP_REPLY, ARP_REQUEST, ETH_P_ARP, newArpPacket, parseArp, writeArp } from "../wire/arp.ts";
import {
  ETH_P_IP,
  formatIpv4,
  IPPROTO,
  IPV4_DF,
  IPV4_HLEN,
  IPV4_MF,
  isIpv4Loopback,
  newIpv4Header,
  parseIpv4,
  prefixMask,
  writeIpv4,
} from "../wire/ipv4.ts";
import { readU32, writeU32 } from "../wire/bytes.ts";
import {
  ETH_P_IPV6,
  formatIpv6,
  IPV6_FRAG_HLEN,
  IPV6_HLEN,
  IPV6_NEXT_FRAGMENT,
  ipv6Equal,
  ipv6PrefixMatch,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  linkLocalFromMac,
  newIpv6Header,
  parseIpv6,
  solicitedNode,
  writeIpv6FragmentHeader,
  writeIpv6Header,
} from "../wire/ipv6.ts";
import { ICMP, newIcmpMessage, parseIcmpv4, writeIcmpv4 } from "../wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6, newIcmpv6Message, parseIcmpv6 } from "../wire/icmpv6.ts";
import {
  newNdpMessage,
  parseNdp,
  writeNeighborAdvert,
  writeNeighborSolicit,
  writeRouterAdvert,
} from "../wire/ndp.ts";
import { newUdpHeader, parseUdp, UDP_HLEN, udpChecksumOk, writeUdp } from "../wire/udp.ts";
import { buildDhcp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, parseDhcp } from "../wire/dhcp.ts";
import { formatForward, type ForwardSpec, inNetwork, type SlirpConfig } from "./config.ts";
import { DhcpServer } from "./dhcp_server.ts";
import { DnsForwarder } from "./dns_forwarder.ts";
import { HEADROOM, type HostNet, type HostSocket } from "./host_net.ts";
import { Reassembler } from "./reassembly.ts";
import type { TcpCoreSide, TcpEngine } from "./tcp/api.ts";
import { createRefusingTcpEngine, tcpReset } from "./tcp_stub.ts";

/** UDP flows kept open at once; the least recently used is closed to make room. */
export const MAX_UDP_FLOWS = 1024;
/** ICMP echo flows kept open at once. */
export const MAX_PING_FLOWS = 64;
/** Default idle timeout of a UDP flow (libslirp keeps them 240 s). */
export const UDP_IDLE_MS = 240_000;
/** Idle timeout of an ICMP echo flow. */
export const PING_IDLE_MS = 30_000;
/** Period of unsolicited router advertisements. */
export const RA_INTERVAL_MS = 120_000;
/** Frames held while a neighbour is resolved, in all. */
const MAX_QUEUED = 64;
/** Largest IP packet. */
const MAX_IP = 65535;
/** Largest IP packet a VDE frame carries (9234 bytes less the header and a VLAN tag). */
export const VDE_MAX_IP = VDE_MAX_FRAME - ETH_HLEN - 4;

/** How the stack was started. */
export interface StackOptions {
  config: SlirpConfig;
  /** Receives each frame for the guest side (a borrowed view). */
  output: (frame: Uint8Array) => void;
  hostNet: HostNet;
  /** Milliseconds; performance.now() by default. */
  now?: () => number;
  /** Log lines (start-up notes, errors that deserve a line). */
  log?: (message: string) => void;
  /** Builds the TCP engine; a refusing stub when absent. */
  tcp?: (core: TcpCoreSide) => TcpEngine;
  /** DNS servers when the configuration names none (the host's resolv.conf). */
  resolvers?: SlirpConfig["dnsUpstream"];
  /** Whether ICMP echo may go to the host's ping sockets, per family. */
  pingAllowed?: { 4: boolean; 6: boolean };
  /** Idle timeout of UDP flows (tests shorten it). */
  udpIdleMs?: number;
  /** Called when the TCP engine sent something (its timers may have moved). */
  kick?: () => void;
  /** Whether the link the stack's frames go to is backed up (TCP then holds new data); never, when absent. */
  congested?: () => boolean;
}

/** The stack's counters. */
export interface StackStats {
  framesIn: number;
  framesOut: number;
  badFrames: number;
  arpReplies: number;
  ipv4In: number;
  ipv6In: number;
  badIp: number;
  notForUs: number;
  fragmentsIn: number;
  fragmentsOut: number;
  icmpEchoLocal: number;
  icmpEchoOut: number;
  icmpDropped: number;
  udpIn: number;
  udpOut: number;
  udpBad: number;
  udpDropped: number;
  udpFlows: number;
  tcpIn: number;
  tcpOut: number;
  restricted: number;
  neighbourQueued: number;
  neighbourDropped: number;
  dhcpReplies: number;
  routerAdverts: number;
}

interface UdpFlow {
  key: string | number;
  family: 4 | 6;
  guestAddr: Uint8Array;
  guestPort: number;
  sock: HostSocket;
  lastUsed: number;
}

interface UdpForward {
  spec: ForwardSpec;
  sock: HostSocket;
}

interface ForwardPeer {
  forward: UdpForward;
  /** Real address and port of the client. */
  addr: Uint8Array;
  port: number;
  lastUsed: number;
}

interface PingFlow {
  key: string;
  family: 4 | 6;
  guestAddr: Uint8Array;
  guestId: number;
  sock: HostSocket;
  lastUsed: number;
}

interface Queued {
  family: 4 | 6;
  key: string | number;
  frame: Uint8Array;
}

/** Control of TCP forwards that a TCP engine may offer (see `attachTcpForwards`). */
export interface TcpForwardControl {
  addForward(spec: ForwardSpec): void | Promise<void>;
  removeForward(spec: ForwardSpec): boolean | Promise<boolean>;
}

const LOOPBACK4 = 0x7f000001;
const LOOPBACK6 = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ALL_NODES = new Uint8Array([0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

function hex16(b: Uint8Array, off: number): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += (b[off + i]! + 0x100).toString(16).slice(1);
  return s;
}

function macKey(b: Uint8Array, off: number): string {
  let s = "";
  for (let i = 0; i < 6; i++) s += (i ? ":" : "") + (b[off + i]! + 0x100).toString(16).slice(1);
  return s;
}

/** The slirp stack. */
export class SlirpStack implements TcpCoreSide {
  readonly config: SlirpConfig;
  /** The MAC of the virtual gateway (52:55 and the gateway's IPv4 address, as libslirp). */
  readonly mac: Uint8Array;
  readonly linkLocal: Uint8Array;
  readonly stats: StackStats = {
    framesIn: 0,
    framesOut: 0,
    badFrames: 0,
    arpReplies: 0,
    ipv4In: 0,
    ipv6In: 0,
    badIp: 0,
    notForUs: 0,
    fragmentsIn: 0,
    fragmentsOut: 0,
    icmpEchoLocal: 0,
    icmpEchoOut: 0,
    icmpDropped: 0,
    udpIn: 0,
    udpOut: 0,
    udpBad: 0,
    udpDropped: 0,
    udpFlows: 0,
    tcpIn: 0,
    tcpOut: 0,
    restricted: 0,
    neighbourQueued: 0,
    neighbourDropped: 0,
    dhcpReplies: 0,
    routerAdverts: 0,
  };
  readonly dhcp: DhcpServer;
  readonly dns: DnsForwarder;
  readonly reassembly4: Reassembler = new Reassembler();
  readonly reassembly6: Reassembler = new Reassembler();
  readonly tcp: TcpEngine;
  readonly pingAllowed: { 4: boolean; 6: boolean };
  readonly now: () => number;

  readonly #output: (frame: Uint8Array) => void;
  readonly #net: HostNet;
  readonly #log: (m: string) => void;
  #saidNoPing = false;
  readonly #udpIdleMs: number;
  readonly #kick: () => void;
  readonly #congested: () => boolean;
  readonly #mask: number;
  /** The MTU packets are cut to: the configured one, at most what a VDE frame carries. */
  readonly #mtu: number;
  readonly #bcast: number;
  readonly #tx = new Uint8Array(ETH_HLEN + MAX_IP + 64);
  readonly #frag = new Uint8Array(ETH_HLEN + MAX_IP + 64);
  readonly #reasm = new Uint8Array(IPV6_HLEN + MAX_IP + 64);
  readonly #h4 = newIpv4Header();
  readonly #h6 = newIpv6Header();
  readonly #udp = newUdpHeader();
  readonly #arp = newArpPacket();
  readonly #icmp = newIcmpMessage();
  readonly #icmp6 = newIcmpv6Message();
  readonly #ndp = newNdpMessage();
  readonly #gw4 = new Uint8Array(4);
  readonly #dns4 = new Uint8Array(4);
  #ipId = 1;
  #fragId = 1;
  // Neighbours: IPv4 by number, IPv6 by hex text; the last lookup is cached for the hot path.
  readonly #arpCache = new Map<number, Uint8Array>();
  readonly #ndCache = new Map<string, Uint8Array>();
  #lastIp4 = -1;
  #lastMac4: Uint8Array | null = null;
  readonly #lastIp6 = new Uint8Array(16);
  #lastMac6: Uint8Array | null = null;
  readonly #queue: Queued[] = [];
  readonly #lastSolicit = new Map<string | number, number>();
  /** The guest's IPv6 address seen last (global, in the prefix), for forwards without one. */
  #guest6: Uint8Array | null = null;
  readonly #flows = new Map<string | number, UdpFlow>();
  readonly #forwards: UdpForward[] = [];
  readonly #peers = new Map<string, ForwardPeer>();
  readonly #pings = new Map<string, PingFlow>();
  #tcpForwards: ForwardSpec[] = [];
  #tcpControl: TcpForwardControl | null = null;
  #nextRa = 0;
  #nextSweep = 0;
  #closed = false;

  constructor(options: StackOptions) {
    const c = options.config;
    this.config = c;
    this.#output = options.output;
    this.#net = options.hostNet;
    this.now = options.now ?? (() => performance.now());
    this.#log = options.log ?? (() => {});
    this.#udpIdleMs = options.udpIdleMs ?? UDP_IDLE_MS;
    this.#kick = options.kick ?? (() => {});
    this.#congested = options.congested ?? (() => false);
    this.#mask = prefixMask(c.prefixLength);
    this.#mtu = Math.min(c.mtu, VDE_MAX_IP);
    this.#bcast = (c.network | ~this.#mask) >>> 0;
    this.mac = new Uint8Array([
      0x52,
      0x55,
      c.gateway >>> 24,
      (c.gateway >>> 16) & 255,
      (c.gateway >>> 8) & 255,
      c.gateway & 255,
    ]);
    this.linkLocal = linkLocalFromMac(this.mac);
    writeU32(this.#gw4, 0, c.gateway);
    writeU32(this.#dns4, 0, c.dns);
    this.pingAllowed = options.pingAllowed ?? { 4: false, 6: false };
    this.dhcp = new DhcpServer(c);
    const upstreams = c.dnsUpstream ?? options.resolvers ?? [];
    this.dns = new DnsForwarder(upstreams, this.#net, (fam, addr, port, b, off, len, inPlace) => {
      if (fam === 4) this.#udpToGuest4(c.dns, 53, readU32(addr, 0), port, b, off, len, inPlace);
      else this.#udpToGuest6(c.dns6, 53, addr, port, b, off, len, inPlace);
    }, this.now);
    this.tcp = (options.tcp ?? createRefusingTcpEngine)(this);
    for (const f of c.forwards) {
      if (f.proto === "udp") this.#openUdpForward(f);
      else this.#tcpForwards.push(f);
    }
    const now = this.now();
    this.#nextRa = now;
    this.#nextSweep = now + 1000;
  }

  // ---------------------------------------------------------------------------
  // TcpCoreSide

  /** Implements TcpCoreSide.sendSegment: wraps a segment in IP and Ethernet towards the guest. */
  sendSegment(src: Uint8Array, dst: Uint8Array, segment: Uint8Array): void {
    if (this.#closed) return;
    const b = this.#tx;
    const len = segment.length;
    this.stats.tcpOut++;
    this.#kick();
    if (src.length === 4) {
      if (len + IPV4_HLEN > MAX_IP) return;
      b.set(segment, ETH_HLEN + IPV4_HLEN);
      const d = readU32(dst, 0);
      writeIpv4(b, ETH_HLEN, IPV4_HLEN + len, this.#nextId(), IPV4_DF, 64, IPPROTO.TCP, readU32(src, 0), d);
      this.#send4(b, 0, ETH_HLEN + IPV4_HLEN + len, d);
    } else {
      if (len > MAX_IP) return;
      b.set(segment, ETH_HLEN + IPV6_HLEN);
      writeIpv6Header(b, ETH_HLEN, len, IPPROTO.TCP, 64, src, dst);
      this.#send6(b, 0, ETH_HLEN + IPV6_HLEN + len, dst, 0);
    }
  }

  /** Implements TcpCoreSide.congested: the link the stack's frames go to is backed up. */
  congested(): boolean {
    return this.#congested();
  }

  /** The link the stack's frames go to drained: TCP sends what it held back. */
  resume(): void {
    if (!this.#closed) this.tcp.resume?.();
  }

  /** Implements TcpCoreSide.mss: the MTU less the IP and TCP headers. */
  mss(version: 4 | 6): number {
    return this.#mtu - (version === 4 ? 40 : 60);
  }

  // ---------------------------------------------------------------------------
  // Input

  /** Takes one frame from the guest side (borrowed); never throws on hostile input. */
  input(frame: Uint8Array): void {
    if (this.#closed) return;
    this.stats.framesIn++;
    const len = frame.length;
    if (len < ETH_HLEN) {
      this.stats.badFrames++;
      return;
    }
    // Our MAC, broadcast or multicast (IPv6 neighbour discovery) only.
    const d0 = frame[0]!;
    if ((d0 & 1) === 0) {
      const m = this.mac;
      if (
        d0 !== m[0] || frame[1] !== m[1] || frame[2] !== m[2] || frame[3] !== m[3] || frame[4] !== m[4] ||
        frame[5] !== m[5]
      ) {
        this.stats.notForUs++;
        return;
      }
    }
    if ((frame[6]! & 1) !== 0) {
      this.stats.badFrames++;
      return;
    }
    const type = (frame[12]! << 8) | frame[13]!;
    if (type === ETH_P_IP) {
      if (this.config.v4) this.#ipv4In(frame, ETH_HLEN, len - ETH_HLEN, 6);
    } else if (type === ETH_P_IPV6) {
      if (this.config.v6) this.#ipv6In(frame, ETH_HLEN, len - ETH_HLEN, 6);
    } else if (type === ETH_P_ARP) {
      if (this.config.v4) this.#arpIn(frame);
    } else this.stats.badFrames++;
  }

  #arpIn(frame: Uint8Array): void {
    const a = this.#arp;
    if (parseArp(frame, ETH_HLEN, frame.length - ETH_HLEN, a) !== null) {
      this.stats.badFrames++;
      return;
    }
    const c = this.config;
    if (a.senderIp !== 0 && this.#isGuest4(a.senderIp)) {
      this.#learn4(a.senderIp, frame, a.senderMacOffset);
    }
    if (a.op !== ARP_REQUEST) return;
    if (a.targetIp !== c.gateway && a.targetIp !== c.dns) return;
    const b = this.#tx;
    b.set(frame.subarray(a.senderMacOffset, a.senderMacOffset + 6), 0);
    this.#ethSrc(b, 0, ETH_P_ARP);
    writeArp(
      b,
      ETH_HLEN,
      ARP_REPLY,
      this.mac,
      a.targetIp,
      frame.subarray(a.senderMacOffset, a.senderMacOffset + 6),
      a.senderIp,
    );
    this.stats.arpReplies++;
    this.#emit(b.subarray(0, ETH_HLEN + 28));
  }

  #isGuest4(a: number): boolean {
    const c = this.config;
    return ((a & this.#mask) >>> 0) === c.network && a !== c.gateway && a !== c.dns && a !== this.#bcast &&
      a !== c.network;
  }

  #isGuest6(b: Uint8Array, off: number): boolean {
    const c = this.config;
    if (isIpv6LinkLocal(b, off)) return !ipv6Equal(b, off, this.linkLocal, 0);
    return ipv6PrefixMatch(b, off, c.prefix6, 0, c.prefix6Length) && !ipv6Equal(b, off, c.gateway6, 0) &&
      !ipv6Equal(b, off, c.dns6, 0);
  }

  #learn4(ip: number, b: Uint8Array, macOff: number): void {
    const known = this.#arpCache.get(ip);
    if (known !== undefined && equalMac(known, b, macOff)) return;
    const mac = b.slice(macOff, macOff + 6);
    if (known === undefined && this.#arpCache.size >= 4096) this.#arpCache.clear();
    this.#arpCache.set(ip, mac);
    if (this.#lastIp4 === ip) this.#lastMac4 = mac;
    this.#flushQueue(ip, mac);
  }

  #learn6(b: Uint8Array, ipOff: number, macB: Uint8Array, macOff: number): void {
    const key = hex16(b, ipOff);
    const known = this.#ndCache.get(key);
    if (known !== undefined && equalMac(known, macB, macOff)) return;
    const mac = macB.slice(macOff, macOff + 6);
    if (known === undefined && this.#ndCache.size >= 4096) this.#ndCache.clear();
    this.#ndCache.set(key, mac);
    if (this.#lastMac6 !== null && ipv6Equal(this.#lastIp6, 0, b, ipOff)) this.#lastMac6 = mac;
    this.#flushQueue(key, mac);
  }

  // ---------------------------------------------------------------------------
  // IPv4

  #ipv4In(b: Uint8Array, off: number, len: number, macOff: number): void {
    const h = this.#h4;
    this.stats.ipv4In++;
    if (parseIpv4(b, off, len, h) !== null) {
      this.stats.badIp++;
      return;
    }
    const src = h.src;
    const dst = h.dst;
    if (src !== 0 && !this.#isGuest4(src)) {
      this.stats.notForUs++;
      return;
    }
    if (src !== 0 && macOff >= 0) {
      if (src !== this.#lastIp4 || this.#lastMac4 === null || !equalMac(this.#lastMac4, b, macOff)) {
        this.#learn4(src, b, macOff);
      }
    }
    if (h.mf || h.fragmentOffset !== 0) {
      this.stats.fragmentsIn++;
      const key = `${src}>${dst}/${h.protocol}#${h.id}`;
      const done = this.reassembly4.add(
        key,
        h.fragmentOffset,
        b.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength),
        h.mf,
        this.now(),
        b.subarray(off, off + IPV4_HLEN),
      );
      if (done === null || done.first === null) return;
      const r = this.#reasm;
      const total = IPV4_HLEN + done.payload.length;
      if (total > MAX_IP) return;
      r.set(done.first, 0);
      r.set(done.payload, IPV4_HLEN);
      writeIpv4(r, 0, total, (r[4]! << 8) | r[5]!, 0, r[8]!, r[9]!, readU32(r, 12), readU32(r, 16), r[1]!);
      this.#ipv4In(r, 0, total, -1);
      return;
    }
    const po = h.payloadOffset;
    const pl = h.payloadLength;
    switch (h.protocol) {
      case IPPROTO.TCP: {
        if (src === 0 || pl < 20) return;
        this.stats.tcpIn++;
        const srcV = b.subarray(h.offset + 12, h.offset + 16);
        const dstV = b.subarray(h.offset + 16, h.offset + 20);
        const seg = b.subarray(po, po + pl);
        if (!this.#mayReach4(dst)) {
          tcpReset(this, srcV, dstV, seg);
          return;
        }
        this.tcp.input(srcV, dstV, seg);
        return;
      }
      case IPPROTO.UDP:
        this.#udp4In(b, h.offset, po, pl, src, dst);
        return;
      case IPPROTO.ICMP:
        this.#icmp4In(b, po, pl, src, dst);
        return;
      default:
        this.stats.notForUs++;
    }
  }

  /** Whether the guest may send to `dst` (our addresses, the outside unless restricted). */
  #mayReach4(dst: number): boolean {
    const c = this.config;
    if (dst === c.gateway) return c.hostLoopback;
    if (dst === c.dns) return true;
    if (((dst & this.#mask) >>> 0) === c.network || dst >>> 28 >= 14 || dst === 0 || isIpv4Loopback(dst)) {
      return false;
    }
    if (c.restricted) {
      this.stats.restricted++;
      return false;
    }
    return true;
  }

  #icmp4In(b: Uint8Array, off: number, len: number, src: number, dst: number): void {
    const m = this.#icmp;
    const c = this.config;
    if (src === 0 || parseIcmpv4(b, off, len, m) !== null || m.type !== ICMP.ECHO_REQUEST) {
      this.stats.icmpDropped++;
      return;
    }
    if (dst === c.gateway || dst === c.dns) {
      // Answer in the transmit buffer: same data, type 0, addresses swapped.
      const t = this.#tx;
      const io = ETH_HLEN + IPV4_HLEN;
      t.set(b.subarray(off, off + len), io);
      writeIcmpv4(t, io, len, ICMP.ECHO_REPLY, 0, ((m.id << 16) | m.seq) >>> 0);
      writeIpv4(t, ETH_HLEN, IPV4_HLEN + len, this.#nextId(), 0, 64, IPPROTO.ICMP, dst, src);
      this.stats.icmpEchoLocal++;
      this.#send4(t, 0, io + len, src);
      return;
    }
    if (!this.pingAllowed[4] || !this.#mayReach4(dst)) {
      if (!this.pingAllowed[4]) this.#noPingSockets();
      this.stats.icmpDropped++;
      return;
    }
    const guest = new Uint8Array(4);
    writeU32(guest, 0, src);
    const flow = this.#pingFlow(4, guest, 0, m.id);
    if (flow === null) return;
    const to = new Uint8Array(4);
    writeU32(to, 0, dst);
    this.stats.icmpEchoOut++;
    if (flow.sock.sendTo(b, off, len, to, 0, 0) !== 0) this.stats.icmpDropped++;
  }

  #udp4In(b: Uint8Array, ipOff: number, off: number, len: number, src: number, dst: number): void {
    const u = this.#udp;
    const c = this.config;
    if (parseUdp(b, off, len, u) !== null || !udpChecksumOk(b, ipOff + 12, ipOff + 16, 4, off, u.length)) {
      this.stats.udpBad++;
      return;
    }
    this.stats.udpIn++;
    const po = u.payloadOffset;
    const pl = u.payloadLength;
    if (u.dstPort === DHCP_SERVER_PORT && (dst === 0xffffffff || dst === c.gateway || dst === this.#bcast)) {
      if (c.dhcp) this.#dhcpIn(b, po, pl);
      return;
    }
    if (src === 0) return;
    if (dst === c.dns) {
      if (u.dstPort === 53) {
        const g = new Uint8Array(4);
        writeU32(g, 0, src);
        this.dns.query(4, g, u.srcPort, b, po, pl);
      } else this.stats.udpDropped++;
      return;
    }
    // A reply of the guest to a client of an inbound forward leaves through that forward's socket.
    if (this.#peers.size > 0) {
      const key = `4|${src}|${u.srcPort}|${dst}|${u.dstPort}`;
      const peer = this.#peers.get(key);
      if (peer !== undefined) {
        peer.lastUsed = this.now();
        this.stats.udpOut++;
        if (peer.forward.sock.sendTo(b, po, pl, peer.addr, 0, peer.port) !== 0) this.stats.udpDropped++;
        return;
      }
    }
    if (!this.#mayReach4(dst)) {
      this.stats.udpDropped++;
      return;
    }
    const target = dst === c.gateway ? LOOPBACK4 : dst;
    const key = src * 65536 + u.srcPort;
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      const g = new Uint8Array(4);
      writeU32(g, 0, src);
      const made = this.#newFlow(key, 4, g, u.srcPort);
      if (made === null) return;
      flow = made;
    } else {
      // Most recently used last, so the first entry is the one to evict.
      this.#flows.delete(key);
      this.#flows.set(key, flow);
    }
    flow.lastUsed = this.now();
    const to = this.#gw4Scratch;
    writeU32(to, 0, target);
    this.stats.udpOut++;
    if (flow.sock.sendTo(b, po, pl, to, 0, u.dstPort) !== 0) this.stats.udpDropped++;
  }

  readonly #gw4Scratch = new Uint8Array(4);

  #dhcpIn(b: Uint8Array, off: number, len: number): void {
    const parsed = parseDhcp(b, off, len);
    if (!parsed.ok) return;
    const m = parsed.value;
    const reply = this.dhcp.handle(m, this.now());
    if (reply === null) return;
    const payload = buildDhcp(reply.spec);
    const t = this.#tx;
    const uo = ETH_HLEN + IPV4_HLEN;
    t.set(payload, uo + UDP_HLEN);
    writeIpv4(
      t,
      ETH_HLEN,
      IPV4_HLEN + UDP_HLEN + payload.length,
      this.#nextId(),
      0,
      64,
      IPPROTO.UDP,
      this.config.gateway,
      reply.dst,
    );
    writeUdp(t, uo, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, payload.length, ETH_HLEN + 12, ETH_HLEN + 16, 4);
    t.set(m.chaddr.subarray(0, 6), 0);
    this.#ethSrc(t, 0, ETH_P_IP);
    this.stats.dhcpReplies++;
    this.#emit(t.subarray(0, uo + UDP_HLEN + payload.length));
  }

  // ---------------------------------------------------------------------------
  // IPv6

  #isOurs6(b: Uint8Array, off: number): boolean {
    const c = this.config;
    return ipv6Equal(b, off, c.gateway6, 0) || ipv6Equal(b, off, c.dns6, 0) ||
      ipv6Equal(b, off, this.linkLocal, 0);
  }

  #ipv6In(b: Uint8Array, off: number, len: number, macOff: number): void {
    const h = this.#h6;
    this.stats.ipv6In++;
    if (parseIpv6(b, off, len, h) !== null) {
      this.stats.badIp++;
      return;
    }
    const so = h.srcOffset;
    const dOff = h.dstOffset;
    const unspecified = isIpv6Unspecified(b, so);
    if (!unspecified && !this.#isGuest6(b, so)) {
      this.stats.notForUs++;
      return;
    }
    if (!unspecified && macOff >= 0) {
      if (
        this.#lastMac6 === null || !ipv6Equal(this.#lastIp6, 0, b, so) || !equalMac(this.#lastMac6, b, macOff)
      ) {
        this.#learn6(b, so, b, macOff);
      }
      if (!isIpv6LinkLocal(b, so) && (this.#guest6 === null || !ipv6Equal(this.#guest6, 0, b, so))) {
        this.#guest6 = b.slice(so, so + 16);
      }
    }
    const multicast = isIpv6Multicast(b, dOff);
    if (h.fragmented) {
      this.stats.fragmentsIn++;
      const key = `${hex16(b, so)}>${hex16(b, dOff)}#${h.fragmentId}`;
      const done = this.reassembly6.add(
        key,
        h.fragmentOffset,
        b.subarray(h.dataOffset, h.dataOffset + h.dataLength),
        h.mf,
        this.now(),
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
      this.#ipv6In(r, 0, IPV6_HLEN + done.payload.length, -1);
      return;
    }
    const po = h.dataOffset;
    const pl = h.dataLength;
    switch (h.protocol) {
      case IPPROTO.ICMPV6:
        this.#icmp6In(b, po, pl, so, dOff, macOff, h.hopLimit);
        return;
      case IPPROTO.TCP: {
        if (unspecified || multicast || pl < 20) return;
        this.stats.tcpIn++;
        const srcV = b.subarray(so, so + 16);
        const dstV = b.subarray(dOff, dOff + 16);
        const seg = b.subarray(po, po + pl);
        if (!this.#mayReach6(b, dOff)) {
          tcpReset(this, srcV, dstV, seg);
          return;
        }
        this.tcp.input(srcV, dstV, seg);
        return;
      }
      case IPPROTO.UDP:
        if (unspecified || multicast) return;
        this.#udp6In(b, po, pl, so, dOff);
        return;
      default:
        this.stats.notForUs++;
    }
  }

  #mayReach6(b: Uint8Array, off: number): boolean {
    const c = this.config;
    if (ipv6Equal(b, off, c.gateway6, 0) || ipv6Equal(b, off, this.linkLocal, 0)) return c.hostLoopback;
    if (ipv6Equal(b, off, c.dns6, 0)) return true;
    if (
      isIpv6Multicast(b, off) || isIpv6LinkLocal(b, off) || isIpv6Loopback(b, off) ||
      isIpv6Unspecified(b, off) ||
      ipv6PrefixMatch(b, off, c.prefix6, 0, c.prefix6Length)
    ) return false;
    // IPv4-mapped addresses would reach IPv4 through the back door.
    if (b[off + 10] === 0xff && b[off + 11] === 0xff && b.subarray(off, off + 10).every((x) => x === 0)) {
      return false;
    }
    if (c.restricted) {
      this.stats.restricted++;
      return false;
    }
    return true;
  }

  #icmp6In(
    b: Uint8Array,
    off: number,
    len: number,
    so: number,
    dOff: number,
    macOff: number,
    hopLimit: number,
  ): void {
    const m = this.#icmp6;
    if (parseIcmpv6(b, off, len, so, dOff, m) !== null) {
      this.stats.icmpDropped++;
      return;
    }
    const type = m.type;
    if (
      type === ICMPV6.ROUTER_SOLICIT || type === ICMPV6.NEIGHBOR_SOLICIT || type === ICMPV6.NEIGHBOR_ADVERT
    ) {
      // NDP messages must come from the link itself.
      if (hopLimit !== 255) return;
      const n = this.#ndp;
      if (parseNdp(b, off, len, n) !== null) {
        this.stats.icmpDropped++;
        return;
      }
      const unspecified = isIpv6Unspecified(b, so);
      if (!unspecified && n.sourceMacOffset >= 0) this.#learn6(b, so, b, n.sourceMacOffset);
      if (type === ICMPV6.NEIGHBOR_ADVERT && n.targetMacOffset >= 0 && this.#isGuest6(b, n.targetOffset)) {
        this.#learn6(b, n.targetOffset, b, n.targetMacOffset);
      }
      if (type === ICMPV6.ROUTER_SOLICIT) {
        this.#sendRouterAdvert(unspecified ? null : b.slice(so, so + 16));
        return;
      }
      if (type === ICMPV6.NEIGHBOR_SOLICIT && this.#isOurs6(b, n.targetOffset)) {
        const t = this.#tx;
        const io = ETH_HLEN + IPV6_HLEN;
        const to = unspecified ? ALL_NODES : b.slice(so, so + 16);
        const target = b.slice(n.targetOffset, n.targetOffset + 16);
        const l = writeNeighborAdvert(t, io, target, this.mac, {
          router: true,
          solicited: !unspecified,
          override: true,
        });
        writeIpv6Header(t, ETH_HLEN, l, IPPROTO.ICMPV6, 255, target, to);
        finishIcmpv6(t, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
        if (unspecified) {
          this.#ethTo(t, 0, new Uint8Array([0x33, 0x33, 0, 0, 0, 1]), ETH_P_IPV6);
          this.#emit(t.subarray(0, io + l));
        } else if (macOff >= 0 || n.sourceMacOffset >= 0) {
          const mo = n.sourceMacOffset >= 0 ? n.sourceMacOffset : macOff;
          this.#ethTo(t, 0, b.subarray(mo, mo + 6), ETH_P_IPV6);
          this.#emit(t.subarray(0, io + l));
        } else this.#send6(t, 0, io + l, to, 0);
      }
      return;
    }
    if (type !== ICMPV6.ECHO_REQUEST || isIpv6Unspecified(b, so)) {
      this.stats.icmpDropped++;
      return;
    }
    if (this.#isOurs6(b, dOff)) {
      const t = this.#tx;
      const io = ETH_HLEN + IPV6_HLEN;
      t.set(b.subarray(off, off + len), io);
      t[io] = ICMPV6.ECHO_REPLY;
      writeIpv6Header(t, ETH_HLEN, len, IPPROTO.ICMPV6, 64, b, b, dOff, so);
      finishIcmpv6(t, io, len, ETH_HLEN + 8, ETH_HLEN + 24);
      this.stats.icmpEchoLocal++;
      this.#send6(t, 0, io + len, t, ETH_HLEN + 24);
      return;
    }
    if (!this.pingAllowed[6] || !this.#mayReach6(b, dOff)) {
      if (!this.pingAllowed[6]) this.#noPingSockets();
      this.stats.icmpDropped++;
      return;
    }
    const flow = this.#pingFlow(6, b, so, m.id);
    if (flow === null) return;
    this.stats.icmpEchoOut++;
    if (flow.sock.sendTo(b, off, len, b, dOff, 0) !== 0) this.stats.icmpDropped++;
  }

  #udp6In(b: Uint8Array, off: number, len: number, so: number, dOff: number): void {
    const u = this.#udp;
    const c = this.config;
    if (parseUdp(b, off, len, u) !== null || !udpChecksumOk(b, so, dOff, 16, off, u.length)) {
      this.stats.udpBad++;
      return;
    }
    this.stats.udpIn++;
    const po = u.payloadOffset;
    const pl = u.payloadLength;
    if (ipv6Equal(b, dOff, c.dns6, 0)) {
      if (u.dstPort === 53) this.dns.query(6, b.subarray(so, so + 16), u.srcPort, b, po, pl);
      else this.stats.udpDropped++;
      return;
    }
    if (this.#peers.size > 0) {
      const key = `6|${hex16(b, so)}|${u.srcPort}|${hex16(b, dOff)}|${u.dstPort}`;
      const peer = this.#peers.get(key);
      if (peer !== undefined) {
        peer.lastUsed = this.now();
        this.stats.udpOut++;
        if (peer.forward.sock.sendTo(b, po, pl, peer.addr, 0, peer.port) !== 0) this.stats.udpDropped++;
        return;
      }
    }
    if (!this.#mayReach6(b, dOff)) {
      this.stats.udpDropped++;
      return;
    }
    const key = `${hex16(b, so)}|${u.srcPort}`;
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      const made = this.#newFlow(key, 6, b.slice(so, so + 16), u.srcPort);
      if (made === null) return;
      flow = made;
    } else {
      this.#flows.delete(key);
      this.#flows.set(key, flow);
    }
    flow.lastUsed = this.now();
    const toGateway = ipv6Equal(b, dOff, c.gateway6, 0) || ipv6Equal(b, dOff, this.linkLocal, 0);
    this.stats.udpOut++;
    const r = toGateway
      ? flow.sock.sendTo(b, po, pl, LOOPBACK6, 0, u.dstPort)
      : flow.sock.sendTo(b, po, pl, b, dOff, u.dstPort);
    if (r !== 0) this.stats.udpDropped++;
  }

  #sendRouterAdvert(to: Uint8Array | null): void {
    const c = this.config;
    const t = this.#tx;
    const io = ETH_HLEN + IPV6_HLEN;
    const l = writeRouterAdvert(t, io, {
      mac: this.mac,
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
    writeIpv6Header(t, ETH_HLEN, l, IPPROTO.ICMPV6, 255, this.linkLocal, dst);
    finishIcmpv6(t, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
    this.stats.routerAdverts++;
    if (to === null) {
      this.#ethTo(t, 0, new Uint8Array([0x33, 0x33, 0, 0, 0, 1]), ETH_P_IPV6);
      this.#emit(t.subarray(0, io + l));
    } else this.#send6(t, 0, io + l, dst, 0);
  }

  // ---------------------------------------------------------------------------
  // Host to guest

  /** The address the guest sees for a host peer: loopback shows as the gateway. */
  #guestView4(a: number): number {
    return isIpv4Loopback(a) || inNetwork(this.config, a) ? this.config.gateway : a;
  }

  #guestView6(a: Uint8Array): Uint8Array {
    return isIpv6Loopback(a, 0) || ipv6PrefixMatch(a, 0, this.config.prefix6, 0, this.config.prefix6Length)
      ? this.config.gateway6
      : a;
  }

  /**
   * Sends a UDP payload to the guest. With `inPlace`, `b` has HEADROOM bytes
   * before `off` and the headers are written there; otherwise the payload
   * is copied into the transmit buffer.
   */
  #udpToGuest4(
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
    b: Uint8Array,
    off: number,
    len: number,
    inPlace: boolean,
  ): void {
    if (this.#closed || len + UDP_HLEN + IPV4_HLEN > MAX_IP) return;
    let buf = b;
    let uo = off - UDP_HLEN;
    if (!inPlace || off < HEADROOM) {
      buf = this.#tx;
      uo = ETH_HLEN + IPV4_HLEN;
      buf.set(b.subarray(off, off + len), uo + UDP_HLEN);
    }
    const io = uo - IPV4_HLEN;
    writeIpv4(buf, io, IPV4_HLEN + UDP_HLEN + len, this.#nextId(), 0, 64, IPPROTO.UDP, src, dst);
    writeUdp(buf, uo, srcPort, dstPort, len, io + 12, io + 16, 4);
    this.stats.udpIn++;
    this.#send4(buf, io - ETH_HLEN, ETH_HLEN + IPV4_HLEN + UDP_HLEN + len, dst);
  }

  #udpToGuest6(
    src: Uint8Array,
    srcPort: number,
    dst: Uint8Array,
    dstPort: number,
    b: Uint8Array,
    off: number,
    len: number,
    inPlace: boolean,
  ): void {
    if (this.#closed || len + UDP_HLEN > MAX_IP) return;
    let buf = b;
    let uo = off - UDP_HLEN;
    if (!inPlace || off < HEADROOM) {
      buf = this.#tx;
      uo = ETH_HLEN + IPV6_HLEN;
      buf.set(b.subarray(off, off + len), uo + UDP_HLEN);
    }
    const io = uo - IPV6_HLEN;
    // The source may be a view into `buf` itself (the receive buffer's address scratch is separate).
    writeIpv6Header(buf, io, UDP_HLEN + len, IPPROTO.UDP, 64, src, dst);
    writeUdp(buf, uo, srcPort, dstPort, len, io + 8, io + 24, 16);
    this.stats.udpIn++;
    this.#send6(buf, io - ETH_HLEN, ETH_HLEN + IPV6_HLEN + UDP_HLEN + len, buf, io + 24);
  }

  #newFlow(key: string | number, family: 4 | 6, guestAddr: Uint8Array, guestPort: number): UdpFlow | null {
    if (this.#flows.size >= MAX_UDP_FLOWS) {
      const oldest = this.#flows.values().next();
      if (!oldest.done) this.#closeFlow(oldest.value);
    }
    let sock: HostSocket;
    const flow = { key, family, guestAddr, guestPort, lastUsed: this.now() } as UdpFlow;
    try {
      sock = this.#net.openUdp(family, (buf, off, len, from, port) => {
        flow.lastUsed = this.now();
        if (family === 4) {
          this.#udpToGuest4(
            this.#guestView4(readU32(from, 0)),
            port,
            readU32(guestAddr, 0),
            guestPort,
            buf,
            off,
            len,
            true,
          );
        } else {
          this.#udpToGuest6(this.#guestView6(from), port, guestAddr, guestPort, buf, off, len, true);
        }
      });
    } catch (err) {
      this.#log(`cannot open a UDP socket for the guest: ${(err as Error).message}`);
      this.stats.udpDropped++;
      return null;
    }
    flow.sock = sock;
    this.#flows.set(key, flow);
    this.stats.udpFlows++;
    return flow;
  }

  #closeFlow(f: UdpFlow): void {
    f.sock.close();
    this.#flows.delete(f.key);
  }

  /** UDP flows open now. */
  get udpFlowCount(): number {
    return this.#flows.size;
  }

  #pingFlow(family: 4 | 6, guest: Uint8Array, guestOff: number, id: number): PingFlow | null {
    const alen = family === 4 ? 4 : 16;
    const key = `${family}|${family === 4 ? readU32(guest, guestOff) : hex16(guest, guestOff)}|${id}`;
    const known = this.#pings.get(key);
    if (known !== undefined) {
      known.lastUsed = this.now();
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
    const flow = { key, family, guestAddr, guestId: id, lastUsed: this.now() } as PingFlow;
    const sock = this.#net.openPing(
      family,
      (buf, off, len, from) => this.#pingReply(flow, buf, off, len, from),
    );
    if (sock === null) {
      this.stats.icmpDropped++;
      return null;
    }
    flow.sock = sock;
    this.#pings.set(key, flow);
    return flow;
  }

  #pingReply(flow: PingFlow, b: Uint8Array, off: number, len: number, from: Uint8Array): void {
    if (len < 8 || this.#closed) return;
    flow.lastUsed = this.now();
    if (flow.family === 4) {
      if (b[off] !== ICMP.ECHO_REPLY) return;
      const seq = (b[off + 6]! << 8) | b[off + 7]!;
      writeIcmpv4(b, off, len, ICMP.ECHO_REPLY, 0, ((flow.guestId << 16) | seq) >>> 0);
      const io = off - IPV4_HLEN;
      const dst = readU32(flow.guestAddr, 0);
      writeIpv4(
        b,
        io,
        IPV4_HLEN + len,
        this.#nextId(),
        0,
        64,
        IPPROTO.ICMP,
        this.#guestView4(readU32(from, 0)),
        dst,
      );
      this.#send4(b, io - ETH_HLEN, ETH_HLEN + IPV4_HLEN + len, dst);
      return;
    }
    if (b[off] !== ICMPV6.ECHO_REPLY) return;
    b[off + 4] = flow.guestId >>> 8;
    b[off + 5] = flow.guestId & 0xff;
    const io = off - IPV6_HLEN;
    writeIpv6Header(b, io, len, IPPROTO.ICMPV6, 64, this.#guestView6(from), flow.guestAddr);
    finishIcmpv6(b, off, len, io + 8, io + 24);
    this.#send6(b, io - ETH_HLEN, ETH_HLEN + IPV6_HLEN + len, flow.guestAddr, 0);
  }

  // ---------------------------------------------------------------------------
  // Forwards

  #defaultGuest(family: 4 | 6): Uint8Array | null {
    if (family === 6) return this.#guest6;
    const a = new Uint8Array(4);
    writeU32(a, 0, this.config.dhcpStart);
    return a;
  }

  #openUdpForward(spec: ForwardSpec): UdpForward {
    const fwd = { spec } as UdpForward;
    fwd.sock = this.#net.openUdp(
      spec.family,
      (buf, off, len, from, port) => {
        const guest = spec.guestAddr ?? this.#defaultGuest(spec.family);
        if (guest === null) {
          this.stats.udpDropped++;
          return;
        }
        const now = this.now();
        if (spec.family === 4) {
          const seen = this.#guestView4(readU32(from, 0));
          const g = readU32(guest, 0);
          this.#rememberPeer(`4|${g}|${spec.guestPort}|${seen}|${port}`, fwd, from.slice(0, 4), port, now);
          this.#udpToGuest4(seen, port, g, spec.guestPort, buf, off, len, true);
        } else {
          const seen = this.#guestView6(from);
          this.#rememberPeer(
            `6|${hex16(guest, 0)}|${spec.guestPort}|${hex16(seen, 0)}|${port}`,
            fwd,
            from.slice(0, 16),
            port,
            now,
          );
          this.#udpToGuest6(seen, port, guest, spec.guestPort, buf, off, len, true);
        }
      },
      spec.hostAddr,
      spec.hostPort,
    );
    this.#forwards.push(fwd);
    return fwd;
  }

  #rememberPeer(key: string, forward: UdpForward, addr: Uint8Array, port: number, now: number): void {
    const known = this.#peers.get(key);
    if (known !== undefined) {
      known.lastUsed = now;
      return;
    }
    if (this.#peers.size >= MAX_UDP_FLOWS) {
      const oldest = this.#peers.keys().next();
      if (!oldest.done) this.#peers.delete(oldest.value);
    }
    this.#peers.set(key, { forward, addr, port, lastUsed: now });
  }

  /** Lets a TCP engine own TCP forwards: it gets the configured ones and later changes. */
  attachTcpForwards(control: TcpForwardControl): ForwardSpec[] {
    this.#tcpControl = control;
    return [...this.#tcpForwards];
  }

  /**
   * Adds a forward at run time.
   *
   * @throws Error with a one-line reason (port taken, no TCP engine)
   */
  async addForward(spec: ForwardSpec): Promise<void> {
    if (this.forwards().some((f) => sameForward(f, spec))) {
      throw new Error(`forward ${formatForward(spec, this.config)} exists already`);
    }
    if (spec.proto === "udp") {
      this.#openUdpForward(spec);
      return;
    }
    if (this.#tcpControl === null) {
      throw new Error("TCP forwards need the TCP engine, which is not available");
    }
    await this.#tcpControl.addForward(spec);
    this.#tcpForwards.push(spec);
  }

  /** Removes a forward (matched on protocol, host address and host port); false when there was none. */
  async removeForward(spec: ForwardSpec): Promise<boolean> {
    if (spec.proto === "udp") {
      const i = this.#forwards.findIndex((f) => sameForward(f.spec, spec));
      if (i < 0) return false;
      const [fwd] = this.#forwards.splice(i, 1);
      fwd!.sock.close();
      for (const [k, p] of this.#peers) if (p.forward === fwd) this.#peers.delete(k);
      return true;
    }
    const i = this.#tcpForwards.findIndex((f) => sameForward(f, spec));
    if (i < 0) return false;
    if (this.#tcpControl !== null) await this.#tcpControl.removeForward(this.#tcpForwards[i]!);
    this.#tcpForwards.splice(i, 1);
    return true;
  }

  /** Every forward, TCP then UDP. */
  forwards(): ForwardSpec[] {
    return [...this.#tcpForwards, ...this.#forwards.map((f) => f.spec)];
  }

  /** The guest address a forward without one goes to (IPv6: the SLAAC address seen last). */
  guestAddress(family: 4 | 6): Uint8Array | null {
    return this.#defaultGuest(family);
  }

  // ---------------------------------------------------------------------------
  // Output

  /** Says once, when a guest first pings the outside, why only local addresses answer. */
  #noPingSockets(): void {
    if (this.#saidNoPing) return;
    this.#saidNoPing = true;
    this.#log(
      "a guest pinged the outside, but the host allows no unprivileged ICMP sockets " +
        "(sysctl net.ipv4.ping_group_range): only the gateway and DNS addresses answer pings",
    );
  }

  #nextId(): number {
    this.#ipId = (this.#ipId + 1) & 0xffff;
    return this.#ipId;
  }

  #ethSrc(b: Uint8Array, e: number, type: number): void {
    const m = this.mac;
    b[e + 6] = m[0]!;
    b[e + 7] = m[1]!;
    b[e + 8] = m[2]!;
    b[e + 9] = m[3]!;
    b[e + 10] = m[4]!;
    b[e + 11] = m[5]!;
    b[e + 12] = type >>> 8;
    b[e + 13] = type & 0xff;
  }

  #ethTo(b: Uint8Array, e: number, mac: Uint8Array, type: number): void {
    for (let i = 0; i < 6; i++) b[e + i] = mac[i]!;
    this.#ethSrc(b, e, type);
  }

  #emit(frame: Uint8Array): void {
    this.stats.framesOut++;
    this.#output(frame);
  }

  /** Sends the IPv4 frame `b[e, e+len)` to `dst`: MAC resolved (or queued), fragmented past the MTU. */
  #send4(b: Uint8Array, e: number, len: number, dst: number): void {
    this.#ethSrc(b, e, ETH_P_IP);
    if (len - ETH_HLEN > this.#mtu) {
      this.#fragment4(b, e, len, dst);
      return;
    }
    if (dst === 0xffffffff || dst === this.#bcast) {
      b.set(BROADCAST_MAC, e);
      this.#emit(b.subarray(e, e + len));
      return;
    }
    let mac = this.#lastIp4 === dst ? this.#lastMac4 : null;
    if (mac === null) {
      mac = this.#arpCache.get(dst) ?? null;
      if (mac !== null) {
        this.#lastIp4 = dst;
        this.#lastMac4 = mac;
      }
    }
    if (mac === null) {
      this.#enqueue(4, dst, b.slice(e, e + len));
      this.#solicit4(dst);
      return;
    }
    b[e] = mac[0]!;
    b[e + 1] = mac[1]!;
    b[e + 2] = mac[2]!;
    b[e + 3] = mac[3]!;
    b[e + 4] = mac[4]!;
    b[e + 5] = mac[5]!;
    this.#emit(b.subarray(e, e + len));
  }

  #fragment4(b: Uint8Array, e: number, len: number, dst: number): void {
    const io = e + ETH_HLEN;
    const hl = (b[io]! & 0x0f) * 4;
    const payload = len - ETH_HLEN - hl;
    const chunk = Math.floor((this.#mtu - IPV4_HLEN) / 8) * 8;
    const id = (b[io + 4]! << 8) | b[io + 5]!;
    const f = this.#frag;
    for (let at = 0; at < payload; at += chunk) {
      const n = Math.min(chunk, payload - at);
      const more = at + n < payload;
      f.set(b.subarray(io + hl + at, io + hl + at + n), ETH_HLEN + IPV4_HLEN);
      writeIpv4(
        f,
        ETH_HLEN,
        IPV4_HLEN + n,
        id,
        (more ? IPV4_MF : 0) | (at >>> 3),
        b[io + 8]!,
        b[io + 9]!,
        readU32(b, io + 12),
        readU32(b, io + 16),
        b[io + 1]!,
      );
      this.stats.fragmentsOut++;
      this.#send4(f, 0, ETH_HLEN + IPV4_HLEN + n, dst);
    }
  }

  #send6(b: Uint8Array, e: number, len: number, dstB: Uint8Array, dstOff: number): void {
    this.#ethSrc(b, e, ETH_P_IPV6);
    if (len - ETH_HLEN > this.#mtu) {
      this.#fragment6(b, e, len, dstB, dstOff);
      return;
    }
    if (isIpv6Multicast(dstB, dstOff)) {
      b[e] = 0x33;
      b[e + 1] = 0x33;
      for (let i = 0; i < 4; i++) b[e + 2 + i] = dstB[dstOff + 12 + i]!;
      this.#emit(b.subarray(e, e + len));
      return;
    }
    let mac = this.#lastMac6 !== null && ipv6Equal(this.#lastIp6, 0, dstB, dstOff) ? this.#lastMac6 : null;
    if (mac === null) {
      mac = this.#ndCache.get(hex16(dstB, dstOff)) ?? null;
      if (mac !== null) {
        for (let i = 0; i < 16; i++) this.#lastIp6[i] = dstB[dstOff + i]!;
        this.#lastMac6 = mac;
      }
    }
    if (mac === null) {
      const target = dstB.slice(dstOff, dstOff + 16);
      this.#enqueue(6, hex16(target, 0), b.slice(e, e + len));
      this.#solicit6(target);
      return;
    }
    for (let i = 0; i < 6; i++) b[e + i] = mac[i]!;
    this.#emit(b.subarray(e, e + len));
  }

  #fragment6(b: Uint8Array, e: number, len: number, dstB: Uint8Array, dstOff: number): void {
    const io = e + ETH_HLEN;
    const next = b[io + 6]!;
    const payload = len - ETH_HLEN - IPV6_HLEN;
    const chunk = Math.floor((this.#mtu - IPV6_HLEN - IPV6_FRAG_HLEN) / 8) * 8;
    const id = this.#fragId++ >>> 0;
    const f = this.#frag;
    const dst = dstB.slice(dstOff, dstOff + 16);
    for (let at = 0; at < payload; at += chunk) {
      const n = Math.min(chunk, payload - at);
      const more = at + n < payload;
      f.set(b.subarray(io, io + IPV6_HLEN), ETH_HLEN);
      f[ETH_HLEN + 4] = (IPV6_FRAG_HLEN + n) >>> 8;
      f[ETH_HLEN + 5] = (IPV6_FRAG_HLEN + n) & 0xff;
      f[ETH_HLEN + 6] = IPV6_NEXT_FRAGMENT;
      writeIpv6FragmentHeader(f, ETH_HLEN + IPV6_HLEN, next, at, more, id);
      f.set(b.subarray(io + IPV6_HLEN + at, io + IPV6_HLEN + at + n), ETH_HLEN + IPV6_HLEN + IPV6_FRAG_HLEN);
      this.stats.fragmentsOut++;
      this.#send6(f, 0, ETH_HLEN + IPV6_HLEN + IPV6_FRAG_HLEN + n, dst, 0);
    }
  }

  #enqueue(family: 4 | 6, key: string | number, frame: Uint8Array): void {
    if (this.#queue.length >= MAX_QUEUED) {
      this.#queue.shift();
      this.stats.neighbourDropped++;
    }
    this.#queue.push({ family, key, frame });
    this.stats.neighbourQueued++;
  }

  #flushQueue(key: string | number, mac: Uint8Array): void {
    if (this.#queue.length === 0) return;
    const keep: Queued[] = [];
    const ready: Queued[] = [];
    for (const q of this.#queue) (q.key === key ? ready : keep).push(q);
    if (ready.length === 0) return;
    this.#queue.length = 0;
    this.#queue.push(...keep);
    for (const q of ready) {
      q.frame.set(mac, 0);
      this.#emit(q.frame);
    }
  }

  #solicit4(ip: number): void {
    const now = this.now();
    if ((this.#lastSolicit.get(ip) ?? -Infinity) > now - 1000) return;
    if (this.#lastSolicit.size > 1024) this.#lastSolicit.clear();
    this.#lastSolicit.set(ip, now);
    const f = this.#frag;
    f.set(BROADCAST_MAC, 0);
    this.#ethSrc(f, 0, ETH_P_ARP);
    writeArp(f, ETH_HLEN, ARP_REQUEST, this.mac, this.config.gateway, new Uint8Array(6), ip);
    this.#emit(f.subarray(0, ETH_HLEN + 28));
  }

  #solicit6(target: Uint8Array): void {
    const key = hex16(target, 0);
    const now = this.now();
    if ((this.#lastSolicit.get(key) ?? -Infinity) > now - 1000) return;
    if (this.#lastSolicit.size > 1024) this.#lastSolicit.clear();
    this.#lastSolicit.set(key, now);
    const f = this.#frag;
    const io = ETH_HLEN + IPV6_HLEN;
    const l = writeNeighborSolicit(f, io, target, this.mac);
    const group = solicitedNode(target);
    const src = isIpv6LinkLocal(target, 0) ? this.linkLocal : this.config.gateway6;
    writeIpv6Header(f, ETH_HLEN, l, IPPROTO.ICMPV6, 255, src, group);
    finishIcmpv6(f, io, l, ETH_HLEN + 8, ETH_HLEN + 24);
    this.#ethTo(
      f,
      0,
      new Uint8Array([0x33, 0x33, group[12]!, group[13]!, group[14]!, group[15]!]),
      ETH_P_IPV6,
    );
    this.#emit(f.subarray(0, io + l));
  }

  // ---------------------------------------------------------------------------
  // Timers

  /** Sends what the TCP engine holds back for coalescing (ACKs); call after a batch of input. */
  flush(): void {
    if (this.#closed) return;
    (this.tcp as { flush?: () => void }).flush?.();
  }

  /** Runs timers: TCP, idle flows, DNS and reassembly timeouts, router advertisements. */
  poll(): void {
    if (this.#closed) return;
    const now = this.now();
    this.tcp.poll();
    if (now >= this.#nextRa) {
      this.#nextRa = now + RA_INTERVAL_MS;
      if (this.config.v6) this.#sendRouterAdvert(null);
    }
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1000;
    for (const f of [...this.#flows.values()]) if (now - f.lastUsed >= this.#udpIdleMs) this.#closeFlow(f);
    for (const [k, p] of this.#peers) if (now - p.lastUsed >= this.#udpIdleMs) this.#peers.delete(k);
    for (const [k, p] of this.#pings) {
      if (now - p.lastUsed >= PING_IDLE_MS) {
        p.sock.close();
        this.#pings.delete(k);
      }
    }
    this.dns.expire(now);
    this.reassembly4.expire(now);
    this.reassembly6.expire(now);
  }

  /** Milliseconds until `poll` needs to run. */
  nextTimerMs(): number {
    const now = this.now();
    const own = Math.max(0, Math.min(this.#nextSweep, this.config.v6 ? this.#nextRa : Infinity) - now);
    return Math.min(own, this.tcp.nextTimerMs());
  }

  /** Closes every host socket and the TCP engine. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.tcp.close();
    } catch { /* closing anyway */ }
    for (const f of this.#flows.values()) f.sock.close();
    this.#flows.clear();
    for (const f of this.#forwards) f.sock.close();
    this.#forwards.length = 0;
    for (const p of this.#pings.values()) p.sock.close();
    this.#pings.clear();
    this.dns.close();
  }

  /** A few lines describing the stack, for the console and `verbose`. */
  describe(): string[] {
    const c = this.config;
    return [
      `gateway ${formatIpv4(c.gateway)}/${c.prefixLength} dns ${formatIpv4(c.dns)} first lease ${
        formatIpv4(c.dhcpStart)
      }${c.v4 ? "" : " (IPv4 off)"}`,
      `gateway6 ${formatIpv6(c.gateway6)} prefix ${formatIpv6(c.prefix6)}/${c.prefix6Length} dns6 ${
        formatIpv6(c.dns6)
      }${c.v6 ? "" : " (IPv6 off)"}`,
      `mtu ${c.mtu}, host loopback ${c.hostLoopback ? "on" : "off"}${c.restricted ? ", restricted" : ""}`,
      `ICMP echo to the outside: ${this.pingAllowed[4] ? "on" : "gateway only"} (IPv4), ${
        this.pingAllowed[6] ? "on" : "gateway only"
      } (IPv6)`,
      `DNS upstream: ${
        this.dns.upstreams.map((u) =>
          `${u.family === 4 ? u.addr.join(".") : `[${formatIpv6(u.addr)}]`}:${u.port}`
        ).join(", ") || "none"
      }`,
      `UDP flows ${this.#flows.size}, ICMP flows ${this.#pings.size}, leases ${this.dhcp.leases().length}`,
    ];
  }

  /** MAC text of an address's neighbour entry, for tests and the console. */
  neighbour4(ip: number): string | undefined {
    const m = this.#arpCache.get(ip);
    return m === undefined ? undefined : macKey(m, 0);
  }
}

function equalMac(a: Uint8Array, b: Uint8Array, off: number): boolean {
  return a[0] === b[off] && a[1] === b[off + 1] && a[2] === b[off + 2] && a[3] === b[off + 3] &&
    a[4] === b[off + 4] && a[5] === b[off + 5];
}

function sameForward(a: ForwardSpec, b: ForwardSpec): boolean {
  if (a.proto !== b.proto || a.family !== b.family || a.hostPort !== b.hostPort) return false;
  const ha = a.hostAddr;
  const hb = b.hostAddr;
  if (ha === undefined || hb === undefined) return ha === hb;
  return ha.every((x, i) => x === hb[i]);
}
