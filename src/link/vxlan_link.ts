/**
 * `vxlan://[GROUP][/port=N/vni=N/ttl=N/...]`: a LAN over a VXLAN multicast
 * group, wire compatible with vdeplug4's vxlan plugin (spec 3.7) and so with
 * Linux `type vxlan` devices and other VXLAN fabrics. Also the learning
 * table and option parsing that vxvde:// shares.
 *
 * Theory of operation: one UDP socket per VXLAN port (4789) in the process,
 * bound to the wildcard address and shared by every vxlan:// link on that
 * port, which it tells apart by VNI (a VxlanPort), as Linux's vxlan devices
 * share one socket per port. It joins each link's group (239.0.0.1 by
 * default), multicast loop off, TTL 1 by default. Each datagram is the
 * 8-byte VXLAN header and a frame. Received frames teach the link's table
 * which VTEP (sender address, with the port set to the VXLAN port) holds
 * their source MAC; a frame sent to a known unicast MAC goes to that VTEP,
 * anything else to the group. The table is direct-mapped like vdeplug4's (a
 * collision overwrites), its entries expire after `expiretime` seconds (128).
 *
 * A host is one VTEP per port: a peer sends unicast to this host's address
 * and the port, so a second socket on the port (SO_REUSEADDR) would take
 * frames meant for the first. Another process on the port (a second `vde
 * plug vxlan://`, Debian's vde_plug, a kernel vxlan device) is therefore
 * refused with a line that says so, as vdeplug4's bind fails there too.
 */
import {
  dstMacHi,
  dstMacLo,
  isFrameLength,
  isMulticast,
  srcMacHi,
  srcMacLo,
  VDE_MAX_FRAME,
} from "../wire/ethernet.ts";
import {
  anyAddress,
  formatIp,
  type IpAddress,
  ipFamily,
  ipLiteral,
  isMulticastIp,
  parseIpText,
} from "../wire/ip_address.ts";
import { encodeSockaddr, formatSockaddr, setSockaddrPort, SOCKADDR_MAX } from "../io/sockaddr.ts";
import { equalAt } from "../wire/bytes.ts";
import { parseSize, parseSlashParams } from "./vnl_params.ts";
import { MAX_VNI, VXLAN_HEADER_SIZE, vxlanHeader, vxlanVni } from "../wire/vxlan.ts";
import { lookupGroup } from "../os/users.ts";
import { poller } from "../io/poller.ts";
import { BaseLink, logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { type InetDatagramHandler, InetDgramSocket, interfaceIndex } from "../io/inet_dgram.ts";
import { isErrno } from "../io/unix_dgram.ts";
import { C } from "../../ffi/libc.ts";

/**
 * MacAddressTable maps a MAC to the socket address it was last seen from:
 * direct-mapped, a power-of-two number of slots, entries that expire.
 */
export class MacAddressTable {
  readonly size: number;
  readonly expireMs: number;
  readonly #mask: number;
  readonly #hi: Int32Array;
  readonly #lo: Uint32Array;
  readonly #seen: Float64Array;
  readonly #addr: (Uint8Array | null)[];
  readonly #addrLen: Uint8Array;

  constructor(size: number, expireSeconds: number) {
    let n = 1;
    while (n < Math.max(1, Math.min(size, 1 << 20))) n <<= 1;
    this.size = n;
    this.#mask = n - 1;
    this.expireMs = expireSeconds * 1000;
    this.#hi = new Int32Array(n).fill(-1);
    this.#lo = new Uint32Array(n);
    this.#seen = new Float64Array(n);
    this.#addr = new Array(n).fill(null);
    this.#addrLen = new Uint8Array(n);
  }

  #slot(hi: number, lo: number): number {
    return (Math.imul(lo ^ (hi << 7), 0x9e3779b1) >>> 12) & this.#mask;
  }

  /** Records that the MAC (hi, lo) was seen from `sockaddr` at `now` (ms). */
  learn(hi: number, lo: number, sockaddr: Uint8Array, now: number): void {
    const i = this.#slot(hi, lo);
    let a = this.#addr[i]!;
    if (
      this.#hi[i] === hi && this.#lo[i] === lo && a !== null && this.#addrLen[i] === sockaddr.length &&
      equalAt(a, 0, sockaddr, 0, sockaddr.length)
    ) {
      this.#seen[i] = now;
      return;
    }
    a ??= new Uint8Array(SOCKADDR_MAX);
    a.set(sockaddr);
    this.#addr[i] = a;
    this.#addrLen[i] = sockaddr.length;
    this.#hi[i] = hi;
    this.#lo[i] = lo;
    this.#seen[i] = now;
  }

  /** The socket address of the MAC (hi, lo), or null when unknown or expired; a view, valid until the next learn. */
  lookup(hi: number, lo: number, now: number): Uint8Array | null {
    const i = this.#slot(hi, lo);
    const a = this.#addr[i]!;
    if (a === null || this.#hi[i] !== hi || this.#lo[i] !== lo || now - this.#seen[i]! > this.expireMs) {
      return null;
    }
    return a.subarray(0, this.#addrLen[i]!);
  }

  /** Forgets every entry pointing at `sockaddr` (a vxvde peer that left); returns how many. */
  forgetAddress(sockaddr: Uint8Array): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const a = this.#addr[i]!;
      if (a === null || this.#addrLen[i] !== sockaddr.length) continue;
      if (equalAt(a, 0, sockaddr, 0, sockaddr.length)) {
        this.#hi[i] = -1;
        this.#addr[i] = null;
        n++;
      }
    }
    return n;
  }

  /** Entries that are live at `now`. */
  count(now: number): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.#addr[i] !== null && this.#hi[i]! >= 0 && now - this.#seen[i]! <= this.expireMs) n++;
    }
    return n;
  }
}

/**
 * Receive buffer of a vxlan:// or vxvde:// socket unless rcvbuf= says
 * otherwise. The kernel's default (208 KiB, about 170 small datagrams) is
 * less than one burst of a peer that was descheduled a few hundred ms and
 * then sends what piled up: a burst waits in the kernel instead of being
 * dropped there (as vde:// sockets do).
 */
export const DEFAULT_RCVBUF = 1 << 20;

/** Options of vxlan:// and vxvde:// after parsing. */
export interface VxOptions {
  group: IpAddress;
  port: number;
  vni: number;
  ttl: number;
  rcvbuf?: number;
  hashSize: number;
  expireSeconds: number;
  /** Interface name for multicast (if=). */
  ifName?: string;
  /** vxvde: local address of the unicast socket (bind=). */
  bind?: IpAddress;
}

/** Defaults that differ between the two schemes. */
export interface VxDefaults {
  scheme: "vxlan" | "vxvde";
  port: number;
  keys: readonly string[];
}

const V4_GROUP = "239.0.0.1";
const V6_GROUP = "ff05:56de::1";

function int(value: string, key: string, scheme: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new Error(`${scheme}:// ${key} must be a number from 0 to ${max}, got "${value}"`);
  }
  return Number(value);
}

function gid(value: string, key: string, scheme: string): number {
  const g = lookupGroup(value);
  if (g === undefined) throw new Error(`${scheme}:// ${key}: no group "${value}"`);
  return g;
}

/** Parses the options of a vxlan:// or vxvde:// VNL; throws with a one-line reason. */
export function parseVxVnl(rest: string, d: VxDefaults): VxOptions {
  const p = parseSlashParams(rest.replace(/^\[(.*)\]/, "$1"), d.keys, d.scheme);
  const o = p.options;
  const s = d.scheme;
  let group: IpAddress;
  if (p.address !== "") {
    const a = parseIpText(p.address);
    if (!a.ok) throw new Error(`${s}:// group must be an IP address, got "${p.address}"`);
    if (!isMulticastIp(a.value)) throw new Error(`${s}:// ${p.address} is not a multicast address`);
    group = a.value;
  } else {
    group = ipLiteral(o.has("v6") && !o.has("v4") ? V6_GROUP : V4_GROUP);
  }
  let vni = 1;
  if (o.has("vni")) {
    const v = o.get("vni")!;
    vni = s === "vxvde" && !/^\d+$/.test(v) ? gid(v, "vni", s) : int(v, "vni", s, MAX_VNI);
  }
  if (o.has("grp")) {
    const g = gid(o.get("grp")!, "grp", s) & MAX_VNI;
    if (!o.has("vni")) vni = g;
    // vdeplug4: the group's last three bytes become the gid, so each group has its own address.
    const bytes = group.slice();
    bytes[bytes.length - 3] = (g >>> 16) & 0xff;
    bytes[bytes.length - 2] = (g >>> 8) & 0xff;
    bytes[bytes.length - 1] = g & 0xff;
    group = bytes;
  }
  if (vni > MAX_VNI) throw new Error(`${s}:// vni must be at most ${MAX_VNI}`);
  const out: VxOptions = {
    group,
    port: o.has("port") ? int(o.get("port")!, "port", s, 65535) : d.port,
    vni,
    ttl: o.has("ttl") ? int(o.get("ttl")!, "ttl", s, 255) : 1,
    hashSize: o.has("hashsize") ? int(o.get("hashsize")!, "hashsize", s, 1 << 20) : 1024,
    expireSeconds: o.has("expiretime") ? int(o.get("expiretime")!, "expiretime", s, 1 << 30) : 128,
  };
  if (o.has("rcvbuf")) {
    const size = parseSize(o.get("rcvbuf")!);
    if (size === null) throw new Error(`${s}:// rcvbuf must be a size like 4M, got "${o.get("rcvbuf")}"`);
    out.rcvbuf = size;
  }
  if (o.has("if")) out.ifName = o.get("if");
  if (o.has("bind")) {
    const b = parseIpText(o.get("bind")!);
    if (!b.ok || b.value.length !== group.length) {
      throw new Error(`${s}:// bind must be an address of the group's family, got "${o.get("bind")}"`);
    }
    out.bind = b.value;
  }
  return out;
}

const VXLAN_KEYS = ["port", "vni", "ttl", "rcvbuf", "v4", "v6", "hashsize", "expiretime", "if"] as const;

/**
 * What vxlan:// and vxvde:// links share: a MAC-to-VTEP table, and sending
 * a frame to the VTEP that holds its destination (or to the group). Each
 * drains its own sockets: a vxlan:// link is handed its datagrams by its
 * VxlanPort.
 */
export abstract class VxTableLink extends BaseLink {
  readonly options: VxOptions;
  readonly table: MacAddressTable;
  protected readonly group: Uint8Array<ArrayBuffer>;
  readonly #kind: string;
  readonly #sendSocket: InetDgramSocket;
  readonly #out = new Uint8Array(VXLAN_HEADER_SIZE + VDE_MAX_FRAME);
  /** Handles one received datagram (VXLAN header included). */
  protected abstract readonly onDatagram: InetDatagramHandler;

  constructor(kind: "vxlan" | "vxvde", o: VxOptions, header: Uint8Array, sendSocket: InetDgramSocket) {
    const where = ipFamily(o.group) === 6 ? `[${formatIp(o.group)}]` : formatIp(o.group);
    super(`${kind} ${where}:${o.port} vni ${o.vni}`);
    this.#kind = kind;
    this.options = o;
    this.#sendSocket = sendSocket;
    this.table = new MacAddressTable(o.hashSize, o.expireSeconds);
    this.group = encodeSockaddr(o.group, o.port);
    this.#out.set(header);
  }

  /** Sends one frame to the VTEP of its destination, or to the group. Implements Link.send. */
  send(frame: Uint8Array): void {
    if (this.isClosed || !isFrameLength(frame.length)) {
      this.stats.dropsOut++;
      return;
    }
    const to = isMulticast(frame) ? null : this.table.lookup(dstMacHi(frame), dstMacLo(frame), Date.now());
    this.#out.set(frame, VXLAN_HEADER_SIZE);
    const e = this.#sendSocket.sendTo(
      this.#out.subarray(0, VXLAN_HEADER_SIZE + frame.length),
      to ?? this.group,
    );
    if (e === 0) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      return;
    }
    this.stats.dropsOut++;
    if (e !== 11 && e !== 105) {
      logOnce(
        `${this.#kind}-send:${this.description}:${e}`,
        `${this.description}: send to ${formatSockaddr(to ?? this.group)} failed: errno ${e}`,
      );
    }
  }
}

/**
 * VxlanPort is this process's VTEP on one UDP port and IP family: one
 * socket that every vxlan:// link on the port sends and receives on, each
 * received datagram handed to the link of its VNI. Links on one port share
 * the socket's TTL and interface, so they must agree on ttl= and if=; each
 * VNI may have one link; a group is joined while a link uses it.
 */
class VxlanPort {
  static readonly #open = new Map<string, VxlanPort>();
  readonly socket: InetDgramSocket;
  readonly #key: string;
  readonly #options: VxOptions;
  readonly #ifindex: number;
  readonly #links = new Map<number, VxlanLink>();
  /** Links per joined group (the group's text). */
  readonly #groups = new Map<string, number>();
  #rcvbuf: number;
  readonly #onDatagram: InetDatagramHandler;
  /** The time of the batch being drained, for the links' tables. */
  now: number = Date.now();
  /** Datagrams with no VXLAN header or a VNI no link has. */
  foreign = 0;

  private constructor(key: string, socket: InetDgramSocket, o: VxOptions, ifindex: number) {
    this.#key = key;
    this.socket = socket;
    this.#options = o;
    this.#ifindex = ifindex;
    this.#rcvbuf = o.rcvbuf ?? DEFAULT_RCVBUF;
    this.#onDatagram = (d, source) => {
      const link = this.#links.get(vxlanVni(d));
      if (link === undefined) this.foreign++;
      else link.take(d, source);
    };
  }

  /**
   * The port for `o` (opened and bound on first use), with `o.group` joined
   * and `o.vni` checked free; throws a one-line reason.
   */
  static acquire(o: VxOptions): VxlanPort {
    const family = ipFamily(o.group);
    const key = `${family}:${o.port}`;
    let port = VxlanPort.#open.get(key);
    if (port === undefined) {
      port = VxlanPort.#bind(key, family, o);
      VxlanPort.#open.set(key, port);
    }
    try {
      port.#admit(o);
    } catch (err) {
      port.#closeIfUnused();
      throw err;
    }
    return port;
  }

  static #bind(key: string, family: 4 | 6, o: VxOptions): VxlanPort {
    const socket = InetDgramSocket.create(family);
    try {
      const ifindex = o.ifName === undefined ? 0 : interfaceIndex(o.ifName);
      socket.v6Only();
      try {
        socket.bind(anyAddress(family), o.port);
      } catch (err) {
        if (!isErrno(err, C.EADDRINUSE)) throw err;
        throw new Error(
          `UDP port ${o.port} is taken on this host (a vxvde:// of this process, another process's vxlan:// ` +
            `or vxvde://, Debian's vde_plug, a kernel vxlan device): a host is one VTEP per port, so a cable's ` +
            `other end goes on another host or network namespace (ip netns exec NS vde plug ...), not beside ` +
            `this one; for a port another program holds, give both ends another port=; or open the VNIs in ` +
            `one process (vde switch --cable, vde plug A B), which share the port`,
        );
      }
      if (ifindex !== 0) socket.multicastInterface(ifindex);
      socket.multicastLoop(false);
      socket.multicastTtl(o.ttl);
      socket.setReceiveBuffer(o.rcvbuf ?? DEFAULT_RCVBUF);
      const port = new VxlanPort(key, socket, o, ifindex);
      poller().add(socket.fd, { onReadable: () => port.#drain() });
      return port;
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  #admit(o: VxOptions): void {
    const mine = this.#options;
    if (o.ttl !== mine.ttl || o.ifName !== mine.ifName) {
      const said = (x: VxOptions) => `ttl=${x.ttl}${x.ifName === undefined ? "" : ` if=${x.ifName}`}`;
      throw new Error(
        `port ${o.port} is this process's VTEP with ${said(mine)}, not ${said(o)}: links on one port share ` +
          `its socket, so give them the same ttl= and if= (or another port=)`,
      );
    }
    const other = this.#links.get(o.vni);
    if (other !== undefined) {
      throw new Error(
        `vni ${o.vni} on port ${o.port} is taken by another link of this process (${other.description}): ` +
          `one link per VNI and port, so give another vni= or port=`,
      );
    }
    const g = formatIp(o.group);
    const users = this.#groups.get(g) ?? 0;
    if (users === 0) {
      try {
        joinGroupOrSay(this.socket, o.group, this.#ifindex);
      } catch (err) {
        // One socket holds every group of its port: Linux caps the groups a socket joins (20 by default).
        if (!isErrno(err, C.ENOBUFS)) throw err;
        throw new Error(
          `port ${o.port} is this process's VTEP, whose socket is in ${this.#groups.size} multicast ` +
            `${this.#groups.size === 1 ? "group" : "groups"}, ` +
            `as many as Linux lets one socket join (sysctl ${
              o.group.length === 4 ? "net.ipv4.igmp_max_memberships" : "net.core.optmem_max"
            }): give ${g} another port=, or raise that limit`,
        );
      }
    }
    this.#groups.set(g, users + 1);
    const rcvbuf = o.rcvbuf ?? DEFAULT_RCVBUF;
    if (rcvbuf > this.#rcvbuf) {
      this.socket.setReceiveBuffer(rcvbuf);
      this.#rcvbuf = rcvbuf;
    }
  }

  /** Hands datagrams of `link`'s VNI to it. */
  attach(link: VxlanLink): void {
    this.#links.set(link.options.vni, link);
  }

  /** Forgets `link`, leaves its group if no other link uses it, and closes the socket after the last. */
  release(link: VxlanLink): void {
    if (this.#links.get(link.options.vni) !== link) return;
    this.#links.delete(link.options.vni);
    const g = formatIp(link.options.group);
    const users = (this.#groups.get(g) ?? 1) - 1;
    if (users > 0) {
      this.#groups.set(g, users);
    } else {
      this.#groups.delete(g);
      // With links left the socket stays, and would go on taking the group's datagrams only to drop them.
      try {
        if (this.#links.size > 0) this.socket.leaveGroup(link.options.group, this.#ifindex);
      } catch { /* still a member: its datagrams count as foreign */ }
    }
    this.#closeIfUnused();
  }

  #closeIfUnused(): void {
    if (this.#links.size > 0) return;
    VxlanPort.#open.delete(this.#key);
    poller().remove(this.socket.fd);
    this.socket.close();
  }

  #drain(): void {
    this.now = Date.now();
    const before = this.socket.oversize;
    const n = this.socket.recvBatch(this.#onDatagram);
    const oversize = this.socket.oversize - before;
    // A datagram too large to read has no VNI to go by: each link of the port counts it.
    if (oversize > 0) { for (const l of this.#links.values()) l.stats.dropsIn += oversize; }
    if (n < 0) {
      logOnce(
        `vxlan-recv:${this.#key}:${-n}`,
        `vxlan port ${this.#options.port}: receive failed: errno ${-n}`,
      );
    }
  }
}

/** A link onto a VXLAN segment: one VNI on its process's VTEP for the port. */
export class VxlanLink extends VxTableLink {
  readonly kind = "vxlan" as const;
  readonly #port: VxlanPort;
  protected readonly onDatagram: InetDatagramHandler;

  constructor(port: VxlanPort, o: VxOptions) {
    super("vxlan", o, vxlanHeader(o.vni), port.socket);
    this.#port = port;
    this.onDatagram = (d, source) => {
      const frame = d.subarray(VXLAN_HEADER_SIZE);
      // A header-only frame (14 bytes) is a frame, as the switch engine takes it and vxvde:// passes it.
      if (!isFrameLength(frame.length)) {
        this.stats.dropsIn++;
        return;
      }
      // The VTEP answers on the VXLAN port, whatever port it sent from.
      setSockaddrPort(source, o.port);
      this.table.learn(srcMacHi(frame), srcMacLo(frame), source, this.#port.now);
      this.deliver(frame);
    };
    port.attach(this);
  }

  /** Takes one datagram of this link's VNI from the port. */
  take(d: Uint8Array, source: Uint8Array): void {
    if (!this.isClosed) this.onDatagram(d, source);
  }

  protected teardown(): void {
    this.#port.release(this);
  }
}

/** Opens a vxlan:// link. */
export function openVxlanLink(rest: string): Promise<VxlanLink> {
  const o = parseVxVnl(rest, { scheme: "vxlan", port: 4789, keys: VXLAN_KEYS });
  try {
    return Promise.resolve(new VxlanLink(VxlanPort.acquire(o), o));
  } catch (err) {
    return Promise.reject(new Error(`vxlan:// ${(err as Error).message}`));
  }
}

registerScheme("vxlan", openVxlanLink);

/**
 * Joins `group` on `ifindex` (0: the interface routing picks); where no route
 * picks one (a host or namespace with no default route, as two hosts on one
 * link are), says to name it rather than Linux's bare "No such device".
 */
export function joinGroupOrSay(socket: InetDgramSocket, group: IpAddress, ifindex: number): void {
  try {
    socket.joinGroup(group, ifindex);
  } catch (err) {
    if (!isErrno(err, C.ENODEV) || ifindex !== 0) throw err;
    throw new Error(
      `no route on this host reaches multicast group ${formatIp(group)} (no default route?): ` +
        `name the interface that leads to the other hosts with if=IFNAME`,
    );
  }
}
