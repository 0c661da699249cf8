/**
 * The slirp stack: a virtual gateway on an Ethernet segment that takes the
 * guest's traffic to the host's sockets. This file is the dispatcher; the
 * work is done by its parts, one file each.
 *
 * Theory of operation. `input(frame)` takes one Ethernet frame from the
 * guest side; frames for the guest leave through the sink's `output` (a
 * borrowed view of a reused buffer). The stack owns three virtual
 * addresses per family (gateway, DNS, and for IPv6 the gateway's
 * link-local address), all answered with one MAC. The parts:
 *
 * - iface.ts: the addresses and the policy (who is a guest, who may be
 *   reached, what the guest sees of a host peer), counters, the clock;
 * - neighbours.ts: ARP, the MAC caches and the frames waiting for them;
 * - gateway_guard.ts: probes for our addresses when bound to a link, and
 *   one line when another slirp on the switch claims them;
 * - ipv4_input.ts / ipv6_input.ts: checked IP input, reassembly, ICMP echo
 *   for our addresses, DHCP hand-off, router advertisements and NDP;
 * - udp_nat.ts and ping_nat.ts: UDP and ICMP echo through host sockets,
 *   inbound UDP forwards;
 * - ip_output.ts: MAC headers, fragmentation past the MTU;
 * - icmp_errors.ts: unreachable and too-big errors towards the guest;
 * - dhcp_server.ts, dns_forwarder.ts, tftp_server.ts, and TCP through a `TcpEngine`
 *   (src/slirp/tcp/api.ts), which gets segments and sends them back
 *   through `sendSegment`.
 *
 * Traffic to the gateway goes to the host's loopback (127.0.0.1, ::1)
 * unless host loopback is disabled; a loopback source coming back is shown
 * to the guest as the gateway, since the guest cannot route to 127/8.
 *
 * The data path writes headers in place in front of payloads (host sockets
 * receive with headroom, the TCP engine builds its segments with headroom)
 * and reuses one transmit buffer for the rest; the only copies are the
 * frames queued while a neighbour is being resolved.
 */
import { ETH_HLEN, etherType, isMulticast, macEquals, SRC_OFFSET } from "../wire/ethernet.ts";
import { ETH_P_ARP } from "../wire/arp.ts";
import { ETH_P_IP, formatIpv4, IPPROTO, IPV4_DF, IPV4_HLEN, writeIpv4 } from "../wire/ipv4.ts";
import { readU32 } from "../wire/bytes.ts";
import { ETH_P_IPV6, formatIpv6, IPV6_HLEN, writeIpv6Header } from "../wire/ipv6.ts";
import {
  firstLease,
  formatForward,
  formatGuestForward,
  type ForwardSpec,
  lastLease,
  type SlirpConfig,
} from "./config.ts";
import { DhcpServer } from "./dhcp_server.ts";
import { DnsForwarder, formatUpstream } from "./dns_forwarder.ts";
import { IcmpErrors } from "./icmp_errors.ts";
import type { HostNet } from "./host_net.ts";
import { Iface, MAX_IP, type StackSink, type StackStats } from "./iface.ts";
import { IPV4, IPV6 } from "./ip_family.ts";
import { IpOutput } from "./ip_output.ts";
import { Ipv4Input } from "./ipv4_input.ts";
import { Ipv6Input, RA_INTERVAL_MS } from "./ipv6_input.ts";
import { Neighbours } from "./neighbours.ts";
import { GatewayGuard } from "./gateway_guard.ts";
import { PingNat } from "./ping_nat.ts";
import type { Reassembler } from "./reassembly.ts";
import type { TcpCoreSide, TcpEngine } from "./tcp/api.ts";
import { createRefusingTcpEngine, tcpReset } from "./tcp_stub.ts";
import { TftpServer } from "./tftp_server.ts";
import { UDP_IDLE_MS, UdpNat } from "./udp_nat.ts";
import type { Severity } from "../os/syslog.ts";

export { MAX_UDP_FLOWS, UDP_IDLE_MS } from "./udp_nat.ts";
export { MAX_PING_FLOWS, PING_IDLE_MS } from "./ping_nat.ts";
export { RA_INTERVAL_MS } from "./ipv6_input.ts";
export { VDE_MAX_IP } from "./iface.ts";
export type { StackSink, StackStats } from "./iface.ts";

/** Control of TCP forwards that a TCP engine may offer. */
export interface TcpForwardControl {
  /** Listens for `spec`; returns the host port it listens on (the kernel's pick when `spec` asks 0). */
  addForward(spec: ForwardSpec): number | Promise<number>;
  removeForward(spec: ForwardSpec): boolean | Promise<boolean>;
}

/** A TCP engine for the stack, with the control of TCP forwards when it offers one. */
export interface TcpAttachment {
  engine: TcpEngine;
  control?: TcpForwardControl;
}

/** How the stack was started. */
export interface StackOptions {
  config: SlirpConfig;
  /** Receives each frame for the guest side (a borrowed view); or bind a sink later with `attach`. */
  output?: (frame: Uint8Array) => void;
  hostNet: HostNet;
  /** Milliseconds; performance.now() by default. */
  now?: () => number;
  /** Log lines (start-up notes, errors that deserve a line). */
  log?: (message: string, severity?: Severity) => void;
  /** Builds the TCP engine; a refusing stub when absent. */
  tcp?: (stack: SlirpStack) => TcpAttachment;
  /** DNS servers when the configuration names none (the host's resolv.conf). */
  resolvers?: SlirpConfig["dnsUpstream"];
  /** Whether ICMP echo may go to the host's ping sockets, per family. */
  pingAllowed?: { 4: boolean; 6: boolean };
  /** Idle timeout of UDP flows (tests shorten it). */
  udpIdleMs?: number;
}

/** The slirp stack. */
export class SlirpStack implements TcpCoreSide {
  readonly config: SlirpConfig;
  /** The MAC of the virtual gateway (52:55 and the gateway's IPv4 address, as libslirp). */
  readonly mac: Uint8Array;
  readonly linkLocal: Uint8Array;
  readonly stats: StackStats;
  readonly dhcp: DhcpServer;
  readonly dns: DnsForwarder;
  readonly reassembly4: Reassembler;
  readonly reassembly6: Reassembler;
  readonly tcp: TcpEngine;
  /** The TFTP server on the gateway, when the configuration names a directory. */
  readonly tftp: TftpServer | null;
  readonly pingAllowed: { 4: boolean; 6: boolean };
  readonly now: () => number;

  readonly #iface: Iface;
  #released: Promise<void> = Promise.resolve();
  readonly #neighbours: Neighbours;
  readonly #guard: GatewayGuard;
  readonly #out: IpOutput;
  readonly #udp: UdpNat;
  readonly #ping: PingNat;
  readonly #icmp: IcmpErrors;
  readonly #ipv4: Ipv4Input;
  readonly #ipv6: Ipv6Input;
  readonly #tcpForwards: ForwardSpec[] = [];
  readonly #tcpControl: TcpForwardControl | null;
  #nextRa = 0;
  #nextSweep = 0;

  constructor(options: StackOptions) {
    const c = options.config;
    this.config = c;
    this.now = options.now ?? (() => performance.now());
    this.pingAllowed = options.pingAllowed ?? { 4: false, 6: false };
    const output = options.output ?? (() => {});
    const iface = new Iface(
      c,
      { output, kick: () => {}, congested: () => false },
      this.now,
      options.log ?? (() => {}),
      this.pingAllowed,
    );
    this.#iface = iface;
    this.mac = iface.mac;
    this.linkLocal = iface.linkLocal;
    this.stats = iface.stats;
    this.#guard = new GatewayGuard(iface);
    this.#neighbours = new Neighbours(iface, this.#guard);
    this.#out = new IpOutput(iface, this.#neighbours);
    const net = options.hostNet;
    this.#icmp = new IcmpErrors(iface, this.#out);
    this.#udp = new UdpNat(iface, this.#out, this.#icmp, net, options.udpIdleMs ?? UDP_IDLE_MS);
    this.#ping = new PingNat(iface, this.#out, net, this.#icmp);
    const neighbours = this.#neighbours;
    this.dhcp = new DhcpServer(
      c,
      (ip) => neighbours.lookup4(ip),
      iface.log,
      (ip) => neighbours.seen4(ip),
      (ip) => neighbours.probe4(ip),
    );
    const udp = this.#udp;
    this.dns = new DnsForwarder(
      c.dnsUpstream ?? options.resolvers ?? [],
      net,
      (fam, addr, port, b, off, len, inPlace) => {
        if (fam === 4) udp.toGuest(IPV4, c.dns, 53, readU32(addr, 0), port, b, off, len, inPlace);
        else udp.toGuest(IPV6, c.dns6, 53, addr, port, b, off, len, inPlace);
      },
      this.now,
      iface.log,
    );
    this.tftp = c.tftpRoot === undefined ? null : new TftpServer(
      c.tftpRoot,
      (family, guest, port, b, off, len) => {
        if (family === 4) udp.toGuest(IPV4, c.gateway, 69, readU32(guest, 0), port, b, off, len, false);
        else udp.toGuest(IPV6, c.gateway6, 69, guest, port, b, off, len, false);
      },
      this.now,
      iface.log,
      // The largest DATA block that fits an IPv6 packet of the MTU (IPv6, UDP and TFTP headers).
      iface.mtu - IPV6_HLEN - 8 - 4,
    );
    const tcp = options.tcp?.(this) ?? { engine: createRefusingTcpEngine(this) };
    this.tcp = tcp.engine;
    this.#tcpControl = tcp.control ?? null;
    const parts = {
      out: this.#out,
      neighbours: this.#neighbours,
      guard: this.#guard,
      udp,
      ping: this.#ping,
      dhcp: this.dhcp,
      dns: this.dns,
      tcp: this.tcp,
      icmp: this.#icmp,
      tftp: this.tftp,
      refuseTcp: (src: Uint8Array, dst: Uint8Array, seg: Uint8Array) => tcpReset(this, src, dst, seg),
    };
    this.#ipv4 = new Ipv4Input(iface, parts);
    this.#ipv6 = new Ipv6Input(iface, parts);
    this.reassembly4 = this.#ipv4.reassembly;
    this.reassembly6 = this.#ipv6.reassembly;
    for (const f of c.forwards) {
      if (f.proto === "udp") this.#udp.openForward(f);
      else this.#tcpForwards.push(f);
    }
    const now = this.now();
    this.#neighbours.stamp(now);
    this.#nextRa = now;
    this.#nextSweep = now + 1000;
  }

  /** Binds where the stack's frames go (the link that carries the stack); probes for our addresses there. */
  attach(sink: StackSink): void {
    this.#iface.sink = sink;
    this.probeAddresses();
  }

  /** Probes for our addresses from now on (gateway_guard.ts): the link that carries the stack was plugged in. */
  probeAddresses(): void {
    this.#guard.arm(this.now());
  }

  /**
   * Called once the first probe after plugging in is answered or went unanswered (gateway_guard.ts's
   * `onProbed`): a `--daemon` start returns then. Set before plugging in.
   */
  set onProbed(call: (() => void) | null) {
    this.#guard.onProbed = call;
  }

  /**
   * Opens the configured TCP forwards through the TCP engine.
   *
   * @throws Error with a one-line reason (a host port is taken, no TCP engine)
   */
  async openTcpForwards(): Promise<void> {
    if (this.#tcpForwards.length === 0) return;
    if (this.#tcpControl === null) throw new Error("TCP forwards need the TCP engine, which is off");
    const forwards = this.#tcpForwards;
    for (let i = 0; i < forwards.length; i++) {
      forwards[i] = { ...forwards[i]!, hostPort: await this.#tcpControl.addForward(forwards[i]!) };
    }
  }

  /**
   * One line per configured forward, naming the host port it listens on; `picked` when that is the
   * kernel's pick (it asked for port 0), which a user learns only here.
   */
  describeForwards(): { line: string; picked: boolean }[] {
    // forwards() holds the configured ones in their order, TCP then UDP (none added or removed yet).
    const asked = this.config.forwards;
    const inOrder = [...asked.filter((f) => f.proto !== "udp"), ...asked.filter((f) => f.proto === "udp")];
    return this.forwards().map((f, i) => ({
      line: `forward ${formatForward(f, this.config)}`,
      picked: inOrder[i]?.hostPort === 0,
    }));
  }

  // ---------------------------------------------------------------------------
  // TcpCoreSide

  /** Implements TcpCoreSide.sendSegment: wraps a segment in IP and Ethernet towards the guest. */
  sendSegment(src: Uint8Array, dst: Uint8Array, segment: Uint8Array, frame?: Uint8Array): void {
    const iface = this.#iface;
    if (iface.closed) return;
    const out = this.#out;
    const len = segment.length;
    const v4 = src.length === 4;
    const head = ETH_HLEN + (v4 ? IPV4_HLEN : IPV6_HLEN);
    iface.stats.tcpOut++;
    iface.sink.kick();
    if (len + head - ETH_HLEN > MAX_IP) return;
    // The headers go in front of the segment where it was built, when its buffer has room there: a
    // jumbo segment is not copied once more (the TCP engine's segments come so).
    let b: Uint8Array = out.tx;
    let e = 0;
    const room = frame !== undefined && frame.buffer === segment.buffer
      ? segment.byteOffset - frame.byteOffset
      : -1;
    if (room >= head) {
      b = frame!;
      e = room - head;
    } else b.set(segment, head);
    if (v4) {
      const d = readU32(dst, 0);
      writeIpv4(b, e + ETH_HLEN, IPV4_HLEN + len, out.nextId(), IPV4_DF, 64, IPPROTO.TCP, readU32(src, 0), d);
      out.send4(b, e, head + len, d);
    } else {
      writeIpv6Header(b, e + ETH_HLEN, len, IPPROTO.TCP, 64, src, dst);
      out.send6(b, e, head + len, dst, 0);
    }
  }

  /** Implements TcpCoreSide.congested: the link the stack's frames go to is backed up. */
  congested(): boolean {
    return this.#iface.sink.congested();
  }

  /** The link the stack's frames go to drained: TCP sends what it held back. */
  resume(): void {
    if (!this.#iface.closed) this.tcp.resume?.();
  }

  /**
   * Implements TcpCoreSide.unreachable: the host had no route to where the
   * guest's SYN went; the guest gets "network/host unreachable" about it.
   */
  unreachable(
    guest: Uint8Array,
    guestPort: number,
    far: Uint8Array,
    farPort: number,
    seq: number,
    code: "net" | "host",
  ): void {
    if (this.#iface.closed) return;
    this.#icmp.aboutFlow(code, 0, IPPROTO.TCP, guest, guestPort, far, farPort, seq, new Uint8Array(0));
  }

  /** Implements TcpCoreSide.mss: the MTU less the IP and TCP headers. */
  mss(version: 4 | 6): number {
    return this.#iface.mtu - (version === 4 ? 40 : 60);
  }

  // ---------------------------------------------------------------------------
  // Input

  /** Takes one frame from the guest side (borrowed); never throws on hostile input. */
  input(frame: Uint8Array): void {
    const iface = this.#iface;
    if (iface.closed) return;
    const stats = iface.stats;
    stats.framesIn++;
    const len = frame.length;
    if (len < ETH_HLEN) {
      stats.badFrames++;
      return;
    }
    // Our MAC, broadcast or multicast (IPv6 neighbour discovery) only; and answers to our ARP probes.
    if (!isMulticast(frame, 0) && !macEquals(frame, 0, iface.mac)) {
      if (this.#guard.isProbeMac(frame, 0) && etherType(frame) === ETH_P_ARP && this.config.v4) {
        this.#neighbours.arpIn(frame);
      } else stats.notForUs++;
      return;
    }
    if (isMulticast(frame, SRC_OFFSET)) {
      stats.badFrames++;
      return;
    }
    const type = etherType(frame);
    if (type === ETH_P_IP) {
      if (this.config.v4) this.#ipv4.input(frame, ETH_HLEN, len - ETH_HLEN, SRC_OFFSET);
    } else if (type === ETH_P_IPV6) {
      if (this.config.v6) this.#ipv6.input(frame, ETH_HLEN, len - ETH_HLEN, SRC_OFFSET);
    } else if (type === ETH_P_ARP) {
      if (this.config.v4) this.#neighbours.arpIn(frame);
    } else stats.badFrames++;
  }

  // ---------------------------------------------------------------------------
  // Forwards

  /**
   * Adds a forward at run time; returns it with the host port it listens on (the kernel's pick for 0).
   *
   * @throws Error with a one-line reason (port taken, no TCP engine)
   */
  async addForward(spec: ForwardSpec): Promise<ForwardSpec> {
    if (this.forwards().some((f) => sameForward(f, spec))) {
      throw new Error(`forward ${formatForward(spec, this.config)} exists already`);
    }
    if (spec.proto === "udp") return this.#udp.openForward(spec);
    if (this.#tcpControl === null) {
      throw new Error("TCP forwards need the TCP engine, which is not available");
    }
    const bound = { ...spec, hostPort: await this.#tcpControl.addForward(spec) };
    this.#tcpForwards.push(bound);
    return bound;
  }

  /** Removes a forward (matched on protocol, host address and host port); false when there was none. */
  async removeForward(spec: ForwardSpec): Promise<boolean> {
    if (spec.proto === "udp") return this.#udp.removeForward((f) => sameForward(f, spec));
    const i = this.#tcpForwards.findIndex((f) => sameForward(f, spec));
    if (i < 0) return false;
    if (this.#tcpControl !== null) await this.#tcpControl.removeForward(this.#tcpForwards[i]!);
    this.#tcpForwards.splice(i, 1);
    return true;
  }

  /** Every forward, TCP then UDP. */
  forwards(): ForwardSpec[] {
    return [...this.#tcpForwards, ...this.#udp.forwards()];
  }

  /** The guest address a forward without one goes to (IPv6: the SLAAC address seen last). */
  guestAddress(family: 4 | 6): Uint8Array | null {
    return this.#iface.defaultGuest(family);
  }

  /** UDP flows open now. */
  get udpFlowCount(): number {
    return this.#udp.flowCount;
  }

  // ---------------------------------------------------------------------------
  // Timers

  /** Sends what the TCP engine holds back for coalescing (ACKs); call after a batch of input. */
  flush(): void {
    if (this.#iface.closed) return;
    this.tcp.flush?.();
  }

  /** Runs timers: TCP, idle flows, DNS and reassembly timeouts, router advertisements. */
  poll(): void {
    if (this.#iface.closed) return;
    const now = this.now();
    this.tcp.poll();
    this.tftp?.poll(now);
    this.#guard.poll(now);
    if (now >= this.#nextRa) {
      this.#nextRa = now + RA_INTERVAL_MS;
      if (this.config.v6) this.#ipv6.advertise(null);
    }
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 1000;
    this.#neighbours.stamp(now);
    this.#udp.sweep(now);
    this.#ping.sweep(now);
    this.dns.expire(now);
    this.reassembly4.expire(now);
    this.reassembly6.expire(now);
  }

  /** Milliseconds until `poll` needs to run. */
  nextTimerMs(): number {
    const now = this.now();
    const own = Math.max(
      0,
      Math.min(
        this.#nextSweep,
        this.config.v6 ? this.#nextRa : Infinity,
        this.tftp?.nextDeadline() ?? Infinity,
        this.#guard.nextProbe,
      ) - now,
    );
    return Math.min(own, this.tcp.nextTimerMs());
  }

  /**
   * Closes every host socket and the TCP engine; `released` then settles once
   * the TCP forwards' host ports are free to bind again.
   */
  close(): void {
    if (this.#iface.closed) return;
    this.#iface.closed = true;
    try {
      const released = this.tcp.close();
      if (released !== undefined) this.#released = released;
    } catch { /* closing anyway */ }
    this.#udp.close();
    this.#ping.close();
    this.tftp?.close();
    this.dns.close();
  }

  /** Once closed, settles when its TCP forwards' host ports are free to bind again. */
  get released(): Promise<void> {
    return this.#released;
  }

  /**
   * The boot file DHCP announces that the TFTP directory cannot serve now (not there yet, a name mistyped),
   * said on the start line: the guest's ROM would find it missing alone, after its DHCP, where the user
   * sees only a boot that failed. A URL (iPXE chainloading over HTTP) is no file of the directory's.
   */
  #bootfileMissing(): string {
    const name = this.config.bootfile;
    if (this.tftp === null || name === undefined || name.includes("://")) return "";
    const why = this.tftp.cannotServe(name);
    return why === null ? "" : `; bootfile ${name} cannot be served from ${this.tftp.root} (${why})`;
  }

  /** A few lines describing the stack, for the console and `verbose`. */
  describe(): string[] {
    const c = this.config;
    return [
      // The first lease skips the static hosts reserved since the start (a lab's reserveStatics), as DHCP does.
      addressesLine({ ...c, reserved: this.dhcp.reserved }) + this.#bootfileMissing(),
      `gateway6 ${formatIpv6(c.gateway6)} prefix ${formatIpv6(c.prefix6)}/${c.prefix6Length} dns6 ${
        formatIpv6(c.dns6)
      }${c.v6 ? "" : " (IPv6 off)"}`,
      `mtu ${c.mtu}, host loopback ${c.hostLoopback ? "on" : "off"}${c.restricted ? ", restricted" : ""}`,
      `ICMP echo to the outside: ${this.pingAllowed[4] ? "on" : "gateway only"} (IPv4), ${
        this.pingAllowed[6] ? "on" : "gateway only"
      } (IPv6)`,
      `DNS upstream: ${
        this.dns.upstreams.map(formatUpstream).join(", ") || "none"
      }; queries ${this.dns.stats.queries}, answers ${this.dns.stats.answers}, timed out ${this.dns.stats.timeouts}`,
      ...c.guestForwards.map(formatGuestForward),
      ...(this.tftp === null ? [] : [
        `TFTP from ${this.tftp.root}: transfers ${this.tftp.transferCount} in progress, ${this.tftp.completed} finished`,
      ]),
      `UDP flows ${this.#udp.flowCount}, ICMP flows ${this.#ping.flowCount}, leases ${this.dhcp.leases().length}`,
      ...(this.#guard.conflict === null
        ? []
        : [`gateway conflict: ${this.#guard.conflict} (another slirp?)`]),
      ...(this.#guard.dnsTaken === null
        ? []
        : [`DNS address taken: ${this.#guard.dnsTaken} (a host has it; ARP for it not answered)`]),
      ...(this.#guard.dns6Taken === null ? [] : [
        `IPv6 DNS address taken: ${this.#guard.dns6Taken} (a host has it; neighbour solicitations for it not answered)`,
      ]),
    ];
  }

  /** MAC text of an address's neighbour entry, for tests and the console. */
  neighbour4(ip: number): string | undefined {
    return this.#neighbours.describe4(ip);
  }
}

function sameForward(a: ForwardSpec, b: ForwardSpec): boolean {
  if (a.proto !== b.proto || a.family !== b.family || a.hostPort !== b.hostPort) return false;
  const ha = a.hostAddr;
  const hb = b.hostAddr;
  if (ha === undefined || hb === undefined) return ha === hb;
  return ha.every((x, i) => x === hb[i]);
}

/**
 * describe()'s first line, of the configuration alone: the gateway, DNS and
 * first lease, as `vde status` shows a slirp node whose stack runs in
 * another process (a rootless lab's, outside its namespaces).
 */
export function addressesLine(c: SlirpConfig): string {
  return `gateway ${formatIpv4(c.gateway)}/${c.prefixLength} dns ${formatIpv4(c.dns)} ${firstLeaseText(c)}${
    c.v4 ? "" : " (IPv4 off)"
  }${bootfileUnserved(c)}`;
}

/**
 * The start line's word on DHCP: the address it hands out first (not the configured first lease when that
 * is the gateway's or the DNS's, which DHCP skips), or that it has none to hand out.
 */
function firstLeaseText(c: SlirpConfig): string {
  const first = firstLease(c);
  if (first !== null) return `first lease ${formatIpv4(first)}`;
  const [start, last] = [formatIpv4(c.dhcpStart), formatIpv4(lastLease(c))];
  return c.dhcpStart > lastLease(c)
    ? `no DHCP lease (the first lease ${start} is past the network's last host ${last})`
    : `no DHCP lease (none free from ${start} to ${last})`;
}

/**
 * A bootfile announced with nothing to serve it (no tftp directory here, no
 * other TFTP server named): the guest's PXE ROM asks the gateway and times
 * out, which libslirp leaves unsaid; said on the start line instead.
 */
function bootfileUnserved(c: SlirpConfig): string {
  if (c.bootfile === undefined || c.tftpRoot !== undefined || c.tftpServerName !== undefined) return "";
  return `; bootfile ${c.bootfile} but no TFTP directory serves it (--tftp DIR, or tftp_path=DIR in slirp://)`;
}
