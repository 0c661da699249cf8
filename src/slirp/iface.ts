/**
 * What every part of the slirp stack shares: who is who on the virtual LAN,
 * the clock, the counters, and the one way out to the guest.
 *
 * Theory of operation. The stack is one logical interface split into
 * sibling parts (neighbours, IPv4 input, IPv6 input, UDP NAT, ping NAT, IP
 * output); they all hold the same `Iface`. It answers the address questions
 * every part asks (is this the guest, may the guest reach that, what does the
 * guest see for a host peer) from the configuration alone, so the policy
 * lives in one place. `emit` is where finished frames leave; the sink is
 * bound late (`attach`) so a stack can be built before the link that carries
 * it, and frames made before that are counted and dropped.
 */
import { ETH_HLEN, VDE_MAX_FRAME } from "../wire/ethernet.ts";
import { isIpv4Loopback, prefixMask } from "../wire/ipv4.ts";
import { writeU32 } from "../wire/bytes.ts";
import {
  ipv6Equal,
  ipv6PrefixMatch,
  isIpv6LinkLocal,
  isIpv6Loopback,
  isIpv6Multicast,
  isIpv6Unspecified,
  linkLocalFromMac,
} from "../wire/ipv6.ts";
import { firstLease, inNetwork, type SlirpConfig } from "./config.ts";
import type { Severity } from "../os/syslog.ts";

/** Largest IP packet. */
export const MAX_IP = 65535;
/** Largest IP packet a VDE frame carries (9234 bytes less the header and a VLAN tag). */
export const VDE_MAX_IP = VDE_MAX_FRAME - ETH_HLEN - 4;

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
  icmpErrorsOut: number;
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
  /** Frames from another port claiming one of our addresses (gateway_guard.ts). */
  gatewayConflicts: number;
}

function newStats(): StackStats {
  return {
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
    icmpErrorsOut: 0,
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
    gatewayConflicts: 0,
  };
}

/** Where the stack's frames go, and how it tells the link about them. */
export interface StackSink {
  /** Receives each frame for the guest side (a borrowed view). */
  output(frame: Uint8Array): void;
  /** Called when the TCP engine sent something (its timers may have moved). */
  kick(): void;
  /** Whether the link the stack's frames go to is backed up (TCP then holds new data). */
  congested(): boolean;
}

/** The shared state of one slirp interface. */
export class Iface {
  readonly config: SlirpConfig;
  /** The MAC of the virtual gateway (52:55 and the gateway's IPv4 address, as libslirp). */
  /** A host on the switch has the DNS address (gateway_guard.ts `dnsClaimed`): it is a guest's then. */
  dnsHeldByHost = false;
  /** A host on the switch has the IPv6 DNS address (gateway_guard.ts `dns6Claimed`): it is a guest's then. */
  dns6HeldByHost = false;
  readonly mac: Uint8Array;
  readonly linkLocal: Uint8Array;
  readonly stats: StackStats = newStats();
  readonly now: () => number;
  readonly log: (message: string, severity?: Severity) => void;
  readonly mask: number;
  readonly bcast: number;
  /** The MTU packets are cut to: the configured one, at most what a VDE frame carries. */
  readonly mtu: number;
  /** Whether ICMP echo may go to the host's ping sockets, per family. */
  readonly pingAllowed: { 4: boolean; 6: boolean };
  sink: StackSink;
  closed = false;
  /** The guest's IPv6 address seen last (global, in the prefix), for forwards without one. */
  guest6: Uint8Array | null = null;
  /** Virtual IPv4 addresses of guest forwards: answered like the stack's own, reachable from the guest. */
  readonly virtual4: ReadonlySet<number>;
  #saidNoPing = false;

  constructor(
    config: SlirpConfig,
    sink: StackSink,
    now: () => number,
    log: (message: string, severity?: Severity) => void,
    pingAllowed: { 4: boolean; 6: boolean },
  ) {
    const c = config;
    this.config = c;
    this.pingAllowed = pingAllowed;
    this.virtual4 = new Set(c.guestForwards.map((f) => f.addr));
    this.sink = sink;
    this.now = now;
    this.log = log;
    this.mask = prefixMask(c.prefixLength);
    this.mtu = Math.min(c.mtu, VDE_MAX_IP);
    this.bcast = (c.network | ~this.mask) >>> 0;
    this.mac = new Uint8Array([
      0x52,
      0x55,
      c.gateway >>> 24,
      (c.gateway >>> 16) & 255,
      (c.gateway >>> 8) & 255,
      c.gateway & 255,
    ]);
    this.linkLocal = linkLocalFromMac(this.mac);
  }

  /** Says once, when a guest first pings the outside, why only local addresses answer. */
  noPingSockets(): void {
    if (this.#saidNoPing) return;
    this.#saidNoPing = true;
    this.log(
      "a guest pinged the outside, but the host allows no unprivileged ICMP sockets " +
        "(sysctl net.ipv4.ping_group_range): only the gateway and DNS addresses answer pings",
    );
  }

  /** Sends one finished frame towards the guest. */
  emit(frame: Uint8Array): void {
    this.stats.framesOut++;
    this.sink.output(frame);
  }

  /** Whether `a` may be a guest's IPv4 address (in the network, none of ours, not broadcast). */
  isGuest4(a: number): boolean {
    const c = this.config;
    return ((a & this.mask) >>> 0) === c.network && a !== c.gateway && (a !== c.dns || this.dnsHeldByHost) &&
      a !== this.bcast && a !== c.network && !this.virtual4.has(a);
  }

  /** Whether the IPv6 address at `b[off]` may be a guest's (link-local, or in the prefix and not ours). */
  isGuest6(b: Uint8Array, off: number): boolean {
    const c = this.config;
    if (isIpv6LinkLocal(b, off)) return !ipv6Equal(b, off, this.linkLocal, 0);
    return ipv6PrefixMatch(b, off, c.prefix6, 0, c.prefix6Length) && !ipv6Equal(b, off, c.gateway6, 0) &&
      (this.dns6HeldByHost || !ipv6Equal(b, off, c.dns6, 0));
  }

  /** Whether the IPv6 address at `b[off]` is one the stack answers for. */
  isOurs6(b: Uint8Array, off: number): boolean {
    const c = this.config;
    return ipv6Equal(b, off, c.gateway6, 0) || ipv6Equal(b, off, c.dns6, 0) ||
      ipv6Equal(b, off, this.linkLocal, 0);
  }

  /** Whether the guest may send to `dst` (our addresses, the outside unless restricted). */
  mayReach4(dst: number): boolean {
    const c = this.config;
    if (dst === c.gateway) return c.hostLoopback;
    if (dst === c.dns || this.virtual4.has(dst)) return true;
    if (((dst & this.mask) >>> 0) === c.network || dst >>> 28 >= 14 || dst === 0 || isIpv4Loopback(dst)) {
      return false;
    }
    if (c.restricted) {
      this.stats.restricted++;
      return false;
    }
    return true;
  }

  /** Whether the guest may send to the IPv6 address at `b[off]`. */
  mayReach6(b: Uint8Array, off: number): boolean {
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

  /** The address the guest sees for a host peer: loopback shows as the gateway. */
  guestView4(a: number): number {
    return isIpv4Loopback(a) || inNetwork(this.config, a) ? this.config.gateway : a;
  }

  /** The IPv6 address the guest sees for a host peer. */
  guestView6(a: Uint8Array): Uint8Array {
    return isIpv6Loopback(a, 0) || ipv6PrefixMatch(a, 0, this.config.prefix6, 0, this.config.prefix6Length)
      ? this.config.gateway6
      : a;
  }

  /** The guest address a forward without one goes to (IPv6: the SLAAC address seen last). */
  defaultGuest(family: 4 | 6): Uint8Array | null {
    if (family === 6) return this.guest6;
    const a = new Uint8Array(4);
    writeU32(a, 0, firstLease(this.config) ?? this.config.dhcpStart);
    return a;
  }
}

/** The IPv6 address at `b[off]` as 32 hex digits: a map key. */
export function hex16(b: Uint8Array, off: number): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += (b[off + i]! + 0x100).toString(16).slice(1);
  return s;
}
