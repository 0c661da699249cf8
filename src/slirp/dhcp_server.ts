/**
 * The slirp stack's DHCP server: one lease per client MAC, addresses from
 * the first lease address (10.0.2.15 by default) to the end of the network,
 * skipping the gateway and the DNS address, the addresses its config
 * reserves (a lab's hosts' static ones on the slirp's LAN, changed live by
 * `reserve`) and any the stack's ARP cache shows held by another MAC (a
 * host configured by hand that the lab did not name), as docker's or
 * dnsmasq's servers avoid the addresses in use.
 *
 * A client the pool has no address for gets no OFFER (a REQUEST a NAK),
 * as libslirp's; that is said in one log line, once until an address is
 * leased again, since reserved addresses can leave a small pool empty.
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

/** One lease. */
export interface Lease {
  mac: string;
  addr: number;
  /** Milliseconds on the stack clock when the lease ends. */
  expires: number;
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

  /**
   * @param heldBy the MAC the stack's ARP cache has for an address (null when none): an address
   *   another MAC answers for is in use, so it is not offered
   * @param log where the line saying the pool is full goes (the stack's log)
   */
  constructor(
    readonly config: SlirpConfig,
    readonly heldBy: (addr: number) => Uint8Array | null = () => null,
    readonly log: (message: string) => void = () => {},
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
        const addr = this.#choose(mac, dhcpU32(m, DHCP_OPT.REQUESTED_IP));
        if (addr === null) {
          this.#sayFull(mac);
          return null;
        }
        return this.#reply(m, DHCP_MSG.OFFER, addr, true);
      }
      case DHCP_MSG.REQUEST: {
        const wanted = dhcpU32(m, DHCP_OPT.REQUESTED_IP) ?? m.ciaddr;
        const server = dhcpU32(m, DHCP_OPT.SERVER_ID);
        // A REQUEST naming another server is that server's business.
        if (server !== null && server !== this.config.gateway) {
          this.#release(mac);
          return null;
        }
        const addr = this.#choose(mac, wanted);
        if (addr === null) this.#sayFull(mac);
        if (addr === null || addr !== wanted) return this.#nak(m);
        this.#saidFull = false;
        const lease = { mac, addr, expires: now + LEASE_SECONDS * 1000 };
        this.#release(mac);
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
    this.log(
      `DHCP: no free address for ${mac} in ${formatIpv4(this.#first)}-${formatIpv4(this.#last)} ` +
        `(${this.#byAddr.size} leased, ${this.#reserved.size} reserved for static hosts, ` +
        `${this.#declined.size} declined): it gets no lease`,
    );
  }

  #release(mac: string): void {
    const lease = this.#byMac.get(mac);
    if (lease === undefined) return;
    this.#byMac.delete(mac);
    this.#byAddr.delete(lease.addr);
  }

  // Every lease and every decline lasts LEASE_SECONDS and is (re)inserted
  // when made, so the maps iterate in expiry order: stopping at the first
  // one still running keeps a request's cost independent of the pool size.
  #expire(now: number): void {
    for (const [mac, lease] of this.#byMac) {
      if (lease.expires > now) break;
      this.#release(mac);
    }
    for (const [addr, until] of this.#declined) {
      if (until > now) break;
      this.#declined.delete(addr);
    }
  }

  #usable(addr: number, mac: string, arpCheck = true): boolean {
    if (addr < this.#first || addr > this.#last) return false;
    if (addr === this.config.gateway || addr === this.config.dns || this.#declined.has(addr)) return false;
    if (this.#reserved.has(addr)) return false;
    const holder = this.#byAddr.get(addr);
    if (holder !== undefined) return holder.mac === mac;
    if (!arpCheck) return true;
    const arp = this.heldBy(addr);
    return arp === null || formatMac(arp, 0) === mac;
  }

  /**
   * The address for `mac`: its lease, else the requested one if free, else
   * the next free one from where the last search stopped. A full pool is
   * known from the counts, and the search resumes rather than restarts, so
   * a flood of new clients does not cost a walk of the pool each.
   */
  #choose(mac: string, requested: number | null): number | null {
    const current = this.#byMac.get(mac);
    if (current !== undefined) return current.addr;
    // (A lease on an address reserved later ended with the reservation: `reserve`.)
    if (requested !== null && requested !== 0 && this.#usable(requested, mac)) return requested;
    if (this.#byAddr.size + this.#declined.size >= this.#poolSize) return null;
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
    return null;
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
