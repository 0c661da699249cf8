/**
 * IP output of the slirp stack: a finished IP packet in an Ethernet frame
 * gets its MAC header, is cut to the MTU, and leaves towards the guest.
 *
 * Theory of operation. Callers write the IP packet (and everything in it)
 * at `b[e + ETH_HLEN]`, leaving ETH_HLEN bytes in front, and call
 * `send4`/`send6` with the frame's extent. The source MAC and type are
 * written there, the destination comes from the neighbour cache: broadcast
 * and multicast map directly, an unknown unicast neighbour holds a copy of
 * the frame until it answers. A packet larger than the MTU is fragmented
 * (IPv4: RFC 791 with the original's id; IPv6: a fragment header, RFC 8200
 * section 4.5, with an id of our own) into `frag`, one fragment at a time,
 * each going through the same path.
 *
 * `tx` is the one transmit buffer the data path writes headers into when a
 * payload is not already in a buffer with headroom (the TCP segment, local
 * ICMP answers, DHCP). It is reused for every packet, so a caller finishes
 * with it before the next send.
 */
import {
  ETH_HLEN,
  writeEthernetDestination,
  writeEthernetSource,
  writeIpv6MulticastDestination,
} from "../wire/ethernet.ts";
import { ETH_P_IP, IPV4_HLEN, IPV4_MF, writeIpv4 } from "../wire/ipv4.ts";
import { readU32 } from "../wire/bytes.ts";
import {
  ETH_P_IPV6,
  IPV6_FRAG_HLEN,
  IPV6_HLEN,
  IPV6_NEXT_FRAGMENT,
  isIpv6Multicast,
  writeIpv6FragmentHeader,
} from "../wire/ipv6.ts";
import { type Iface, MAX_IP } from "./iface.ts";
import type { Neighbours } from "./neighbours.ts";

const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const BROADCAST4 = 0xffffffff;

/** The output path of one interface. */
export class IpOutput {
  /** The transmit buffer (see the file's header). */
  readonly tx = new Uint8Array(ETH_HLEN + MAX_IP + 64);
  readonly #frag = new Uint8Array(ETH_HLEN + MAX_IP + 64);
  readonly #iface: Iface;
  readonly #neighbours: Neighbours;
  #ipId = 1;
  #lastFrom: Uint8Array | null = null;
  #lastAt = 0;
  #lastView: Uint8Array = new Uint8Array(0);
  #fragId = 1;

  constructor(iface: Iface, neighbours: Neighbours) {
    this.#iface = iface;
    this.#neighbours = neighbours;
  }

  /**
   * `b[e, e+len)` as a view, made again only when the frame's place changes: the TCP engine builds
   * every segment in one buffer at one offset, so a download of full-size frames makes no object per
   * frame. Borrowed by the link as any frame is (valid during the call).
   */
  #view(b: Uint8Array, e: number, len: number): Uint8Array {
    if (b !== this.#lastFrom || e !== this.#lastAt || len !== this.#lastView.length) {
      this.#lastFrom = b;
      this.#lastAt = e;
      this.#lastView = b.subarray(e, e + len);
    }
    return this.#lastView;
  }

  /** The next IPv4 identification. */
  nextId(): number {
    this.#ipId = (this.#ipId + 1) & 0xffff;
    return this.#ipId;
  }

  /** Sends the IPv4 frame `b[e, e+len)` to `dst`: MAC resolved (or held), fragmented past the MTU. */
  send4(b: Uint8Array, e: number, len: number, dst: number): void {
    const iface = this.#iface;
    writeEthernetSource(b, e, iface.mac, ETH_P_IP);
    if (len - ETH_HLEN > iface.mtu) {
      this.#fragment4(b, e, len, dst);
      return;
    }
    if (dst === BROADCAST4 || dst === iface.bcast) {
      writeEthernetDestination(b, e, BROADCAST_MAC);
      iface.emit(this.#view(b, e, len));
      return;
    }
    const mac = this.#neighbours.lookup4(dst);
    if (mac === null) {
      this.#neighbours.hold4(dst, b, e, len);
      return;
    }
    writeEthernetDestination(b, e, mac);
    iface.emit(this.#view(b, e, len));
  }

  /** Sends the IPv6 frame `b[e, e+len)` to the address at `dstB[dstOff]`. */
  send6(b: Uint8Array, e: number, len: number, dstB: Uint8Array, dstOff: number): void {
    const iface = this.#iface;
    writeEthernetSource(b, e, iface.mac, ETH_P_IPV6);
    if (len - ETH_HLEN > iface.mtu) {
      this.#fragment6(b, e, len, dstB, dstOff);
      return;
    }
    if (isIpv6Multicast(dstB, dstOff)) {
      writeIpv6MulticastDestination(b, e, dstB, dstOff);
      iface.emit(this.#view(b, e, len));
      return;
    }
    const mac = this.#neighbours.lookup6(dstB, dstOff);
    if (mac === null) {
      this.#neighbours.hold6(dstB, dstOff, b, e, len);
      return;
    }
    writeEthernetDestination(b, e, mac);
    iface.emit(this.#view(b, e, len));
  }

  #fragment4(b: Uint8Array, e: number, len: number, dst: number): void {
    const io = e + ETH_HLEN;
    const hl = (b[io]! & 0x0f) * 4;
    const payload = len - ETH_HLEN - hl;
    const chunk = Math.floor((this.#iface.mtu - IPV4_HLEN) / 8) * 8;
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
      this.#iface.stats.fragmentsOut++;
      this.send4(f, 0, ETH_HLEN + IPV4_HLEN + n, dst);
    }
  }

  #fragment6(b: Uint8Array, e: number, len: number, dstB: Uint8Array, dstOff: number): void {
    const io = e + ETH_HLEN;
    const next = b[io + 6]!;
    const payload = len - ETH_HLEN - IPV6_HLEN;
    const chunk = Math.floor((this.#iface.mtu - IPV6_HLEN - IPV6_FRAG_HLEN) / 8) * 8;
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
      this.#iface.stats.fragmentsOut++;
      this.send6(f, 0, ETH_HLEN + IPV6_HLEN + IPV6_FRAG_HLEN + n, dst, 0);
    }
  }
}
