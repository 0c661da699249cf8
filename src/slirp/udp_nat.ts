/**
 * UDP NAT of the slirp stack: the guest's datagrams leave through host
 * sockets, the answers come back as if from the address the guest wrote to.
 *
 * Theory of operation. One host socket per guest source address and port
 * (a "flow"), so a guest socket talking to many peers keeps one host port
 * as a NAT with endpoint-independent mapping does (RFC 4787 REQ-1). Flows
 * close after an idle timeout and at most `MAX_UDP_FLOWS` are open (the
 * least recently used is closed first: the map's order is its LRU list).
 * Traffic to the gateway goes to the host's loopback; a loopback source
 * coming back is shown as the gateway.
 *
 * Inbound forwards are host sockets bound to a configured port whose
 * datagrams go to a guest address and port with the client's real address;
 * the guest's replies to that client (matched as a "peer") leave through
 * the forwarded socket, so the client sees the port it wrote to. Peers are
 * a table of their own (`MAX_UDP_PEERS`), so the guest's own flows never
 * give way to forwards' clients. One client address (a source port each)
 * holds at most `MAX_UDP_PEERS_PER_CLIENT` of them and gives up its own
 * oldest past that; a full table gives up the oldest of the client holding
 * most. So a client spraying from many source ports pushes out its own
 * reply paths, not the others' (said once in the log). A client is an
 * IPv4 address, but all of 127.0.0.0/8 is one (any local user may send
 * from any of it), and an IPv6 /64 (one host's to spray from).
 *
 * A datagram the host cannot send (no route) is answered by the caller
 * with an ICMP error quoting it (`fromGuest4` answers the errno). A
 * datagram a destination refuses later (ICMP port unreachable on the host,
 * read from the socket's error queue) is told to the guest by `IcmpErrors`
 * with a header rebuilt from the flow.
 *
 * Host sockets receive with headroom, so `toGuest` writes the
 * UDP, IP and Ethernet headers in front of the payload in place; other
 * payloads (the DNS forwarder's) are copied into the transmit buffer.
 */
import { IPPROTO } from "../wire/ipv4.ts";
import { readU32, writeU32 } from "../wire/bytes.ts";
import { ipv6Equal } from "../wire/ipv6.ts";
import { ETH_HLEN } from "../wire/ethernet.ts";
import { UDP_HLEN, writeUdp } from "../wire/udp.ts";
import { formatIp } from "../wire/ip_address.ts";
import { forwardHostText, forwardListenFailure, type ForwardSpec } from "./config.ts";
import { HEADROOM, type HostNet, type HostSocket } from "./host_net.ts";
import { type IcmpErrors, problemOf } from "./icmp_errors.ts";
import { hex16, type Iface } from "./iface.ts";
import { type IpFamily, IPV4, IPV6 } from "./ip_family.ts";
import type { IpOutput } from "./ip_output.ts";

/** UDP flows kept open at once; the least recently used is closed to make room. */
export const MAX_UDP_FLOWS = 1024;
/** Reply paths of UDP forwards' clients kept at once (a table apart from the guest's flows). */
export const MAX_UDP_PEERS = 1024;
/** Reply paths one client address holds at most: a quarter of the table. */
export const MAX_UDP_PEERS_PER_CLIENT = MAX_UDP_PEERS / 4;
/** Default idle timeout of a UDP flow (libslirp keeps them 240 s). */
export const UDP_IDLE_MS = 240_000;

const LOOPBACK4 = 0x7f000001;
const LOOPBACK6 = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

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
  key: string;
  forward: UdpForward;
  /** Real address and port of the client. */
  addr: Uint8Array;
  port: number;
  lastUsed: number;
  /** The client's key in `#clients` (`clientKey`). */
  client: number | string;
}

/**
 * The share a forward's client at `from` (`len` bytes of address) counts against: its IPv4 address, but one
 * for all of 127.0.0.0/8, or its IPv6 /64.
 */
function clientKey(from: Uint8Array, len: 4 | 16): number | string {
  if (len === 16) return hex16(from, 0).slice(0, 16);
  const a = readU32(from, 0);
  return a >>> 24 === 127 ? 0x7f000000 : a;
}

/** The UDP NAT of one interface. */
export class UdpNat {
  readonly #iface: Iface;
  readonly #out: IpOutput;
  readonly #net: HostNet;
  readonly #idleMs: number;
  readonly #flows = new Map<string | number, UdpFlow>();
  readonly #forwards: UdpForward[] = [];
  readonly #peers = new Map<string, ForwardPeer>();
  /** Each client address's peers, oldest first. */
  readonly #clients = new Map<number | string, Set<ForwardPeer>>();
  /** A client's reaching its share was logged. */
  #saidShare = false;
  readonly #to4 = new Uint8Array(4);

  readonly #icmp: IcmpErrors;

  constructor(iface: Iface, out: IpOutput, icmp: IcmpErrors, net: HostNet, idleMs: number) {
    this.#iface = iface;
    this.#out = out;
    this.#icmp = icmp;
    this.#net = net;
    this.#idleMs = idleMs;
  }

  /** UDP flows open now. */
  get flowCount(): number {
    return this.#flows.size;
  }

  /**
   * A guest datagram (payload `b[po, po+pl)`) from `src:srcPort` to
   * `dst:dstPort` that is neither DHCP nor DNS.
   *
   * @returns 0, or the errno of a send that failed (the caller tells the guest)
   */
  fromGuest4(
    b: Uint8Array,
    po: number,
    pl: number,
    src: number,
    srcPort: number,
    dst: number,
    dstPort: number,
  ): number {
    const iface = this.#iface;
    const stats = iface.stats;
    // A reply of the guest to a client of an inbound forward leaves through that forward's socket.
    if (this.#peers.size > 0) {
      const peer = this.#peers.get(`4|${src}|${srcPort}|${dst}|${dstPort}`);
      if (peer !== undefined) return this.#toPeer(peer, b, po, pl);
    }
    if (!iface.mayReach4(dst)) {
      stats.udpDropped++;
      return 0;
    }
    const key = src * 65536 + srcPort;
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      const g = new Uint8Array(4);
      writeU32(g, 0, src);
      const made = this.#newFlow(key, 4, g, srcPort);
      if (made === null) return 0;
      flow = made;
    } else this.#touch(key, flow);
    const to = this.#to4;
    writeU32(to, 0, dst === iface.config.gateway ? LOOPBACK4 : dst);
    return this.#send(flow.sock, b, po, pl, to, 0, dstPort);
  }

  /** As `fromGuest4`; the addresses are at `b[so]` and `b[dOff]`. */
  fromGuest6(
    b: Uint8Array,
    po: number,
    pl: number,
    so: number,
    srcPort: number,
    dOff: number,
    dstPort: number,
  ): number {
    const iface = this.#iface;
    const stats = iface.stats;
    const c = iface.config;
    if (this.#peers.size > 0) {
      const peer = this.#peers.get(`6|${hex16(b, so)}|${srcPort}|${hex16(b, dOff)}|${dstPort}`);
      if (peer !== undefined) return this.#toPeer(peer, b, po, pl);
    }
    if (!iface.mayReach6(b, dOff)) {
      stats.udpDropped++;
      return 0;
    }
    const key = `${hex16(b, so)}|${srcPort}`;
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      const made = this.#newFlow(key, 6, b.slice(so, so + 16), srcPort);
      if (made === null) return 0;
      flow = made;
    } else this.#touch(key, flow);
    const toGateway = ipv6Equal(b, dOff, c.gateway6, 0) || ipv6Equal(b, dOff, iface.linkLocal, 0);
    return toGateway
      ? this.#send(flow.sock, b, po, pl, LOOPBACK6, 0, dstPort)
      : this.#send(flow.sock, b, po, pl, b, dOff, dstPort);
  }

  #toPeer(peer: ForwardPeer, b: Uint8Array, po: number, pl: number): number {
    peer.lastUsed = this.#iface.now();
    return this.#send(peer.forward.sock, b, po, pl, peer.addr, 0, peer.port);
  }

  /**
   * Sends one datagram. A send fails also when the socket holds an error
   * about an earlier datagram (Linux reports a pending ICMP error on the
   * next send); that one is told through the error queue, so the send is
   * tried once more and only a second failure is this datagram's.
   */
  #send(
    sock: HostSocket,
    b: Uint8Array,
    po: number,
    pl: number,
    to: Uint8Array,
    toOff: number,
    port: number,
  ): number {
    const stats = this.#iface.stats;
    stats.udpOut++;
    let r = sock.sendTo(b, po, pl, to, toOff, port);
    if (r !== 0) r = sock.sendTo(b, po, pl, to, toOff, port);
    if (r !== 0) stats.udpDropped++;
    return r;
  }

  /** Most recently used last, so the first entry is the one to evict. */
  #touch(key: string | number, flow: UdpFlow): void {
    this.#flows.delete(key);
    this.#flows.set(key, flow);
    flow.lastUsed = this.#iface.now();
  }

  /**
   * Sends a UDP payload to the guest over family `f` (IPv4 addresses are
   * numbers, IPv6 ones 16 bytes; an IPv6 `src` may be a view into `b`
   * itself: the receive buffer's address scratch is separate). With
   * `inPlace`, `b` has HEADROOM bytes before `off` and the headers are
   * written there; otherwise the payload is copied into the transmit
   * buffer.
   */
  toGuest<A>(
    f: IpFamily<A>,
    src: A,
    srcPort: number,
    dst: A,
    dstPort: number,
    b: Uint8Array,
    off: number,
    len: number,
    inPlace: boolean,
  ): void {
    if (this.#iface.closed || len + UDP_HLEN > f.maxPayload) return;
    const out = this.#out;
    let buf = b;
    let uo = off - UDP_HLEN;
    if (!inPlace || off < HEADROOM) {
      buf = out.tx;
      uo = ETH_HLEN + f.hlen;
      buf.set(b.subarray(off, off + len), uo + UDP_HLEN);
    }
    const io = uo - f.hlen;
    f.writeHeader(out, buf, io, UDP_HLEN + len, IPPROTO.UDP, src, dst);
    writeUdp(buf, uo, srcPort, dstPort, len, io + f.srcAt, io + f.dstAt, f.addrLen);
    this.#iface.stats.udpIn++;
    f.send(out, buf, io - ETH_HLEN, ETH_HLEN + f.hlen + UDP_HLEN + len);
  }

  #newFlow(key: string | number, family: 4 | 6, guestAddr: Uint8Array, guestPort: number): UdpFlow | null {
    const iface = this.#iface;
    if (this.#flows.size >= MAX_UDP_FLOWS) {
      const oldest = this.#flows.values().next();
      if (!oldest.done) this.#closeFlow(oldest.value);
    }
    let sock: HostSocket;
    const flow = { key, family, guestAddr, guestPort, lastUsed: iface.now() } as UdpFlow;
    try {
      sock = this.#net.openUdp(
        family,
        (buf, off, len, from, port) => {
          flow.lastUsed = iface.now();
          if (family === 4) {
            const g = readU32(guestAddr, 0);
            this.toGuest(IPV4, iface.guestView4(readU32(from, 0)), port, g, guestPort, buf, off, len, true);
          } else {
            this.toGuest(IPV6, iface.guestView6(from), port, guestAddr, guestPort, buf, off, len, true);
          }
        },
        undefined,
        0,
        (errno, info, dst, dstPort, payload) => this.#refused(flow, errno, info, dst, dstPort, payload),
      );
    } catch (err) {
      iface.log(`cannot open a UDP socket for the guest: ${(err as Error).message}`, "warning");
      iface.stats.udpDropped++;
      return null;
    }
    flow.sock = sock;
    this.#flows.set(key, flow);
    iface.stats.udpFlows++;
    return flow;
  }

  /** A host destination answered a flow's datagram with an ICMP error: the guest is told. */
  #refused(
    flow: UdpFlow,
    errno: number,
    info: number,
    dst: Uint8Array,
    dstPort: number,
    payload: Uint8Array,
  ) {
    const iface = this.#iface;
    const problem = problemOf(errno);
    if (problem === null || iface.closed) return;
    let far: Uint8Array;
    if (flow.family === 4) {
      far = new Uint8Array(4);
      writeU32(far, 0, iface.guestView4(readU32(dst, 0)));
    } else far = iface.guestView6(dst);
    // The UDP header's second word: length, and no checksum.
    const word2 = ((UDP_HLEN + payload.length) << 16) >>> 0;
    this.#icmp.aboutFlow(problem, info, 17, flow.guestAddr, flow.guestPort, far, dstPort, word2, payload);
  }

  #closeFlow(f: UdpFlow): void {
    f.sock.close();
    this.#flows.delete(f.key);
  }

  /**
   * Opens an inbound forward; returns it with the host port it listens on (the kernel's pick for 0).
   *
   * @throws Error with a one-line reason (the host port is taken: in the TCP engine's words)
   */
  openForward(spec: ForwardSpec): ForwardSpec {
    const iface = this.#iface;
    const fwd = { spec } as UdpForward;
    try {
      fwd.sock = this.#net.openUdp(
        spec.family,
        (buf, off, len, from, port) => {
          const guest = spec.guestAddr ?? iface.defaultGuest(spec.family);
          if (guest === null) {
            iface.stats.udpDropped++;
            return;
          }
          const now = iface.now();
          if (spec.family === 4) {
            const seen = iface.guestView4(readU32(from, 0));
            const g = readU32(guest, 0);
            const key = `4|${g}|${spec.guestPort}|${seen}|${port}`;
            this.#rememberPeer(key, fwd, from, 4, port, now);
            this.toGuest(IPV4, seen, port, g, spec.guestPort, buf, off, len, true);
          } else {
            const seen = iface.guestView6(from);
            const key = `6|${hex16(guest, 0)}|${spec.guestPort}|${hex16(seen, 0)}|${port}`;
            this.#rememberPeer(key, fwd, from, 16, port, now);
            this.toGuest(IPV6, seen, port, guest, spec.guestPort, buf, off, len, true);
          }
        },
        // Port 0 on the wildcard is bound too (explicitly: an unbound socket takes a port at its first send).
        spec.hostAddr ?? (spec.hostPort === 0 ? new Uint8Array(spec.family === 4 ? 4 : 16) : undefined),
        spec.hostPort,
      );
    } catch (err) {
      const guest = spec.guestAddr ?? iface.defaultGuest(spec.family);
      const to = guest === null ? `guest port ${spec.guestPort}` : `${formatIp(guest)}:${spec.guestPort}`;
      const why = forwardListenFailure("udp", forwardHostText(spec), spec.hostPort, to, err);
      throw why === undefined ? err : new Error(why);
    }
    if (spec.hostPort === 0) fwd.spec = { ...spec, hostPort: fwd.sock.localPort };
    this.#forwards.push(fwd);
    return fwd.spec;
  }

  /** Remembers the client at `from` (borrowed; `len` bytes of address) for the guest's replies. */
  #rememberPeer(
    key: string,
    forward: UdpForward,
    from: Uint8Array,
    len: 4 | 16,
    port: number,
    now: number,
  ): void {
    const known = this.#peers.get(key);
    if (known !== undefined) {
      known.lastUsed = now;
      return;
    }
    const client = clientKey(from, len);
    const mine = this.#clients.get(client) ?? new Set<ForwardPeer>();
    if (mine.size >= MAX_UDP_PEERS_PER_CLIENT) {
      this.#dropPeer(mine.values().next().value!);
      this.#sayShare(forward, from.subarray(0, len));
    } else if (this.#peers.size >= MAX_UDP_PEERS) {
      this.#dropPeer(this.#largestClient().values().next().value!);
    }
    const peer = { key, forward, addr: from.slice(0, len), port, lastUsed: now, client };
    this.#peers.set(key, peer);
    mine.add(peer);
    // (Set again: giving up its own last one above took an empty set out of the map.)
    this.#clients.set(client, mine);
  }

  /** The peers of the client address holding most (the table is full, so there is one). */
  #largestClient(): Set<ForwardPeer> {
    let most: Set<ForwardPeer> | undefined;
    for (const set of this.#clients.values()) {
      if (most === undefined || set.size > most.size) most = set;
      if (most.size >= MAX_UDP_PEERS_PER_CLIENT) break;
    }
    return most!;
  }

  #dropPeer(peer: ForwardPeer): void {
    this.#peers.delete(peer.key);
    const set = this.#clients.get(peer.client);
    if (set === undefined) return;
    set.delete(peer);
    if (set.size === 0) this.#clients.delete(peer.client);
  }

  #sayShare(forward: UdpForward, addr: Uint8Array): void {
    if (this.#saidShare) return;
    this.#saidShare = true;
    const host = forwardHostText(forward.spec);
    const fwd = `${forward.spec.family === 6 ? `[${host}]` : host}:${forward.spec.hostPort}`;
    const share = `${MAX_UDP_PEERS_PER_CLIENT} of ${MAX_UDP_PEERS}`;
    // Name the share as clientKey counts it: the loopback clients together, an IPv6 client by its /64.
    const who = addr.length === 4
      ? (addr[0] === 127 ? "the local clients (127.0.0.0/8) hold" : `client ${formatIp(addr)} holds`)
      : `client ${formatIp(addr)} (with its /64) holds`;
    this.#iface.log(
      `UDP forward ${fwd}: ${who} the most reply paths (source ports) one client may, ${share}: ` +
        `the oldest give way to new ones (said once)`,
      "warning",
    );
  }

  /** Closes the forward that `same` picks; false when there is none. */
  removeForward(same: (spec: ForwardSpec) => boolean): boolean {
    const i = this.#forwards.findIndex((f) => same(f.spec));
    if (i < 0) return false;
    const [fwd] = this.#forwards.splice(i, 1);
    fwd!.sock.close();
    for (const p of this.#peers.values()) if (p.forward === fwd) this.#dropPeer(p);
    return true;
  }

  /** The forwards open now. */
  forwards(): ForwardSpec[] {
    return this.#forwards.map((f) => f.spec);
  }

  /** Closes idle flows and forgets idle forward peers. */
  sweep(now: number): void {
    for (const f of [...this.#flows.values()]) if (now - f.lastUsed >= this.#idleMs) this.#closeFlow(f);
    for (const p of this.#peers.values()) if (now - p.lastUsed >= this.#idleMs) this.#dropPeer(p);
  }

  /** Closes every socket. */
  close(): void {
    for (const f of this.#flows.values()) f.sock.close();
    this.#flows.clear();
    for (const f of this.#forwards) f.sock.close();
    this.#forwards.length = 0;
  }
}
