/**
 * IGMP/MLD snooping (RFC 4541), behaving as the Linux bridge does: pure
 * logic on a virtual clock (milliseconds given by the owner), no I/O.
 *
 * Theory of operation. Every IGMP/MLD message is read (`observe`), and
 * every multicast IP packet's header checked (a malformed one is dropped). Queries, leaves and IGMPv3/MLDv2 reports are then flooded like
 * other link-local control traffic, so hosts and routers keep seeing each
 * other; IGMPv1/v2 and MLDv1 reports go to the router ports, as the Linux
 * bridge sends them. Reports add (port, group, VLAN) memberships that
 * expire after the group membership interval unless refreshed; leaves, when
 * we are the querier, shorten that to the last-member interval and send
 * group-specific queries. A query received marks its port as a multicast
 * router port and means "another querier exists" for a while.
 *
 * `route` decides where a multicast frame goes, as
 * br_handle_frame_finish does: link-local groups (224.0.0.0/24, ff02::/16,
 * so ARP-free NDP and routing protocols never break) and non-IP multicast
 * are flooded; so is everything while no querier is active for the family
 * (ours after one response interval, or another seen recently), since a
 * switch without a querier would age out members and black-hole them; an
 * IGMPv1/v2 or MLDv1 report goes to the router ports only; a registered
 * group goes to its member ports and the router ports, an unregistered
 * (routable) one to the router ports only.
 *
 * The table is bounded (`maxGroups` entries of port-and-group): a flood of
 * reports for new groups is counted and dropped, never grows memory.
 */
import {
  buildIgmpQuery,
  buildMldQuery,
  etherPayloadAt,
  type GroupEvent,
  McastKind,
  multicastKind,
  parseGroupMessage,
} from "../wire/igmp.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
import { formatIpv6 } from "../wire/ipv6.ts";
import { ipv4ToU32, parseIpv4Text, parseIpv6Text } from "../wire/ip_address.ts";

/** Timers and bounds, in milliseconds; defaults are the Linux bridge's (ip -d link show). */
export interface SnoopingOptions {
  membershipMs?: number;
  otherQuerierMs?: number;
  queryIntervalMs?: number;
  queryResponseMs?: number;
  lastMemberMs?: number;
  lastMemberCount?: number;
  startupQueryMs?: number;
  startupQueryCount?: number;
  maxGroups?: number;
}

/** A query the switch must send now: flood `frame` on `vlan`. */
export interface QueryToSend {
  vlan: number;
  frame: Uint8Array;
}

/** One row of `mcast/print`. */
export interface GroupRow {
  vlan: number;
  port: number;
  group: string;
  /** Seconds left before the membership expires. */
  expiresIn: number;
}

/**
 * IGMP or MLD messages of one family, counted as the Linux bridge counts
 * them (`ip link xstats type bridge`): a message once, whatever its records
 * say (an IGMPv3 report that leaves a group is a report). A switch is no
 * host: of its own it sends queries only, as the querier.
 */
export interface FamilyCounters {
  /** Queries seen on the ports (other queriers', general and group-specific). */
  queriesIn: number;
  /** Queries we sent as the querier (general and group-specific). */
  queriesOut: number;
  /** Membership reports seen (IGMPv1/v2/v3, MLDv1/v2). */
  reports: number;
  /** Leaves seen (IGMPv2 leave, MLDv1 done). */
  leaves: number;
  /** Malformed messages (bad checksums, lying lengths), dropped. */
  bad: number;
}

function familyCounters(): FamilyCounters {
  return { queriesIn: 0, queriesOut: 0, reports: 0, leaves: 0, bad: 0 };
}

/** Counters of `mcast/print`: per family, and the table's refusals. */
export class SnoopingCounters {
  readonly igmp: FamilyCounters = familyCounters();
  readonly mld: FamilyCounters = familyCounters();
  /** Memberships refused because the table was full. */
  tableFull = 0;
  /**
   * Messages seen (queries, reports, leaves, malformed), both families: one
   * field the switch thread compares around each observe, so it reads one
   * number per frame rather than summing eight.
   */
  counted = 0;

  /** The counters of `family`. */
  of(family: 4 | 6): FamilyCounters {
    return family === 4 ? this.igmp : this.mld;
  }
}

interface Family {
  /** When another querier was last heard, plus the other-querier interval. */
  otherUntil: number;
}

const key = (vlan: number, group: string) => `${vlan} ${group}`;

/** The snooping state of one switch. */
export class McastSnooping {
  #querier = false;
  #querierSince = 0;
  #now = 0;
  #nextQuery = 0;
  #startupLeft = 0;
  readonly #o: Required<SnoopingOptions>;
  /** (VLAN, group) -> port -> expiry time. */
  readonly #groups = new Map<string, { vlan: number; group: string; ports: Map<number, number> }>();
  #entries = 0;
  /** port -> expiry of its router status (Infinity: set by hand). */
  readonly #routers = new Map<number, number>();
  readonly #families: Record<4 | 6, Family> = { 4: { otherUntil: -Infinity }, 6: { otherUntil: -Infinity } };
  /** VLANs seen carrying IGMP/MLD, where our querier speaks. */
  readonly #vlans = new Set<number>([0]);
  /** Group-specific queries due: time -> what. */
  #pendingQueries: { at: number; vlan: number; group: string; family: 4 | 6 }[] = [];
  readonly #mac: Uint8Array;
  readonly #linkLocal: Uint8Array;
  readonly counters = new SnoopingCounters();

  /** @param mac the switch's own MAC, the source of its queries */
  constructor(mac: Uint8Array, options: SnoopingOptions = {}) {
    this.#o = {
      membershipMs: options.membershipMs ?? 260_000,
      otherQuerierMs: options.otherQuerierMs ?? 255_000,
      queryIntervalMs: options.queryIntervalMs ?? 125_000,
      queryResponseMs: options.queryResponseMs ?? 10_000,
      lastMemberMs: options.lastMemberMs ?? 1000,
      lastMemberCount: options.lastMemberCount ?? 2,
      startupQueryMs: options.startupQueryMs ?? 31_250,
      startupQueryCount: options.startupQueryCount ?? 2,
      maxGroups: options.maxGroups ?? 4096,
    };
    this.#mac = mac;
    // fe80::/64 with the MAC's EUI-64: MLD queries must come from a link-local address.
    this.#linkLocal = new Uint8Array([
      0xfe,
      0x80,
      0,
      0,
      0,
      0,
      0,
      0,
      mac[0]! ^ 2,
      mac[1]!,
      mac[2]!,
      0xff,
      0xfe,
      mac[3]!,
      mac[4]!,
      mac[5]!,
    ]);
  }

  /** What it was made with: a copy made with these behaves the same given the same frames. */
  get settings(): { mac: Uint8Array; options: Required<SnoopingOptions> } {
    return { mac: this.#mac.slice(), options: { ...this.#o } };
  }

  /** Whether we send queries. */
  get querier(): boolean {
    return this.#querier;
  }

  /** Starts or stops our querier; starting sends the start-up queries from the next tick. */
  setQuerier(on: boolean): void {
    if (on === this.#querier) return;
    this.#querier = on;
    this.#querierSince = this.#now;
    this.#nextQuery = this.#now;
    this.#startupLeft = this.#o.startupQueryCount;
  }

  /** Makes `port` a permanent multicast router port, or back to learned only. */
  setRouter(port: number, on: boolean): void {
    if (on) this.#routers.set(port, Infinity);
    else this.#routers.delete(port);
  }

  /** Reads an IGMP/MLD frame from `port` on `vlan`; returns false for a malformed one (drop it). */
  observe(port: number, vlan: number, frame: Uint8Array): boolean {
    const msg = parseGroupMessage(frame);
    if (msg.type === "other") return true;
    if (msg.type === "bad") {
      this.counters.of(msg.family).bad++;
      this.counters.counted++;
      return false;
    }
    const c = this.counters.of(msg.family);
    if (msg.kind !== null) this.counters.counted++;
    if (msg.kind === "query") c.queriesIn++;
    else if (msg.kind === "report") c.reports++;
    else if (msg.kind === "leave") c.leaves++;
    this.#vlans.add(vlan);
    for (const e of msg.events) {
      if (e.kind === "query" && e.family === 6 && e.group === null && this.#winsElection(frame)) continue;
      this.#apply(port, vlan, e);
    }
    return true;
  }

  /**
   * Whether our querier, running, wins the MLD querier election against this general query's source: the
   * lower address wins (RFC 2710 and 3810), and a query that loses neither silences ours nor makes its port
   * a router port, as the kernel's (br_ip6_multicast_select_querier; a bridge beside one queried on after a
   * higher address's query, and fell silent after a lower one's). Our IGMP queries come from 0.0.0.0, and
   * the kernel's from there yield to any other querier, so ours do too.
   */
  #winsElection(frame: Uint8Array): boolean {
    if (!this.#querier) return false;
    const src = etherPayloadAt(frame) + 8;
    for (let i = 0; i < 16; i++) {
      const theirs = frame[src + i]!, ours = this.#linkLocal[i]!;
      if (theirs !== ours) return theirs > ours;
    }
    return false;
  }

  #apply(port: number, vlan: number, e: GroupEvent): void {
    const now = this.#now;
    if (e.kind === "query") {
      this.#families[e.family].otherUntil = now + this.#o.otherQuerierMs;
      if (this.#routers.get(port) !== Infinity) this.#routers.set(port, now + this.#o.otherQuerierMs);
      return;
    }
    const k = key(vlan, e.group);
    if (e.kind === "join") {
      let entry = this.#groups.get(k);
      if (entry === undefined || !entry.ports.has(port)) {
        if (this.#entries >= this.#o.maxGroups) {
          this.counters.tableFull++;
          return;
        }
        this.#entries++;
      }
      if (entry === undefined) {
        entry = { vlan, group: e.group, ports: new Map() };
        this.#groups.set(k, entry);
      }
      entry.ports.set(port, now + this.#o.membershipMs);
      return;
    }
    const entry = this.#groups.get(k);
    // The other querier answers a leave, not ours: the kernel ignores one while it hears another.
    if (entry === undefined || !entry.ports.has(port) || !this.#querier) return;
    if (this.#families[e.family].otherUntil > now) return;
    const last = now + this.#o.lastMemberMs * this.#o.lastMemberCount;
    if (entry.ports.get(port)! > last) entry.ports.set(port, last);
    for (let i = 0; i < this.#o.lastMemberCount; i++) {
      this.#pendingQueries.push({
        at: now + i * this.#o.lastMemberMs,
        vlan,
        group: e.group,
        family: e.family,
      });
    }
  }

  /**
   * Where a multicast frame goes (`observe` read it first): null to flood
   * it, else the ports (members and routers, maybe including the source:
   * the caller skips it). Allocates only the returned list.
   */
  route(frame: Uint8Array, vlan: number): number[] | null {
    const kind = multicastKind(frame);
    if (kind === McastKind.Flood) return null;
    const family = kind === McastKind.Report4 || kind === McastKind.Data4 ? 4 : 6;
    if (!this.#querierActive(family)) return null;
    // A report goes to the routers alone: members need not hear each other's (RFC 4541 2.1.1).
    if (kind !== McastKind.Data4 && kind !== McastKind.Data6) return [...this.#routers.keys()];
    const at = frame[12] === 0x81 && frame[13] === 0x00 ? 18 : 14;
    const group = family === 4
      ? formatIpv4(
        ((frame[at + 16]! << 24) | (frame[at + 17]! << 16) | (frame[at + 18]! << 8) | frame[at + 19]!) >>> 0,
      )
      : formatIpv6(frame, at + 24);
    // A registered group goes to its members and the routers; an unregistered routable one to the routers only.
    const entry = this.#groups.get(key(vlan, group));
    const out = entry === undefined ? [] : [...entry.ports.keys()];
    for (const port of this.#routers.keys()) if (!entry?.ports.has(port)) out.push(port);
    return out;
  }

  #querierActive(family: 4 | 6): boolean {
    const now = this.#now;
    if (this.#families[family].otherUntil > now) return true;
    return this.#querier && now - this.#querierSince >= this.#o.queryResponseMs;
  }

  /** Sets the clock, expires memberships and router ports, and returns the queries due. */
  tick(nowMs: number): QueryToSend[] {
    if (!(nowMs >= this.#now)) return [];
    this.#now = nowMs;
    for (const [k, entry] of this.#groups) {
      for (const [port, until] of entry.ports) {
        if (until <= nowMs) {
          entry.ports.delete(port);
          this.#entries--;
        }
      }
      if (entry.ports.size === 0) this.#groups.delete(k);
    }
    for (const [port, until] of this.#routers) if (until <= nowMs) this.#routers.delete(port);
    const out: QueryToSend[] = [];
    if (!this.#querier) {
      this.#pendingQueries = [];
      return out;
    }
    if (nowMs >= this.#nextQuery) {
      const startup = this.#startupLeft > 0;
      if (startup) this.#startupLeft--;
      this.#nextQuery = nowMs + (startup ? this.#o.startupQueryMs : this.#o.queryIntervalMs);
      // While another querier of a family is heard, ours is silent for it, as the kernel's is (its
      // br_multicast_send_query returns while the other-querier timer runs; a bridge beside one was).
      const igmp = this.#families[4].otherUntil <= nowMs, mld = this.#families[6].otherUntil <= nowMs;
      for (const vlan of this.#vlans) {
        if (igmp) {
          out.push({ vlan, frame: buildIgmpQuery(this.#mac, null, this.#o.queryResponseMs / 100) });
          this.counters.igmp.queriesOut++;
        }
        if (mld) {
          out.push({ vlan, frame: buildMldQuery(this.#mac, this.#linkLocal, null, this.#o.queryResponseMs) });
          this.counters.mld.queriesOut++;
        }
      }
    }
    const due = this.#pendingQueries.filter((q) => q.at <= nowMs);
    this.#pendingQueries = this.#pendingQueries.filter((q) => q.at > nowMs);
    for (const q of due) {
      const maxResp = this.#o.lastMemberMs;
      // The group text came from our own formatting of a parsed address: it parses back.
      const address = q.family === 4 ? parseIpv4Text(q.group) : parseIpv6Text(q.group);
      if (!address.ok) continue;
      this.counters.of(q.family).queriesOut++;
      out.push({
        vlan: q.vlan,
        frame: q.family === 4
          ? buildIgmpQuery(this.#mac, ipv4ToU32(address.value), maxResp / 100)
          : buildMldQuery(this.#mac, this.#linkLocal, address.value, maxResp),
      });
    }
    return out;
  }

  /**
   * Forgets a port's memberships and learned router status (it went down);
   * a permanent router port stays one, as a Linux bridge port's
   * `mcast_router 2` survives down and up. Its owner calls
   * `setRouter(port, false)` when the port itself is gone.
   */
  forgetPort(port: number): void {
    for (const [k, entry] of this.#groups) {
      if (entry.ports.delete(port)) this.#entries--;
      if (entry.ports.size === 0) this.#groups.delete(k);
    }
    if (this.#routers.get(port) !== Infinity) this.#routers.delete(port);
  }

  /** The memberships, by VLAN, group and port. */
  groups(): GroupRow[] {
    const rows: GroupRow[] = [];
    for (const entry of this.#groups.values()) {
      for (const [port, until] of entry.ports) {
        rows.push({ vlan: entry.vlan, port, group: entry.group, expiresIn: (until - this.#now) / 1000 });
      }
    }
    return rows.sort((a, b) => a.vlan - b.vlan || a.group.localeCompare(b.group) || a.port - b.port);
  }

  /** Router ports: learned (with seconds left) or permanent (null). */
  routers(): { port: number; expiresIn: number | null }[] {
    return [...this.#routers].map(([port, until]) => ({
      port,
      expiresIn: until === Infinity ? null : (until - this.#now) / 1000,
    })).sort((a, b) => a.port - b.port);
  }

  /** Whether a querier is active for IPv4 and for IPv6. */
  querierState(): { ipv4: boolean; ipv6: boolean } {
    return { ipv4: this.#querierActive(4), ipv6: this.#querierActive(6) };
  }
}
