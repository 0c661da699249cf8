/**
 * The slirp stack's neighbours: the guests' MACs by IPv4 (ARP) and IPv6
 * (NDP) address, and the frames waiting for one.
 *
 * Theory of operation. Every frame from the guest teaches the cache its
 * source (`learn4`/`learn6`, called by the IP input with the frame's source
 * MAC) and ARP requests and neighbour solicitations/advertisements teach it
 * too, so a reply almost always finds its MAC without asking. When it does
 * not, IP output queues a copy of the frame (at most `MAX_QUEUED` in all,
 * oldest dropped first) and the cache solicits the address, at most once a
 * second per address; the queue is flushed as soon as the answer is
 * learned. The last lookup per family is remembered, so a stream of frames
 * to one guest costs no map lookup. Caches are bounded (cleared when
 * full: the guest re-teaches them with its next frame).
 *
 * An IPv4 entry also keeps when a frame from its address was last seen
 * (`seen4`: DHCP gives away, from a full pool, leases whose address carries
 * nothing). The time is the stack's last `stamp` (once a second), not the
 * clock read per frame, and a frame on the last-lookup fast path only notes
 * its address, stamped at the next `stamp`: the data path pays a field
 * write. `probe4` asks for an address by ARP so that a live host, however
 * quiet, shows in `seen4` by its answer.
 *
 * ARP is wholly here (answers for the gateway, DNS and guest-forward
 * addresses; an ARP packet from another host with the gateway's address
 * as its sender goes to the gateway guard, gateway_guard.ts); NDP's
 * messages are parsed by the IPv6 input, which calls `learn6` and answers
 * solicitations itself, since they travel as ICMPv6.
 */
import { ETH_HLEN, formatMac, macEquals, writeEthernetHeader } from "../wire/ethernet.ts";
import {
  ARP_LEN,
  ARP_REPLY,
  ARP_REQUEST,
  ETH_P_ARP,
  newArpPacket,
  parseArp,
  writeArp,
  writeArpRequestFrame,
} from "../wire/arp.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
import { IPV6_HLEN, ipv6Equal, isIpv6LinkLocal } from "../wire/ipv6.ts";
import { writeSolicitFrame } from "../wire/ndp.ts";
import { hex16, type Iface } from "./iface.ts";
import { type GatewayGuard, OWN_ECHO_MS } from "./gateway_guard.ts";

/** Frames held while a neighbour is resolved, in all. */
const MAX_QUEUED = 64;
/** Entries per cache before it is cleared. */
const MAX_ENTRIES = 4096;
/** Milliseconds between two solicitations of one address. */
const SOLICIT_GAP_MS = 1000;

interface Arp4 {
  mac: Uint8Array;
  /** Stack clock of the last `stamp` before the latest frame from the address. */
  seen: number;
}

interface Queued {
  key: string | number;
  frame: Uint8Array;
}

/** The neighbour caches of one interface. */
export class Neighbours {
  readonly #iface: Iface;
  readonly #guard: GatewayGuard;
  readonly #arp = newArpPacket();
  /** ARP packets and neighbour solicitations are written here (never the data path's buffers). */
  readonly #buf = new Uint8Array(ETH_HLEN + IPV6_HLEN + 64);
  // IPv4 by number, IPv6 by hex text; the last lookup is cached for the hot path.
  readonly #arpCache = new Map<number, Arp4>();
  readonly #ndCache = new Map<string, Uint8Array>();
  #lastIp4 = -1;
  #lastMac4: Uint8Array | null = null;
  /** The clock as of the last `stamp`. */
  #tick = -Infinity;
  /** The address of a frame that took learn4's fast path since the last `stamp` (-1 none). */
  #heard4 = -1;
  readonly #lastIp6 = new Uint8Array(16);
  #lastMac6: Uint8Array | null = null;
  readonly #queue: Queued[] = [];
  readonly #lastSolicit = new Map<string | number, number>();

  constructor(iface: Iface, guard: GatewayGuard) {
    this.#iface = iface;
    this.#guard = guard;
  }

  /** Takes an ARP frame from the guest: learns its sender, answers for our addresses. */
  arpIn(frame: Uint8Array): void {
    const a = this.#arp;
    const iface = this.#iface;
    if (parseArp(frame, ETH_HLEN, frame.length - ETH_HLEN, a) !== null) {
      iface.stats.badFrames++;
      return;
    }
    const c = iface.config;
    // Our own probe, come back through a loop: neither a question for us nor a claim.
    if (this.#guard.isProbeMac(frame, a.senderMacOffset)) return;
    if (a.senderIp === c.gateway) {
      if (!this.#ownRequest(frame, a.op, a.senderMacOffset, a.targetIp)) {
        const what = `an ARP ${a.op === ARP_REPLY ? "reply" : "request"} for ${formatIpv4(c.gateway)}`;
        this.#guard.claimed(what, 4, frame, a.senderMacOffset);
      }
      return;
    }
    // A host with our DNS address (not another slirp of this network, whose MAC is ours, or libslirp's
    // 52:55 and the address): it keeps it, and is a guest like any other (learned, its requests answered).
    if (
      a.senderIp === c.dns && !macEquals(frame, a.senderMacOffset, iface.mac) &&
      !isSlirpMacOf(frame, a.senderMacOffset, c.dns)
    ) {
      const what = `an ARP ${a.op === ARP_REPLY ? "reply" : "request"} for ${formatIpv4(c.dns)}`;
      this.#guard.dnsClaimed(what, frame, a.senderMacOffset);
    }
    if (a.senderIp !== 0 && iface.isGuest4(a.senderIp)) this.learn4(a.senderIp, frame, a.senderMacOffset);
    if (a.op !== ARP_REQUEST) return;
    if (
      a.targetIp === c.dns
        ? this.#guard.dnsTaken !== null
        : a.targetIp !== c.gateway && !iface.virtual4.has(a.targetIp)
    ) {
      return;
    }
    const b = this.#buf;
    const sender = frame.subarray(a.senderMacOffset, a.senderMacOffset + 6);
    writeEthernetHeader(b, 0, sender, 0, iface.mac, ETH_P_ARP);
    writeArp(b, ETH_HLEN, ARP_REPLY, iface.mac, a.targetIp, sender, a.senderIp);
    iface.stats.arpReplies++;
    iface.emit(b.subarray(0, ETH_HLEN + ARP_LEN));
  }

  /** Learns (or refreshes) `ip` at the MAC `b[macOff..+6]`; sends what waited for it. */
  learn4(ip: number, b: Uint8Array, macOff: number): void {
    if (ip === this.#lastIp4 && this.#lastMac4 !== null && macEquals(b, macOff, this.#lastMac4)) {
      this.#heard4 = ip;
      return;
    }
    const known = this.#arpCache.get(ip);
    if (known !== undefined && macEquals(b, macOff, known.mac)) {
      known.seen = this.#tick;
      return;
    }
    const mac = b.slice(macOff, macOff + 6);
    if (known === undefined && this.#arpCache.size >= MAX_ENTRIES) {
      this.#arpCache.clear();
      // The last lookup goes too: its address's frames would take the fast path and never be entered
      // again, so `seen4` would read it silent however much it sends.
      this.#lastIp4 = -1;
      this.#lastMac4 = null;
      this.#heard4 = -1;
    }
    this.#arpCache.set(ip, { mac, seen: this.#tick });
    if (this.#lastIp4 === ip) this.#lastMac4 = mac;
    this.#flushQueue(ip, mac);
  }

  /** Learns the IPv6 address `b[ipOff..+16]` at the MAC `macB[macOff..+6]`. */
  learn6(b: Uint8Array, ipOff: number, macB: Uint8Array, macOff: number): void {
    if (
      this.#lastMac6 !== null && ipv6Equal(this.#lastIp6, 0, b, ipOff) &&
      macEquals(macB, macOff, this.#lastMac6)
    ) return;
    const key = hex16(b, ipOff);
    const known = this.#ndCache.get(key);
    if (known !== undefined && macEquals(macB, macOff, known)) return;
    const mac = macB.slice(macOff, macOff + 6);
    if (known === undefined && this.#ndCache.size >= MAX_ENTRIES) this.#ndCache.clear();
    this.#ndCache.set(key, mac);
    if (this.#lastMac6 !== null && ipv6Equal(this.#lastIp6, 0, b, ipOff)) this.#lastMac6 = mac;
    this.#flushQueue(key, mac);
  }

  /** The MAC of `ip`, or null when unknown. */
  lookup4(ip: number): Uint8Array | null {
    if (this.#lastIp4 === ip) return this.#lastMac4;
    const entry = this.#arpCache.get(ip);
    if (entry === undefined) return null;
    this.#lastIp4 = ip;
    this.#lastMac4 = entry.mac;
    return entry.mac;
  }

  /** Sets the clock `learn4` stamps with to `now`, and stamps the address its fast path heard from since. */
  stamp(now: number): void {
    if (this.#heard4 !== -1) {
      const entry = this.#arpCache.get(this.#heard4);
      if (entry !== undefined) entry.seen = now;
      this.#heard4 = -1;
    }
    this.#tick = now;
  }

  /** When a frame from `ip` was last seen (as of the `stamp` before it); -Infinity when none is known. */
  seen4(ip: number): number {
    if (ip === this.#heard4) return this.#tick;
    return this.#arpCache.get(ip)?.seen ?? -Infinity;
  }

  /** The MAC of the IPv6 address at `b[off]`, or null when unknown. */
  lookup6(b: Uint8Array, off: number): Uint8Array | null {
    if (this.#lastMac6 !== null && ipv6Equal(this.#lastIp6, 0, b, off)) return this.#lastMac6;
    const mac = this.#ndCache.get(hex16(b, off));
    if (mac === undefined) return null;
    for (let i = 0; i < 16; i++) this.#lastIp6[i] = b[off + i]!;
    this.#lastMac6 = mac;
    return mac;
  }

  /** Asks by ARP who has `ip` (at most once a second): DHCP's check that a lease's host is gone; an answer shows in `seen4`. */
  probe4(ip: number): void {
    this.#solicit4(ip);
  }

  /** Queues a copy of the frame `b[e, e+len)` for `ip` and solicits it. */
  hold4(ip: number, b: Uint8Array, e: number, len: number): void {
    this.#enqueue(ip, b.slice(e, e + len));
    this.#solicit4(ip);
  }

  /** Queues a copy of the frame `b[e, e+len)` for the IPv6 address at `dst[dstOff]` and solicits it. */
  hold6(dst: Uint8Array, dstOff: number, b: Uint8Array, e: number, len: number): void {
    const target = dst.slice(dstOff, dstOff + 16);
    this.#enqueue(hex16(target, 0), b.slice(e, e + len));
    this.#solicit6(target);
  }

  /** MAC text of an address's entry, for tests and the console. */
  describe4(ip: number): string | undefined {
    const m = this.#arpCache.get(ip);
    return m === undefined ? undefined : formatMac(m.mac, 0);
  }

  /** Whether an ARP packet from the gateway is a request of ours come back (a loop): we asked for its target just now. */
  #ownRequest(b: Uint8Array, op: number, macOff: number, target: number): boolean {
    if (op !== ARP_REQUEST || !macEquals(b, macOff, this.#iface.mac)) return false;
    return (this.#lastSolicit.get(target) ?? -Infinity) > this.#iface.now() - OWN_ECHO_MS;
  }

  #enqueue(key: string | number, frame: Uint8Array): void {
    const stats = this.#iface.stats;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#queue.shift();
      stats.neighbourDropped++;
    }
    this.#queue.push({ key, frame });
    stats.neighbourQueued++;
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
      this.#iface.emit(q.frame);
    }
  }

  /** Whether `key` may be solicited now (once a second per address). */
  #maySolicit(key: string | number): boolean {
    const now = this.#iface.now();
    if ((this.#lastSolicit.get(key) ?? -Infinity) > now - SOLICIT_GAP_MS) return false;
    if (this.#lastSolicit.size > 1024) this.#lastSolicit.clear();
    this.#lastSolicit.set(key, now);
    return true;
  }

  #solicit4(ip: number): void {
    if (!this.#maySolicit(ip)) return;
    const iface = this.#iface;
    iface.emit(this.#buf.subarray(0, writeArpRequestFrame(this.#buf, iface.mac, iface.config.gateway, ip)));
  }

  #solicit6(target: Uint8Array): void {
    if (!this.#maySolicit(hex16(target, 0))) return;
    const iface = this.#iface;
    const src = isIpv6LinkLocal(target, 0) ? iface.linkLocal : iface.config.gateway6;
    iface.emit(this.#buf.subarray(0, writeSolicitFrame(this.#buf, iface.mac, src, target)));
  }
}

/** Whether the MAC at `b[off]` is a slirp's for `ip`, as libslirp makes it: 52:55 and the address. */
function isSlirpMacOf(b: Uint8Array, off: number, ip: number): boolean {
  return b[off] === 0x52 && b[off + 1] === 0x55 && b[off + 2] === ip >>> 24 &&
    b[off + 3] === ((ip >>> 16) & 0xff) &&
    b[off + 4] === ((ip >>> 8) & 0xff) && b[off + 5] === (ip & 0xff);
}
