/**
 * The slirp stack's DHCP server: one lease per client MAC, addresses from
 * the first lease address (10.0.2.15 by default) to the end of the network,
 * skipping the gateway and the DNS address, the addresses its config
 * reserves (a lab's hosts' static ones on the slirp's LAN, changed live by
 * `reserve`) and any the stack's ARP cache shows held by another MAC (a
 * host configured by hand that the lab did not name), as docker's or
 * dnsmasq's servers avoid the addresses in use.
 *
 * An OFFER holds its address for the client's REQUEST for OFFER_HOLD_MS,
 * not the lease time, so a flood of DISCOVERs (fake MACs) holds the pool
 * only for seconds. It holds it against other clients' DISCOVERs only: the
 * first REQUEST for an address not leased wins it, so a flood that takes a
 * guest's offer between its OFFER and REQUEST (below) does not get the
 * guest NAKed. When the pool is full a new client takes, in turn: the
 * oldest offer still held for another client (a flood's), else the
 * address of the lease granted (or renewed) least recently whose address
 * has carried no frame on the wire since it was granted for
 * UNUSED_LEASE_MS, or none at all for SILENT_LEASE_MS (`seenAt`, the
 * neighbour cache's last frame from the address), and only once the
 * address left unanswered an ARP request (`probe`) sent at least
 * PROBE_WAIT_MS before. A flood of REQUESTs from fake MACs thus leases
 * addresses no frame ever comes from, and those go first; a real guest
 * keeps its address by renewing, by sending anything, or by answering ARP
 * as every live host does: one that talks only IPv6, is quiet, or whose
 * neighbour entry was wiped keeps it too; one suspended past the probe
 * loses it. The first DISCOVER that finds candidates only probes them (at
 * most PROBES_PER_TAKE, each again only after PROBE_AGAIN_MS), so it gets
 * no OFFER; a client's retransmission a second or more later gets the
 * address. Ending such a lease is logged (at most a line a minute). The
 * leases are looked at oldest first and the walk stops at the first one
 * granted within UNUSED_LEASE_MS (none after it can qualify), so a flood
 * costs each request little. A client for whom even that finds nothing
 * gets no OFFER (a REQUEST a NAK), as libslirp's; that is said in one log
 * line, once until an address is leased again, since reserved addresses
 * can leave a small pool empty.
 *
 * DISCOVER gets an OFFER (the client's existing lease, else the next free
 * address); REQUEST gets an ACK when it asks for the address this MAC may
 * have, else a NAK; RELEASE frees the lease; INFORM gets an ACK with the
 * options and no lease; DECLINE marks the address unusable for the lease
 * time. Replies carry subnet mask, router, DNS, domain name, search list,
 * lease time (with renewal and rebinding times), MTU and the server id.
 * Pure logic: the stack parses the request and sends the reply.
 */
import {
  DHCP_MSG,
  DHCP_OPT,
  type DhcpMessage,
  type DhcpReplySpec,
  dhcpU32,
  domainSearchOption,
  u32Option,
} from "../wire/dhcp.ts";
import { formatIpv4, prefixMask } from "../wire/ipv4.ts";
import { formatMac } from "../wire/ethernet.ts";
import { lastLease, type SlirpConfig } from "./config.ts";

/** Lease time handed out, in seconds (libslirp's: one day). */
export const LEASE_SECONDS = 86400;

/** How long an OFFER holds its address for the client's REQUEST, in milliseconds. */
export const OFFER_HOLD_MS = 10_000;
/**
 * A full pool gives away a lease granted this long ago (milliseconds) whose address has carried no frame
 * since: a flood's fake clients never send from theirs, and a real guest says something within seconds.
 */
export const UNUSED_LEASE_MS = 30_000;
/** A full pool gives away a lease whose address has carried no frame and that was not renewed for this long. */
export const SILENT_LEASE_MS = 600_000;
/**
 * The seen-on-the-wire clock (`seenAt`) is stamped at the stack's once-a-second sweep, so a frame just
 * after a grant can read up to this much older than the grant and still count as after it.
 */
const SEEN_SLACK_MS = 2_000;
/** A full pool gives away a lease only when its address left an ARP request this old unanswered. */
export const PROBE_WAIT_MS = 1_000;
/** A probe unanswered for this long is stale: the lease is probed again before it is given away. */
const PROBE_AGAIN_MS = 60_000;
/** ARP requests one DISCOVER may cause, at most. */
const PROBES_PER_TAKE = 8;
/** Leases looked at for one to give away, at most. */
const TAKE_SCAN = 256;
/** Milliseconds between two log lines saying a lease was given away. */
const TAKE_LOG_GAP_MS = 60_000;

/** One lease. */
export interface Lease {
  mac: string;
  addr: number;
  /** Milliseconds on the stack clock when the lease ends. */
  expires: number;
  /** Milliseconds on the stack clock when it was granted or last renewed. */
  granted: number;
  /** When (stack clock) a full pool last asked by ARP whether the address is in use. */
  probed?: number;
}

/** An address offered and not yet requested. */
interface Offer {
  mac: string;
  addr: number;
  /** Milliseconds on the stack clock when the hold ends. */
  until: number;
}

/** A reply to send: the message, and where to. */
export interface DhcpReply {
  spec: DhcpReplySpec;
  /** Destination IPv4 address. */
  dst: number;
}

/** The DHCP server's state. */
export class DhcpServer {
  readonly #byMac = new Map<string, Lease>();
  readonly #byAddr = new Map<number, Lease>();
  readonly #declined = new Map<number, number>();
  readonly #offers = new Map<string, Offer>();
  readonly #offered = new Map<number, Offer>();
  readonly #encoder = new TextEncoder();
  readonly #first: number;
  readonly #last: number;
  /** Addresses the pool spans less the gateway and DNS addresses. */
  readonly #spanFree: number;
  /** Reserved addresses (config.reserved, or `reserve`'s). */
  #reserved: ReadonlySet<number> = new Set();
  /** Addresses the pool can lease: #spanFree less the reserved ones inside it. */
  #poolSize: number;
  /** Where the search for a free address resumes. */
  #cursor: number;
  /** The pool's being full was logged, and nothing was leased since. */
  #saidFull = false;
  /** When a lease given away was last logged, and how many were given away since. */
  #saidTakenAt = -Infinity;
  #takenUnsaid = 0;

  /**
   * @param heldBy the MAC the stack's ARP cache has for an address (null when none): an address
   *   another MAC answers for is in use, so it is not offered
   * @param log where the line saying the pool is full goes (the stack's log)
   * @param seenAt when (stack clock) a frame from the address was last seen on the wire; -Infinity never
   * @param probe sends an ARP request for the address (an answer shows in `seenAt`)
   */
  constructor(
    readonly config: SlirpConfig,
    readonly heldBy: (addr: number) => Uint8Array | null = () => null,
    readonly log: (message: string) => void = () => {},
    readonly seenAt: (addr: number) => number = () => -Infinity,
    readonly probe: (addr: number) => void = () => {},
  ) {
    this.#first = config.dhcpStart;
    this.#last = lastLease(config);
    this.#cursor = this.#first;
    this.#spanFree = Math.max(0, this.#last - this.#first + 1) - (this.#inPool(config.gateway) ? 1 : 0) -
      (this.#inPool(config.dns) && config.dns !== config.gateway ? 1 : 0);
    this.#poolSize = this.#spanFree;
    this.reserve(config.reserved);
  }

  #inPool(a: number): boolean {
    return a >= this.#first && a <= this.#last;
  }

  /** The addresses reserved now (`reserve`'s last, or config.reserved), as a status line names them. */
  get reserved(): number[] {
    return [...this.#reserved];
  }

  /**
   * Reserves `addrs` (replacing the reserved set): none is offered or
   * ACKed from now on. A lease or decline on a newly reserved address ends
   * at once, so each address is counted once against the pool. An ended
   * lease is logged: DHCP cannot recall an address, so its client keeps
   * using it (beside the static host given it) until it renews and is NAKed.
   */
  reserve(addrs: Iterable<number>): void {
    const c = this.config;
    const set = new Set<number>();
    for (const a of addrs) if (this.#inPool(a) && a !== c.gateway && a !== c.dns) set.add(a);
    for (const a of set) {
      const holder = this.#byAddr.get(a);
      if (holder !== undefined) {
        this.#release(holder.mac);
        this.log(
          `DHCP: ${formatIpv4(a)} is now a static host's, but was leased to ${holder.mac}, which keeps ` +
            `using it until it renews (within ${LEASE_SECONDS / 2} s); renew that client's lease now`,
        );
      }
      this.#declined.delete(a);
      const offer = this.#offered.get(a);
      if (offer !== undefined) this.#dropOffer(offer);
    }
    this.#reserved = set;
    this.#poolSize = this.#spanFree - set.size;
  }

  /** Current leases, for the console. */
  leases(): Lease[] {
    return [...this.#byMac.values()];
  }

  /** The address leased to `mac`, if any. */
  leaseOf(mac: string): number | undefined {
    return this.#byMac.get(mac)?.addr;
  }

  /**
   * Answers one request from the client at `mac` (text form).
   *
   * @returns the reply to send, or null when none is due
   */
  handle(m: DhcpMessage, now: number): DhcpReply | null {
    if (m.op !== 1 || m.htype !== 1 || m.hlen !== 6) return null;
    const mac = formatMac(m.chaddr, 0);
    this.#expire(now);
    switch (m.messageType) {
      case DHCP_MSG.DISCOVER: {
        const addr = this.#choose(mac, dhcpU32(m, DHCP_OPT.REQUESTED_IP), now, true);
        if (addr === null) {
          this.#sayFull(mac);
          return null;
        }
        if (this.#byMac.get(mac)?.addr !== addr) this.#hold(mac, addr, now);
        return this.#reply(m, DHCP_MSG.OFFER, addr, true);
      }
      case DHCP_MSG.REQUEST: {
        const wanted = dhcpU32(m, DHCP_OPT.REQUESTED_IP) ?? m.ciaddr;
        const server = dhcpU32(m, DHCP_OPT.SERVER_ID);
        // A REQUEST naming another server is that server's business.
        if (server !== null && server !== this.config.gateway) {
          this.#release(mac);
          this.#unhold(mac);
          return null;
        }
        // Only a DISCOVER takes a lease from another client: a REQUEST names one it may have. An offer
        // holds its address against other DISCOVERs, not REQUESTs: the first REQUEST wins it, as
        // without holds, so a guest whose offer a DISCOVER flood took meanwhile still gets it.
        const addr = this.#choose(mac, wanted, now, false);
        if (addr === null) this.#sayFull(mac);
        if (addr === null || addr !== wanted) return this.#nak(m);
        this.#saidFull = false;
        const lease = { mac, addr, expires: now + LEASE_SECONDS * 1000, granted: now };
        this.#release(mac);
        this.#unhold(mac);
        const offer = this.#offered.get(addr);
        if (offer !== undefined) this.#dropOffer(offer);
        this.#byMac.set(mac, lease);
        this.#byAddr.set(addr, lease);
        return this.#reply(m, DHCP_MSG.ACK, addr, true);
      }
      case DHCP_MSG.RELEASE:
        if (this.#byMac.get(mac)?.addr === m.ciaddr) this.#release(mac);
        return null;
      case DHCP_MSG.DECLINE: {
        const addr = dhcpU32(m, DHCP_OPT.REQUESTED_IP);
        if (addr !== null && this.#byMac.get(mac)?.addr === addr) {
          this.#release(mac);
          this.#declined.delete(addr);
          this.#declined.set(addr, now + LEASE_SECONDS * 1000);
        }
        return null;
      }
      case DHCP_MSG.INFORM:
        return this.#reply(m, DHCP_MSG.ACK, 0, false);
      default:
        return null;
    }
  }

  /** Logs, once until an address is leased again, that `mac` got no address: the pool is full. */
  #sayFull(mac: string): void {
    if (this.#saidFull) return;
    this.#saidFull = true;
    // Offers are named only when some are held (a REQUEST's NAK): a DISCOVER would have taken one.
    const offered = this.#offered.size > 0 ? `${this.#offered.size} offered for seconds, ` : "";
    this.log(
      `DHCP: no free address for ${mac} in ${formatIpv4(this.#first)}-${formatIpv4(this.#last)} ` +
        `(${this.#byAddr.size} leased, ${offered}${this.#reserved.size} reserved for static hosts, ` +
        `${this.#declined.size} declined): it gets no lease`,
    );
  }

  /** Holds `addr` for `mac`'s REQUEST (replacing its earlier offer); reinserted, so offers stay in expiry order. */
  #hold(mac: string, addr: number, now: number): void {
    this.#unhold(mac);
    const offer = { mac, addr, until: now + OFFER_HOLD_MS };
    this.#offers.set(mac, offer);
    this.#offered.set(addr, offer);
  }

  /** Ends the offer held for `mac`, if any. */
  #unhold(mac: string): void {
    const offer = this.#offers.get(mac);
    if (offer !== undefined) this.#dropOffer(offer);
  }

  #dropOffer(offer: Offer): void {
    this.#offers.delete(offer.mac);
    this.#offered.delete(offer.addr);
  }

  /**
   * A full pool's address for a new client: the oldest offer held for another, else the lease granted
   * least recently that has gone unused or silent (see the file's opening); that offer or lease ends.
   */
  #take(mac: string, now: number): number | null {
    const offer = this.#offers.values().next();
    if (!offer.done) {
      this.#dropOffer(offer.value);
      return offer.value.addr;
    }
    let looked = 0;
    let probes = 0;
    // Leases iterate in grant order (see #expire): none after one granted within UNUSED_LEASE_MS qualifies.
    for (const lease of this.#byMac.values()) {
      if (++looked > TAKE_SCAN || now - lease.granted < UNUSED_LEASE_MS) return null;
      const seen = this.seenAt(lease.addr);
      const used = seen > lease.granted - SEEN_SLACK_MS;
      if (used && now - Math.max(seen, lease.granted) < SILENT_LEASE_MS) continue;
      // A live host answers ARP for its address even when it sends nothing else on IPv4: ask first. An
      // answer is a frame seen after the grant and recently, so the test above keeps the lease from then on.
      const probed = lease.probed ?? -Infinity;
      if (now - probed >= PROBE_AGAIN_MS) {
        if (probes++ < PROBES_PER_TAKE) {
          lease.probed = now;
          this.probe(lease.addr);
        }
        continue;
      }
      if (now - probed < PROBE_WAIT_MS) continue;
      this.#release(lease.mac);
      this.#sayTaken(lease, used, mac, now);
      return lease.addr;
    }
    return null;
  }

  /** Logs a lease given away to a new client, at most once a minute (with how many since the last line). */
  #sayTaken(lease: Lease, used: boolean, mac: string, now: number): void {
    this.#takenUnsaid++;
    if (now - this.#saidTakenAt < TAKE_LOG_GAP_MS) return;
    const more = this.#takenUnsaid > 1
      ? ` (${this.#takenUnsaid - 1} more given away since the last such line)`
      : "";
    this.#saidTakenAt = now;
    this.#takenUnsaid = 0;
    const quiet = Math.round(
      (now - (used ? Math.max(this.seenAt(lease.addr), lease.granted) : lease.granted)) / 1000,
    );
    const why = used
      ? `no frame from it nor renewal for ${quiet} s, no answer to ARP`
      : `no frame from it in the ${quiet} s since its lease, no answer to ARP`;
    this.log(
      `DHCP: pool full: ${formatIpv4(lease.addr)}, leased to ${lease.mac} (${why}), goes to ${mac}${more}`,
    );
  }

  #release(mac: string): void {
    const lease = this.#byMac.get(mac);
    if (lease === undefined) return;
    this.#byMac.delete(mac);
    this.#byAddr.delete(lease.addr);
  }

  // Every lease and every decline lasts LEASE_SECONDS, every offer
  // OFFER_HOLD_MS, and each is (re)inserted when made, so the maps iterate
  // in expiry order (the leases in grant order too): stopping at the first
  // one still running keeps a request's cost independent of the pool size.
  #expire(now: number): void {
    for (const offer of this.#offers.values()) {
      if (offer.until > now) break;
      this.#dropOffer(offer);
    }
    for (const [mac, lease] of this.#byMac) {
      if (lease.expires > now) break;
      this.#release(mac);
    }
    for (const [addr, until] of this.#declined) {
      if (until > now) break;
      this.#declined.delete(addr);
    }
  }

  /** Whether `mac` may have `addr`; another client's offer counts against it unless `request`. */
  #usable(addr: number, mac: string, arpCheck = true, request = false): boolean {
    if (addr < this.#first || addr > this.#last) return false;
    if (addr === this.config.gateway || addr === this.config.dns || this.#declined.has(addr)) return false;
    if (this.#reserved.has(addr)) return false;
    const holder = this.#byAddr.get(addr) ?? (request ? undefined : this.#offered.get(addr));
    if (holder !== undefined) return holder.mac === mac;
    if (!arpCheck) return true;
    const arp = this.heldBy(addr);
    return arp === null || formatMac(arp, 0) === mac;
  }

  /**
   * The address for `mac`: its lease, else the requested one if free, else
   * the one offered to it, else the next free one from where the last
   * search stopped, else (`take`) one `#take` frees. A full pool is known
   * from the counts, and the search resumes rather than restarts, so a
   * flood of new clients does not cost a walk of the pool each.
   */
  #choose(mac: string, requested: number | null, now: number, take: boolean): number | null {
    const current = this.#byMac.get(mac);
    if (current !== undefined) return current.addr;
    // (A lease on an address reserved later ended with the reservation: `reserve`.)
    if (requested !== null && requested !== 0 && this.#usable(requested, mac, true, !take)) return requested;
    const offered = this.#offers.get(mac);
    if (offered !== undefined) return offered.addr;
    if (this.#byAddr.size + this.#offered.size + this.#declined.size >= this.#poolSize) {
      return take ? this.#take(mac, now) : null;
    }
    const span = this.#last - this.#first + 1;
    // Addresses another MAC answered ARP for come last, not never: the cache keeps an entry until it
    // overflows, long after its host left (a client whose lease ended, a deleted static host), and
    // skipping them for good would shrink the pool with every such host until nothing is offered.
    for (const arpCheck of [true, false]) {
      for (let i = 0; i < span; i++) {
        const a = this.#first + ((this.#cursor - this.#first + i) % span);
        if (this.#usable(a, mac, arpCheck)) {
          this.#cursor = a;
          return a;
        }
      }
    }
    return take ? this.#take(mac, now) : null;
  }

  #nak(m: DhcpMessage): DhcpReply {
    return {
      dst: 0xffffffff,
      spec: {
        xid: m.xid,
        flags: m.flags,
        chaddr: m.chaddr.subarray(0, 6),
        options: [
          [DHCP_OPT.MESSAGE_TYPE, new Uint8Array([DHCP_MSG.NAK])],
          [DHCP_OPT.SERVER_ID, u32Option(this.config.gateway)],
          [DHCP_OPT.MESSAGE, this.#encoder.encode("address not available")],
        ],
      },
    };
  }

  #reply(m: DhcpMessage, type: number, addr: number, lease: boolean): DhcpReply {
    const c = this.config;
    const options: [number, Uint8Array][] = [
      [DHCP_OPT.MESSAGE_TYPE, new Uint8Array([type])],
      [DHCP_OPT.SERVER_ID, u32Option(c.gateway)],
    ];
    if (lease) {
      options.push(
        [DHCP_OPT.LEASE_TIME, u32Option(LEASE_SECONDS)],
        [DHCP_OPT.RENEWAL_TIME, u32Option(LEASE_SECONDS / 2)],
        [DHCP_OPT.REBINDING_TIME, u32Option((LEASE_SECONDS * 7) / 8)],
      );
    }
    const mask = prefixMask(c.prefixLength);
    options.push(
      [DHCP_OPT.SUBNET_MASK, u32Option(mask)],
      [DHCP_OPT.ROUTER, u32Option(c.gateway)],
      [DHCP_OPT.DNS, u32Option(c.dns)],
      [DHCP_OPT.BROADCAST, u32Option((c.network | ~mask) >>> 0)],
    );
    if (c.mtu !== 1500) options.push([DHCP_OPT.MTU, new Uint8Array([c.mtu >>> 8, c.mtu & 0xff])]);
    if (c.domain !== undefined) options.push([DHCP_OPT.DOMAIN_NAME, this.#encoder.encode(c.domain)]);
    if (c.search.length > 0) options.push([DHCP_OPT.DOMAIN_SEARCH, domainSearchOption(c.search)]);
    // PXE: the boot file in the BOOTP field and as option 67, from the gateway (siaddr) by TFTP.
    if (c.tftpServerName !== undefined) {
      options.push([DHCP_OPT.TFTP_SERVER, this.#encoder.encode(c.tftpServerName)]);
    }
    if (c.bootfile !== undefined) options.push([DHCP_OPT.BOOTFILE, this.#encoder.encode(c.bootfile)]);
    // INFORM: answer the address the client has; otherwise broadcast when asked, or to the new address.
    const dst = type === DHCP_MSG.ACK && !lease
      ? m.ciaddr
      : (m.flags & 0x8000) !== 0 || m.ciaddr === 0
      ? 0xffffffff
      : addr;
    return {
      dst: dst === 0 ? 0xffffffff : dst,
      spec: {
        xid: m.xid,
        flags: m.flags,
        ciaddr: m.ciaddr,
        yiaddr: addr,
        siaddr: c.gateway,
        chaddr: m.chaddr.subarray(0, 6),
        file: c.bootfile,
        options,
      },
    };
  }

  /** One line per lease, for the console. */
  describe(now: number): string[] {
    return this.leases().map((l) =>
      `${l.mac} ${formatIpv4(l.addr)} expires in ${Math.max(0, Math.round((l.expires - now) / 1000))} s`
    );
  }
}
