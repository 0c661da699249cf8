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
 * group-specific queries; on a fast-leave port (the bridge's
 * `multicast_fast_leave`) a leave ends that port's membership at once,
 * with no queries, querier or not, as br_multicast_leave_group does. The
 * timers and the table bound can be changed while it runs (`setOption`,
 * the bridge's `mcast_*` knobs): a changed one counts from its next use,
 * as the kernel's running timers keep their expiry. A general query is elected as the kernel's
 * br_multicast_select_querier elects it (the lowest address stays
 * querier); one taken marks its port as a multicast router port and means
 * "another querier exists" for a while, during which ours is silent for
 * that family, starting over once it ran out.
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
 * reports for new groups is counted and dropped, never grows memory. A
 * data frame costs no allocation: its group is looked up where it lies in
 * the frame (GroupTable: a keyed hash, chains of at most CHAIN_MAX, so a
 * guest's crafted groups cannot make a lookup long) and its ports go into
 * the caller's reused `PortList`; groups become text only for
 * `mcast/print`.
 */
import {
  buildIgmpQuery,
  buildMldQuery,
  etherPayloadAt,
  type GroupEvent,
  McastKind,
  multicastKind,
  parseGroupMessage,
  queryMaxDelayMs,
} from "../wire/igmp.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
import { formatIpv6 } from "../wire/ipv6.ts";
import { parseIpv4Text, parseIpv6Text } from "../wire/ip_address.ts";
import { readU32 } from "../wire/bytes.ts";
import { GroupTable, randomSeed } from "./mcast_group_table.ts";
import type { GroupEntry as Entry } from "./mcast_group_table.ts";

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
  /** The group table's hash key (random by default; a copy given the same seed refuses the same groups). */
  hashSeed?: number;
  /**
   * The memberships the table's buckets are sized for: the highest `maxGroups` it has had (a lowered bound
   * keeps the buckets a raised one grew). A copy made with `settings` gets the same buckets, so it refuses
   * the same groups; unset, `maxGroups`.
   */
  tableCapacity?: number;
}

/** A setting the bridge's `mcast_*` knobs change while it runs (all but the table's seed and size). */
export type SnoopingKnob = Exclude<keyof SnoopingOptions, "hashSeed" | "tableCapacity">;

/** The Linux bridge's defaults (`ip -d link show` of a new bridge), in milliseconds. */
export const SNOOPING_DEFAULTS: Readonly<Required<Pick<SnoopingOptions, SnoopingKnob>>> = {
  membershipMs: 260_000,
  otherQuerierMs: 255_000,
  queryIntervalMs: 125_000,
  queryResponseMs: 10_000,
  lastMemberMs: 1000,
  lastMemberCount: 2,
  startupQueryMs: 31_250,
  startupQueryCount: 2,
  maxGroups: 4096,
};

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

/**
 * The ports a multicast frame goes to: the first `length` of `ports`. Its
 * owner (the engine) passes the same one to every `route`, which refills
 * it, so a frame costs no allocation; read it before the next `route`.
 */
export class PortList {
  readonly ports: number[] = [];
  length = 0;

  /** Appends `port` (the array grows only past its largest fill so far). */
  push(port: number): void {
    this.ports[this.length++] = port;
  }
}

/** One querier election of a family, as the kernel's br_multicast_select_querier keeps it. */
interface Family {
  /** When another querier was last taken, plus the other-querier interval. */
  otherUntil: number;
  /** The last querier taken: its address (4 or 16 bytes), current while `otherUntil` is ahead. */
  readonly querier: Uint8Array;
  /** The port it was heard on. */
  querierPort: number;
  /** Our general queries of the family: when the next is due, and how many start-up ones are left. */
  nextQuery: number;
  startupLeft: number;
  /** Whether another querier silenced ours (it starts over when that one's timer runs out). */
  silenced: boolean;
  /**
   * Until when a querier that just appeared does not govern forwarding yet (the kernel's other_query
   * delay_timer): its max response delay, for the reports answering its first query to come in.
   */
  delayUntil: number;
}

const ZERO4 = new Uint8Array(4);

/** -1, 0 or 1 as the `n` bytes at `a[ai]` are below, equal to or above those at `b[bi]` (network order). */
function compareBytes(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): number {
  for (let i = 0; i < n; i++) {
    const x = a[ai + i]!, y = b[bi + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The current querier of a family, for `mcast/print`. */
export interface QuerierRow {
  family: 4 | 6;
  /** Its address in text. */
  address: string;
  /** The port it was heard on, or null for our own, or when that port's client left since. */
  port: number | null;
  /** Seconds left on the other-querier timer (null for ours). */
  expiresIn: number | null;
}

/** The snooping state of one switch. */
export class McastSnooping {
  /** Our querier as started on this machine's clock: what forwarding, the election and our queries follow. */
  #querier = false;
  /** Our querier as last set (`querier`): ahead of `#querier` on a copy until `querierStarted`. */
  #querierSet = false;
  #now = 0;
  readonly #o: Required<SnoopingOptions>;
  /** Fast-leave ports: a leave there ends the port's membership at once. */
  readonly #fastLeave: number[] = [];
  /** (VLAN, group) -> entry, both families: a data frame's group is looked up where it lies, at a bounded cost. */
  readonly #table: GroupTable;
  #entries = 0;
  /** Router ports and the expiry of their router status (Infinity: set by hand), in step. */
  readonly #routerPorts: number[] = [];
  readonly #routerUntil: number[] = [];
  /**
   * Bumped when the router ports change: an entry's cached port list (`sendTo`) of another version is built
   * again at its next data frame. An entry's own member change sets its version to -1.
   */
  #routersVersion = 0;
  readonly #families: Record<4 | 6, Family> = {
    4: {
      otherUntil: -Infinity,
      querier: new Uint8Array(4),
      querierPort: -1,
      nextQuery: 0,
      startupLeft: 0,
      silenced: false,
      delayUntil: -Infinity,
    },
    6: {
      otherUntil: -Infinity,
      querier: new Uint8Array(16),
      querierPort: -1,
      nextQuery: 0,
      startupLeft: 0,
      silenced: false,
      delayUntil: -Infinity,
    },
  };
  /** VLANs seen carrying IGMP/MLD, where our querier speaks. */
  readonly #vlans = new Set<number>([0]);
  /** Group-specific queries due: time -> what. */
  #pendingQueries: { at: number; vlan: number; addr: Uint8Array; family: 4 | 6 }[] = [];
  readonly #mac: Uint8Array;
  readonly #linkLocal: Uint8Array;
  readonly counters = new SnoopingCounters();

  /** @param mac the switch's own MAC, the source of its queries */
  constructor(mac: Uint8Array, options: SnoopingOptions = {}) {
    this.#o = { ...SNOOPING_DEFAULTS, hashSeed: options.hashSeed ?? randomSeed(), tableCapacity: 0 };
    for (const [key, value] of Object.entries(options) as [keyof SnoopingOptions, number | undefined][]) {
      if (value !== undefined) this.#o[key] = value;
    }
    this.#o.tableCapacity = Math.max(this.#o.tableCapacity, this.#o.maxGroups);
    this.#table = new GroupTable(this.#o.tableCapacity, this.#o.hashSeed);
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

  /**
   * Sets one timer (milliseconds) or bound; the caller checked its range. A running timer keeps its expiry
   * and the next one set uses the new value; a lower table bound keeps the memberships already held.
   */
  setOption(key: SnoopingKnob, value: number): void {
    this.#o[key] = value;
    // A raised bound gets the buckets for it, or its chains would fill before the table does; a lowered one
    // keeps them (and says so in `settings`, for a copy to be sized the same).
    if (key === "maxGroups" && value > this.#o.tableCapacity) {
      this.#o.tableCapacity = value;
      this.#table.grow(value);
    }
  }

  /** Makes `port` a fast-leave port (the bridge's `multicast_fast_leave`), or not. */
  setFastLeave(port: number, on: boolean): void {
    const i = this.#fastLeave.indexOf(port);
    if (on && i < 0) this.#fastLeave.push(port);
    else if (!on && i >= 0) this.#fastLeave.splice(i, 1);
  }

  /** The fast-leave ports, in order. */
  fastLeavePorts(): number[] {
    return [...this.#fastLeave].sort((a, b) => a - b);
  }

  /** Whether we send queries (as last set: on a copy, before the machine it follows has started it). */
  get querier(): boolean {
    return this.#querierSet;
  }

  /** Starts or stops our querier; starting sends the start-up queries from the next tick. */
  setQuerier(on: boolean): void {
    if (on === this.#querierSet && on === this.#querier) return;
    this.#querierSet = on;
    this.querierStarted(on);
  }

  /**
   * On a copy that follows another machine (the switch thread's, whose ticks and frames it is given
   * later, in their order): sets our querier as `querier` reads, and leaves its start to
   * `querierStarted`, called where that machine started or stopped it among its ticks and frames.
   * A start counts its delay from the clock (`delayUntil`, the next query), and this copy's clock
   * is behind the other's until their ticks reach it: started here at once, a querier turned on
   * right after snooping (whose machine takes the switch's clock as it is made there, 0 here until
   * that tick comes) was active here up to a response interval (10 s) before the other machine
   * forwarded by it. Until then our querier counts as off here, as it does there.
   */
  setQuerierLater(on: boolean): void {
    this.#querierSet = on;
  }

  /** Starts or stops our querier's part (forwarding, election, queries) now, as `setQuerier` does. */
  querierStarted(on: boolean): void {
    if (on === this.#querier) return;
    this.#querier = on;
    for (const f of [this.#families[4], this.#families[6]]) {
      // Ours governs forwarding one response interval after it starts, the time its first query gives the
      // hosts to report, unless another querier already does (br_multicast_set_querier).
      if (on && !(f.otherUntil > this.#now)) f.delayUntil = this.#now + this.#o.queryResponseMs;
      this.#startQueries(f);
    }
  }

  /** Our general queries of `f` from now: the start-up ones first. */
  #startQueries(f: Family): void {
    f.nextQuery = this.#now;
    f.startupLeft = this.#o.startupQueryCount;
    f.silenced = false;
  }

  /** Makes `port` a permanent multicast router port, or back to learned only. */
  setRouter(port: number, on: boolean): void {
    if (on) this.#markRouter(port, Infinity);
    else this.#dropRouter(this.#routerPorts.indexOf(port));
  }

  /** Makes `port` a router port until `until`; a permanent one stays permanent. */
  #markRouter(port: number, until: number): void {
    const i = this.#routerPorts.indexOf(port);
    if (i < 0) {
      this.#routerPorts.push(port);
      this.#routerUntil.push(until);
      this.#routersVersion++;
    } else if (this.#routerUntil[i] !== Infinity || until === Infinity) this.#routerUntil[i] = until;
  }

  #dropRouter(i: number): void {
    if (i < 0) return;
    this.#routerPorts.splice(i, 1);
    this.#routerUntil.splice(i, 1);
    this.#routersVersion++;
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
      if (e.kind === "query") {
        // A group-specific query elects nobody, as the kernel's (only a general one reaches its
        // br_multicast_query_received): it neither keeps a querier alive nor makes a router port.
        if (e.group === null) this.#elect(e.family, port, frame);
        else this.#groupQueried(vlan, e.family, e.group, frame);
        continue;
      }
      this.#apply(port, vlan, e);
    }
    return true;
  }

  /**
   * The querier election of br_multicast_select_querier: a general query is taken when no querier is
   * known (neither ours running nor another's timer), when the current one's IPv4 address is 0.0.0.0 (ours
   * sends from there, so it yields to any other), or when its source is at or below the current one's;
   * taken, it becomes the current querier, restarts the other-querier timer and makes its port a router
   * port. One that loses does neither: a higher querier's queries cannot keep the other-querier state
   * alive once the lower one stops (checked beside a kernel bridge). A querier taken when none other was
   * current (none at all, or ours) governs forwarding only once its query's max response delay has passed,
   * as br_multicast_update_query_timer arms the kernel's delay timer: until the reports answering it came
   * in, members of groups it asks about may be unknown yet, so multicast is flooded meanwhile. One taken
   * while another's timer runs (a lower address) follows on at once.
   */
  #elect(family: 4 | 6, port: number, frame: Uint8Array): void {
    // Our own query heard back (a hub or a loop between two of our ports): the kernel's bridge would take it,
    // from 0.0.0.0 or its own address, and so fall silent as if another querier were there, make that port a
    // router port and keep doing so while the loop lasts. It is ours: it elects nobody.
    if (this.#fromUs(frame)) return;
    const delay = queryMaxDelayMs(frame);
    if (delay < 0) return;
    const f = this.#families[family];
    const now = this.#now;
    // The source address: IPv4's at 12 into its header, IPv6's at 8.
    const src = etherPayloadAt(frame) + (family === 4 ? 12 : 8);
    const n = family === 4 ? 4 : 16;
    const other = f.otherUntil > now;
    if (other || this.#querier) {
      // Ours, running unchallenged, is the current one: the kernel's sends at once and takes its own source.
      const current = other ? f.querier : family === 4 ? ZERO4 : this.#linkLocal;
      const unset = family === 4 && readU32(current, 0) === 0;
      if (!unset && compareBytes(frame, src, current, 0, n) > 0) return;
    }
    f.querier.set(frame.subarray(src, src + n));
    f.querierPort = port;
    if (!other) f.delayUntil = now + delay;
    f.otherUntil = now + this.#o.otherQuerierMs;
    this.#markRouter(port, now + this.#o.otherQuerierMs);
  }

  /** Whether `frame` came from our MAC (the source of every query ours sends). */
  #fromUs(frame: Uint8Array): boolean {
    const mac = this.#mac;
    for (let i = 0; i < 6; i++) if (frame[6 + i] !== mac[i]) return false;
    return true;
  }

  /**
   * Another querier's group-specific query, its answer to a leave: as br_ip4_multicast_query and
   * br_ip6_multicast_query do, every port's membership of the group ends within last member count x the
   * query's max response delay unless a report renews it. Without it, a host that left while a Linux
   * bridge or a router was the querier stayed a member here for the whole membership interval (260 s),
   * the group still sent to its port, where the kernel's bridge next to us had let it go in 2 s.
   */
  #groupQueried(vlan: number, family: 4 | 6, group: string, frame: Uint8Array): void {
    // Ours, heard back through a hub or a loop: the leave that made it set the time already.
    if (this.#fromUs(frame)) return;
    const delay = queryMaxDelayMs(frame);
    if (delay < 0) return;
    const parsed = family === 4 ? parseIpv4Text(group) : parseIpv6Text(group);
    if (!parsed.ok) return;
    const entry = this.#table.find(family, vlan, parsed.value, 0);
    if (entry === undefined) return;
    const last = this.#now + delay * this.#o.lastMemberCount;
    for (let i = 0; i < entry.until.length; i++) if (entry.until[i]! > last) entry.until[i] = last;
  }

  /** Removes `entry`'s `i`th port, and the entry once it has none. */
  #dropMember(entry: Entry, i: number): void {
    entry.ports.splice(i, 1);
    entry.until.splice(i, 1);
    entry.sendVersion = -1;
    this.#entries--;
    if (entry.ports.length === 0) this.#table.remove(entry);
  }

  #apply(port: number, vlan: number, e: Extract<GroupEvent, { kind: "join" | "leave" }>): void {
    const now = this.#now;
    // The group text came from the parser's own formatting of an address: it parses back.
    const parsed = e.family === 4 ? parseIpv4Text(e.group) : parseIpv6Text(e.group);
    if (!parsed.ok) return;
    const addr = parsed.value;
    let entry = this.#table.find(e.family, vlan, addr, 0);
    const at = entry === undefined ? -1 : entry.ports.indexOf(port);
    if (e.kind === "join") {
      if (at < 0) {
        if (this.#entries >= this.#o.maxGroups) {
          this.counters.tableFull++;
          return;
        }
        if (entry === undefined) {
          entry = {
            vlan,
            family: e.family,
            addr,
            ports: [],
            until: [],
            sendTo: [],
            sendLength: 0,
            sendVersion: -1,
            next: null,
          };
          // Its bucket's chain is at its ceiling (a guest's crafted groups, or chance): refused as a full table.
          if (!this.#table.insert(entry)) {
            this.counters.tableFull++;
            return;
          }
        }
        this.#entries++;
        entry.ports.push(port);
        entry.until.push(now + this.#o.membershipMs);
        entry.sendVersion = -1;
      } else entry!.until[at] = now + this.#o.membershipMs;
      return;
    }
    if (entry === undefined || at < 0) return;
    // A fast-leave port's member goes at once, whoever the querier is (br_multicast_leave_group checks it first).
    if (this.#fastLeave.indexOf(port) >= 0) {
      this.#dropMember(entry, at);
      return;
    }
    // The other querier answers a leave, not ours: the kernel ignores one while it hears another.
    if (!this.#querier) return;
    if (this.#families[e.family].otherUntil > now) return;
    const last = now + this.#o.lastMemberMs * this.#o.lastMemberCount;
    // A membership already cut to its last-member time is being answered: a repeated leave schedules no more
    // queries, or a guest repeating one would have two queries flooded to every port per leave, and the list
    // of those due grow with them (the kernel's answer is one query per leave; ours, at most one round per
    // membership at a time).
    if (entry.until[at]! <= last) return;
    entry.until[at] = last;
    for (let i = 0; i < this.#o.lastMemberCount; i++) {
      this.#pendingQueries.push({ at: now + i * this.#o.lastMemberMs, vlan, addr, family: e.family });
    }
  }

  /**
   * Where a multicast frame goes (`observe` read it first): null to flood
   * it, else `into` refilled with the ports (members and routers, maybe
   * including the source: the caller skips it). Allocates nothing: the
   * group is looked up where it lies in the frame.
   */
  route(frame: Uint8Array, vlan: number, into: PortList): PortList | null {
    const kind = multicastKind(frame);
    if (kind === McastKind.Flood) return null;
    const family = kind === McastKind.Report4 || kind === McastKind.Data4 ? 4 : 6;
    if (!this.#querierActive(family)) return null;
    into.length = 0;
    const routers = this.#routerPorts;
    // A report goes to the routers alone: members need not hear each other's (RFC 4541 2.1.1).
    if (kind !== McastKind.Data4 && kind !== McastKind.Data6) {
      for (let i = 0; i < routers.length; i++) into.push(routers[i]!);
      return into;
    }
    const at = frame[12] === 0x81 && frame[13] === 0x00 ? 18 : 14;
    // A registered group goes to its members and the routers; an unregistered routable one to the routers only.
    const entry = this.#table.find(family, vlan, frame, family === 4 ? at + 16 : at + 24);
    if (entry === undefined) {
      for (let i = 0; i < routers.length; i++) into.push(routers[i]!);
      return into;
    }
    if (entry.sendVersion !== this.#routersVersion) this.#buildSendTo(entry);
    const send = entry.sendTo;
    for (let i = 0; i < entry.sendLength; i++) into.push(send[i]!);
    return into;
  }

  /** Fills `entry.sendTo` with its members, then the router ports not among them (off the per-frame path). */
  #buildSendTo(entry: Entry): void {
    const members = entry.ports, routers = this.#routerPorts, send = entry.sendTo;
    let n = 0;
    for (let i = 0; i < members.length; i++) send[n++] = members[i]!;
    for (let i = 0; i < routers.length; i++) if (members.indexOf(routers[i]!) < 0) send[n++] = routers[i]!;
    entry.sendLength = n;
    entry.sendVersion = this.#routersVersion;
  }

  /** The kernel's br_multicast_querier_exists: ours or another current, and past the delay of a new one. */
  #querierActive(family: 4 | 6): boolean {
    const now = this.#now;
    const f = this.#families[family];
    return now >= f.delayUntil && (this.#querier || f.otherUntil > now);
  }

  /** Sets the clock, expires memberships and router ports, and returns the queries due. */
  tick(nowMs: number): QueryToSend[] {
    if (!(nowMs >= this.#now)) return [];
    this.#now = nowMs;
    for (const entry of this.#table.entries()) {
      for (let i = entry.ports.length - 1; i >= 0; i--) {
        if (entry.until[i]! <= nowMs) this.#dropMember(entry, i);
      }
    }
    for (let i = this.#routerPorts.length - 1; i >= 0; i--) {
      if (this.#routerUntil[i]! <= nowMs) this.#dropRouter(i);
    }
    const out: QueryToSend[] = [];
    if (!this.#querier) {
      this.#pendingQueries = [];
      return out;
    }
    for (const family of [4, 6] as const) {
      const f = this.#families[family];
      // While another querier of a family is current, ours is silent for it, as the kernel's is (its
      // br_multicast_send_query returns while the other-querier timer runs; a bridge beside one was).
      if (f.otherUntil > nowMs) {
        f.silenced = true;
        continue;
      }
      // Its timer ran out: ours starts over with the start-up queries, as br_multicast_querier_expired
      // restarts the kernel's.
      if (f.silenced) this.#startQueries(f);
      if (nowMs < f.nextQuery) continue;
      // startupQueryCount queries a start-up interval apart, then one a query interval, as the kernel's
      // br_multicast_query_expired counts them (the last start-up one is followed by a query interval).
      if (f.startupLeft > 0) f.startupLeft--;
      f.nextQuery = nowMs + (f.startupLeft > 0 ? this.#o.startupQueryMs : this.#o.queryIntervalMs);
      for (const vlan of this.#vlans) {
        out.push({
          vlan,
          frame: family === 4
            ? buildIgmpQuery(this.#mac, null, this.#o.queryResponseMs / 100)
            : buildMldQuery(this.#mac, this.#linkLocal, null, this.#o.queryResponseMs),
        });
        this.counters.of(family).queriesOut++;
      }
    }
    const due = this.#pendingQueries.filter((q) => q.at <= nowMs);
    this.#pendingQueries = this.#pendingQueries.filter((q) => q.at > nowMs);
    for (const q of due) {
      const maxResp = this.#o.lastMemberMs;
      this.counters.of(q.family).queriesOut++;
      out.push({
        vlan: q.vlan,
        frame: q.family === 4
          ? buildIgmpQuery(this.#mac, readU32(q.addr, 0), maxResp / 100)
          : buildMldQuery(this.#mac, this.#linkLocal, q.addr, maxResp),
      });
    }
    return out;
  }

  /**
   * Forgets a port's memberships and learned router status (its client
   * left, its cable went down); a permanent router port stays one, as a
   * Linux bridge port's `mcast_router 2` survives down and up. Its owner
   * calls `setRouter(port, false)` when the port itself is gone. A querier
   * heard on it stays current until its timer runs out, but on no port: a
   * port whose client left is free for the next one, as a Linux bridge
   * keeps the querier of a deleted port, with its address and timer, and
   * names no port for it (checked beside one: IFLA_BR_MCAST_QUERIER_STATE
   * then has no port attribute).
   */
  forgetPort(port: number): void {
    for (const family of [4, 6] as const) {
      if (this.#families[family].querierPort === port) this.#families[family].querierPort = -1;
    }
    for (const entry of this.#table.entries()) {
      const i = entry.ports.indexOf(port);
      if (i >= 0) this.#dropMember(entry, i);
    }
    const r = this.#routerPorts.indexOf(port);
    if (r >= 0 && this.#routerUntil[r] !== Infinity) this.#dropRouter(r);
  }

  /** The memberships, by VLAN, group and port (the groups formatted here, off the data path). */
  groups(): GroupRow[] {
    const rows: GroupRow[] = [];
    for (const entry of this.#table.entries()) {
      const group = entry.family === 4 ? formatIpv4(readU32(entry.addr, 0)) : formatIpv6(entry.addr, 0);
      for (let i = 0; i < entry.ports.length; i++) {
        rows.push({
          vlan: entry.vlan,
          port: entry.ports[i]!,
          group,
          expiresIn: (entry.until[i]! - this.#now) / 1000,
        });
      }
    }
    return rows.sort((a, b) => a.vlan - b.vlan || a.group.localeCompare(b.group) || a.port - b.port);
  }

  /** Router ports: learned (with seconds left) or permanent (null). */
  routers(): { port: number; expiresIn: number | null }[] {
    return this.#routerPorts.map((port, i) => {
      const until = this.#routerUntil[i]!;
      return { port, expiresIn: until === Infinity ? null : (until - this.#now) / 1000 };
    }).sort((a, b) => a.port - b.port);
  }

  /** Whether a querier is active for IPv4 and for IPv6. */
  querierState(): { ipv4: boolean; ipv6: boolean } {
    return { ipv4: this.#querierActive(4), ipv6: this.#querierActive(6) };
  }

  /**
   * The current querier of each family: another's while its timer runs, else ours while it runs; a family
   * with neither has none (any general query is taken then).
   */
  queriers(): QuerierRow[] {
    const rows: QuerierRow[] = [];
    for (const family of [4, 6] as const) {
      const f = this.#families[family];
      const other = f.otherUntil > this.#now;
      if (!other && !this.#querier) continue;
      if (other) {
        const address = family === 4 ? formatIpv4(readU32(f.querier, 0)) : formatIpv6(f.querier, 0);
        const port = f.querierPort < 0 ? null : f.querierPort;
        rows.push({ family, address, port, expiresIn: (f.otherUntil - this.#now) / 1000 });
      } else {
        rows.push({
          family,
          address: family === 4 ? "0.0.0.0" : formatIpv6(this.#linkLocal, 0),
          port: null,
          expiresIn: null,
        });
      }
    }
    return rows;
  }
}
