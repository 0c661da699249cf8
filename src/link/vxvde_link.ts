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
import { isFrameLength, srcMacHi, srcMacLo } from "../wire/ethernet.ts";
import { anyAddress, formatIp, ipFamily } from "../wire/ip_address.ts";
import { decodeSockaddr, sockaddrPort } from "../io/sockaddr.ts";
import { hasExactHeader, VXLAN_HEADER_SIZE, vxlanHeader } from "../wire/vxlan.ts";
import { poller } from "../io/poller.ts";
import { isErrno } from "../io/unix_dgram.ts";
import { C } from "../../ffi/libc.ts";
import { logOnce } from "./link.ts";
import { registerScheme } from "./registry.ts";
import { type InetDatagramHandler, InetDgramSocket, interfaceIndex } from "../io/inet_dgram.ts";
import { DEFAULT_RCVBUF, joinGroupOrSay, parseVxVnl, type VxOptions, VxTableLink } from "./vxlan_link.ts";

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

/** The host's own addresses as hex strings, to recognise our multicast echoes. */
function localAddresses(): Set<string> {
  const out = new Set<string>(["0.0.0.0", "::"]);
  try {
    for (const i of Deno.networkInterfaces()) out.add(i.address.replace(/%.*$/, ""));
  } catch { /* no permission: only the port is compared */ }
  return out;
}

/** A member of a vxvde distributed switch. */
export class VxvdeLink extends VxTableLink {
  readonly kind = "vxvde" as const;
  readonly #mcast: InetDgramSocket;
  readonly #ucast: InetDgramSocket;
  readonly #header: Uint8Array<ArrayBuffer>;
  protected readonly onDatagram: InetDatagramHandler;
  /** The unicast socket's port: datagrams from it (and a local address) are our own echoes. */
  readonly localPort: number;
  readonly #local = localAddresses();
  /** Datagrams ignored: wrong header or VNI, or our own echoes. */
  foreign = 0;
  echoes = 0;
  /** The time of the batch being drained, for the table. */
  #now = Date.now();

  constructor(mcast: InetDgramSocket, ucast: InetDgramSocket, o: VxOptions) {
    const header = vxlanHeader(o.vni);
    super("vxvde", o, header, ucast);
    this.#mcast = mcast;
    this.#ucast = ucast;
    this.localPort = ucast.localPort();
    this.#header = header;
    this.onDatagram = (d, source) => {
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
      if (!isFrameLength(frame.length)) {
        this.stats.dropsIn++;
        return;
      }
      this.table.learn(srcMacHi(frame), srcMacLo(frame), source, this.#now);
      this.deliver(frame);
    };
    for (const s of [mcast, ucast]) poller().add(s.fd, { onReadable: () => this.#drain(s) });
  }

  /** Reads what `s` holds, a batch at a time, into `onDatagram`. */
  #drain(s: InetDgramSocket): void {
    if (this.isClosed) return;
    this.#now = Date.now();
    const before = s.oversize;
    const n = s.recvBatch(this.onDatagram);
    this.stats.dropsIn += s.oversize - before;
    if (n < 0) {
      logOnce(`vxvde-recv:${this.description}:${-n}`, `${this.description}: receive failed: errno ${-n}`);
    }
  }

  #isLocal(source: Uint8Array): boolean {
    const s = decodeSockaddr(source);
    return s.ok && this.#local.has(formatIp(s.value.addr));
  }

  protected teardown(): void {
    // Tell the others to forget us (vdeplug4 does the same).
    this.#ucast.sendTo(this.#header, this.group);
    for (const s of [this.#mcast, this.#ucast]) {
      poller().remove(s.fd);
      s.close();
    }
  }
}

/** Opens a vxvde:// link. */
export function openVxvdeLink(rest: string): Promise<VxvdeLink> {
  const o = parseVxVnl(rest, { scheme: "vxvde", port: 14789, keys: VXVDE_KEYS });
  const family = ipFamily(o.group);
  const mcast = InetDgramSocket.create(family);
  let ucast: InetDgramSocket | null = null;
  try {
    const ifindex = o.ifName === undefined ? 0 : interfaceIndex(o.ifName);
    mcast.v6Only();
    mcast.reuseAddress();
    try {
      mcast.bind(o.group, o.port);
    } catch (err) {
      if (!isErrno(err, C.EADDRINUSE)) throw err;
      // Members share the port (SO_REUSEADDR); a socket that does not (a vxlan:// on it, say) keeps it.
      throw new Error(
        `UDP port ${o.port} is held on this host by a socket that does not share it (a vxlan:// or another ` +
          `program): give the members another port=`,
      );
    }
    joinGroupOrSay(mcast, o.group, ifindex);
    mcast.setReceiveBuffer(o.rcvbuf ?? DEFAULT_RCVBUF);
    ucast = InetDgramSocket.create(family);
    ucast.v6Only();
    ucast.bind(o.bind ?? anyAddress(family), 0);
    ucast.multicastTtl(o.ttl);
    if (ifindex !== 0) ucast.multicastInterface(ifindex);
    ucast.setReceiveBuffer(o.rcvbuf ?? DEFAULT_RCVBUF);
    return Promise.resolve(new VxvdeLink(mcast, ucast, o));
  } catch (err) {
    mcast.close();
    ucast?.close();
    return Promise.reject(new Error(`vxvde:// ${(err as Error).message}`));
  }
}

registerScheme("vxvde", openVxvdeLink);
