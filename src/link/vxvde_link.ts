/**
 * `vxvde://[GROUP][/port=N/vni=N/grp=G/...]`: a distributed switch over a
 * multicast group, with no central process, wire compatible with vdeplug4's
 * vxvde plugin (spec 3.8).
 *
 * Theory of operation: two UDP sockets. The multicast one is bound to the
 * group and port (14789) with SO_REUSEADDR, so any number of processes on a
 * host can join; the unicast one is bound to an ephemeral port (or bind=)
 * and sends everything: frames for unknown or group MACs to the group,
 * frames for learnt MACs straight to the peer's unicast address and port.
 * Both sockets receive. Every datagram carries the exact 8-byte header
 * (`08 00 00 00 | VNI | 00`); anything else is ignored, as are our own
 * multicast echoes (loop stays on so processes on one host hear each other).
 * Leaving, a member sends the header alone to the group, and the others
 * forget what they learnt from it.
 */
import { dstMacHi, dstMacLo, isMulticast, srcMacHi, srcMacLo, VDE_MAX_FRAME } from "../wire/ethernet.ts";
import {
  anyAddress,
  buildSockaddr,
  formatIp,
  formatSockaddr,
  parseSockaddr,
  sockaddrPort,
} from "../wire/cable_inet.ts";
import { hasExactHeader, VXLAN_HEADER_SIZE, vxlanHeader } from "../wire/vxlan.ts";
import { poller } from "../io/poller.ts";
import { BaseLink, logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { type DatagramHandler, interfaceIndex, UdpSocket } from "./udp_link.ts";
import { MacAddressTable, parseVxVnl, type VxOptions } from "./vxlan_link.ts";

const VXVDE_KEYS = [
  "port",
  "vni",
  "grp",
  "ttl",
  "rcvbuf",
  "v4",
  "v6",
  "hashsize",
  "expiretime",
  "if",
  "bind",
] as const;

const MIN_FRAME = 14;

/** The host's own addresses as hex strings, to recognise our multicast echoes. */
function localAddresses(): Set<string> {
  const out = new Set<string>(["0.0.0.0", "::"]);
  try {
    for (const i of Deno.networkInterfaces()) out.add(i.address.replace(/%.*$/, ""));
  } catch { /* no permission: only the port is compared */ }
  return out;
}

/** A member of a vxvde distributed switch. */
export class VxvdeLink extends BaseLink {
  readonly options: VxOptions;
  readonly table: MacAddressTable;
  readonly #mcast: UdpSocket;
  readonly #ucast: UdpSocket;
  readonly #group: Uint8Array<ArrayBuffer>;
  readonly #header: Uint8Array<ArrayBuffer>;
  readonly #out = new Uint8Array(VXLAN_HEADER_SIZE + VDE_MAX_FRAME);
  readonly #onDatagram: DatagramHandler;
  /** The unicast socket's port: datagrams from it (and a local address) are our own echoes. */
  readonly localPort: number;
  readonly #local = localAddresses();
  #now = Date.now();
  /** Datagrams ignored: wrong header or VNI, or our own echoes. */
  foreign = 0;
  echoes = 0;

  constructor(mcast: UdpSocket, ucast: UdpSocket, o: VxOptions) {
    const where = o.group.family === 6 ? `[${formatIp(o.group)}]` : formatIp(o.group);
    super(`vxvde ${where}:${o.port} vni ${o.vni}`);
    this.options = o;
    this.#mcast = mcast;
    this.#ucast = ucast;
    this.localPort = ucast.localPort();
    this.table = new MacAddressTable(o.hashSize, o.expireSeconds);
    this.#group = buildSockaddr(o.group, o.port);
    this.#header = vxlanHeader(o.vni);
    this.#out.set(this.#header);
    this.#onDatagram = (d, source) => {
      if (!hasExactHeader(d, this.#header)) {
        this.foreign++;
        return;
      }
      if (sockaddrPort(source) === this.localPort && this.#isLocal(source)) {
        this.echoes++;
        return;
      }
      if (d.length === VXLAN_HEADER_SIZE) {
        // A member leaving: forget where its MACs were.
        this.table.forgetAddress(source);
        return;
      }
      const frame = d.subarray(VXLAN_HEADER_SIZE);
      if (frame.length < MIN_FRAME || frame.length > VDE_MAX_FRAME) {
        this.stats.dropsIn++;
        return;
      }
      this.table.learn(srcMacHi(frame), srcMacLo(frame), source, this.#now);
      this.deliver(frame);
    };
    for (const s of [mcast, ucast]) poller().add(s.fd, { onReadable: () => this.#drain(s) });
  }

  #isLocal(source: Uint8Array): boolean {
    const s = parseSockaddr(source);
    return s !== null && this.#local.has(formatIp(s.addr));
  }

  /** Sends one frame to the member holding its destination, or to the group. Implements Link.send. */
  send(frame: Uint8Array): void {
    if (this.isClosed || frame.length < MIN_FRAME || frame.length > VDE_MAX_FRAME) {
      this.stats.dropsOut++;
      return;
    }
    const to = isMulticast(frame) ? null : this.table.lookup(dstMacHi(frame), dstMacLo(frame), Date.now());
    this.#out.set(frame, VXLAN_HEADER_SIZE);
    const e = this.#ucast.sendTo(this.#out.subarray(0, VXLAN_HEADER_SIZE + frame.length), to ?? this.#group);
    if (e === 0) {
      this.stats.framesOut++;
      this.stats.bytesOut += frame.length;
      return;
    }
    this.stats.dropsOut++;
    if (e !== 11 && e !== 105) {
      logOnce(
        `vxvde-send:${this.description}:${e}`,
        `${this.description}: send to ${formatSockaddr(to ?? this.#group)} failed: errno ${e}`,
      );
    }
  }

  #drain(s: UdpSocket): void {
    if (this.isClosed) return;
    this.#now = Date.now();
    const before = s.oversize;
    const n = s.recvBatch(this.#onDatagram);
    this.stats.dropsIn += s.oversize - before;
    if (n < 0) {
      logOnce(`vxvde-recv:${this.description}:${-n}`, `${this.description}: receive failed: errno ${-n}`);
    }
  }

  protected teardown(): void {
    // Tell the others to forget us (vdeplug4 does the same).
    this.#ucast.sendTo(this.#header, this.#group);
    for (const s of [this.#mcast, this.#ucast]) {
      poller().remove(s.fd);
      s.close();
    }
  }
}

/** Opens a vxvde:// link. */
export function openVxvdeLink(rest: string): Promise<VxvdeLink> {
  const o = parseVxVnl(rest, { scheme: "vxvde", port: 14789, keys: VXVDE_KEYS });
  const family = o.group.family;
  const mcast = UdpSocket.create(family);
  let ucast: UdpSocket | null = null;
  try {
    const ifindex = o.ifName === undefined ? 0 : interfaceIndex(o.ifName);
    mcast.v6Only();
    mcast.reuseAddress();
    mcast.bind(o.group, o.port);
    mcast.joinGroup(o.group, ifindex);
    if (o.rcvbuf !== undefined) mcast.setReceiveBuffer(o.rcvbuf);
    ucast = UdpSocket.create(family);
    ucast.v6Only();
    ucast.bind(o.bind ?? anyAddress(family), 0);
    ucast.multicastTtl(o.ttl);
    if (ifindex !== 0) ucast.multicastInterface(ifindex);
    if (o.rcvbuf !== undefined) ucast.setReceiveBuffer(o.rcvbuf);
    return Promise.resolve(new VxvdeLink(mcast, ucast, o));
  } catch (err) {
    mcast.close();
    ucast?.close();
    return Promise.reject(new Error(`vxvde:// ${(err as Error).message}`));
  }
}

registerScheme("vxvde", openVxvdeLink);
