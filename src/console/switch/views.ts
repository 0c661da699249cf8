/**
 * Ports and MAC entries as plain values, the one shape behind every way the
 * console shows them: vde_switch's `port/print` and `hash/print` text
 * (listings.ts), the aligned `ports` and `macs` tables (tables.ts), and
 * `vde term`, which rebuilds these values by parsing a remote switch's
 * listings so its tables work against a C vde_switch too.
 */
import type { ConsoleContext } from "./context.ts";
import { printable } from "../reply_format.ts";
import { vdeBucket } from "../../switch/vde_bucket.ts";
import type { StpPortView } from "../../switch/rstp.ts";
import type { PointToPoint } from "../../switch/stp_limits.ts";
import type { Endpoint } from "../../switch/switch.ts";
import { groupName, userName } from "../../os/users.ts";
import { idMap, uidOutside } from "../../os/user_namespace.ts";

/** MAC entries formatted between yields to the event loop, so a big listing never holds up forwarding for long. */
const MAC_SLICE = 2048;

/** One endpoint on a port. */
export interface EndpointView {
  id: number;
  /** vde_switch's module name: "unix prog" for socket clients, "tuntap" for taps. */
  module: string;
  description: string;
}

/** One allocated port. */
export interface PortView {
  port: number;
  /** Untagged VLAN. */
  vlan: number;
  active: boolean;
  /** Taken by automatic port requests. */
  allocatable: boolean;
  /** Owner of the current endpoints, "NONE" when there are none. */
  user: string;
  /** Access control (port/setuser, port/setgroup), "NONE" when unrestricted. */
  accessUser: string;
  accessGroup: string;
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
  /** Dropped frames, when known (not in vde_switch's listing). */
  drops?: number;
  /**
   * The port's spanning tree guards and what they did, and its point-to-point state, when a guard is on or
   * the port is set or found other than auto and point-to-point (not in vde_switch's listing).
   */
  stp?: string;
  endpoints: EndpointView[];
}

/** One MAC table entry. */
export interface MacView {
  /** vde_switch's bucket index (`Hash: NNNN`). */
  bucket: number;
  mac: string;
  vlan: number;
  port: number;
  /** Seconds since the address was last seen. */
  age: number;
}

/** The module name vde_switch would show for an endpoint's link. */
export function endpointModule(ep: Endpoint): string {
  if (ep.link.kind === "vde") return "unix prog";
  if (ep.link.kind === "tap") return "tuntap";
  return "link";
}

/**
 * What vde_switch would show as an endpoint's description: a tap's is its
 * interface's name alone (vde_switch's tuntap module describes it so, and
 * scripts read the name from `port/print`), any other link's its own,
 * followed by where its far end is now where that moves (a cable listener's
 * session: `cable session 3f2a9c0d1e4b5a67 from 10.0.0.2:41234`).
 */
export function endpointDescription(ep: Endpoint): string {
  const link: object = ep.link;
  if (ep.link.kind === "tap" && "name" in link && typeof link.name === "string") return link.name;
  const farEnd = ep.link.farEnd;
  return farEnd === undefined ? ep.link.description : `${ep.link.description} ${farEnd}`;
}

/**
 * Views of the allocated ports in ascending order: only active ones unless
 * `includeInactive`.
 */
export function portViews(ctx: ConsoleContext, includeInactive: boolean): PortView[] {
  const views: PortView[] = [];
  const names = new NameCache();
  for (const p of ctx.sw.allocatedPorts()) {
    const view = portView(ctx, p, names);
    if (view !== undefined && (includeInactive || view.active)) views.push(view);
  }
  return views;
}

/**
 * Names of a listing's users and groups, each looked up (users.ts) once per listing, not once per
 * port. Each id is named as the machine knows it, through this process's user namespace maps: in a
 * rootless lab (`unshare --map-root-user`) a client's SO_PEERCRED uid is 0, the lab's user, whom the
 * listing called `root` while its endpoint said `user=alice`. Outside a user namespace the maps are the
 * identity and an id is itself.
 */
export class NameCache {
  readonly #users = new Map<number, string>();
  readonly #groups = new Map<number, string>();
  readonly #uidMap: string;
  readonly #gidMap: string;
  constructor(maps: { uid: string; gid: string } = { uid: idMap("uid") ?? "", gid: idMap("gid") ?? "" }) {
    this.#uidMap = maps.uid;
    this.#gidMap = maps.gid;
  }
  user(uid: number): string {
    if (uid < 0) return "NONE";
    let name = this.#users.get(uid);
    if (name === undefined) this.#users.set(uid, name = userName(uidOutside(uid, this.#uidMap)));
    return name;
  }
  group(gid: number): string {
    if (gid < 0) return "NONE";
    let name = this.#groups.get(gid);
    // A gid_map has a uid_map's shape (INSIDE OUTSIDE COUNT).
    if (name === undefined) this.#groups.set(gid, name = groupName(uidOutside(gid, this.#gidMap)));
    return name;
  }
}

/** The view of port `p`, or undefined when it is not allocated or out of range. */
export function portView(ctx: ConsoleContext, p: number, names = new NameCache()): PortView | undefined {
  const state = ctx.sw.port(p);
  if (state === undefined || p >= ctx.sw.numPorts) return undefined;
  const engine = ctx.sw.engine;
  const stats = engine.portStats(p);
  return {
    port: p,
    vlan: engine.portVlan(p),
    active: engine.isActive(p),
    allocatable: state.allocatable,
    user: names.user(state.uid),
    accessUser: names.user(state.accessUser),
    accessGroup: names.group(state.accessGroup),
    framesIn: stats.framesIn,
    bytesIn: stats.bytesIn,
    framesOut: stats.framesOut,
    bytesOut: stats.bytesOut,
    drops: stats.dropsIn + stats.dropsOut,
    ...optional("stp", stpText(ctx, p)),
    // Newest first in the switch; listed oldest first, as vde_switch does.
    endpoints: [...state.endpoints].reverse().map((ep) => ({
      id: ep.id,
      module: endpointModule(ep),
      description: printable(endpointDescription(ep)),
    })),
  };
}

/** `{ key: value }`, or nothing when value is undefined (views compare as values, key for key). */
function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : { [key]: value } as Record<K, V>;
}

/**
 * `BPDU guard (trips 1: port disabled until its client leaves or stp/setguard 3 1);
 * root guard (blocks 0); shared LAN (auto: ...)` for a port with a guard on or a point-to-point state
 * to tell; undefined otherwise.
 */
function stpText(ctx: ConsoleContext, p: number): string | undefined {
  const set = ctx.stpGuards.get(p) ?? { bpdu: false, root: false };
  const v = ctx.sw.engine.stp?.port(p);
  const p2p = p2pWords(ctx.stpPointToPoint.get(p), v);
  if (!set.bpdu && !set.root && p2p === undefined) return undefined;
  const parts: string[] = [];
  if (set.bpdu) {
    const tripped = v?.guardTripped ? `: port disabled until its client leaves or stp/setguard ${p} 1` : "";
    parts.push(`BPDU guard (trips ${v?.guardTrips ?? 0}${tripped})`);
  }
  if (set.root) {
    const blocked = v?.rootBlocked ? ": root-inconsistent now, discarding" : "";
    parts.push(`root guard (blocks ${v?.rootBlocks ?? 0}${blocked})`);
  }
  if (p2p !== undefined) parts.push(p2p);
  return `${parts.join("; ")}${v === undefined ? " (spanning tree is off)" : ""}`;
}

/** A port's point-to-point state in words when it is set, or found shared; undefined for auto and point-to-point. */
function p2pWords(set: PointToPoint | undefined, v: StpPortView | undefined): string | undefined {
  if (set !== undefined) {
    return set === "yes" ? "point-to-point (set)" : "shared LAN (set: no proposal/agreement)";
  }
  if (v === undefined || v.pointToPoint) return undefined;
  return "shared LAN (auto: BPDUs from two bridge ports within max age; no proposal/agreement)";
}

/**
 * Views of every MAC entry in vde_switch's bucket order (then by MAC and
 * VLAN). A big table is walked in slices with the event loop served in
 * between, so the data plane keeps forwarding; entries learnt or dropped
 * meanwhile may or may not appear, as in any listing of a live table.
 */
export async function macViews(ctx: ConsoleContext): Promise<MacView[]> {
  const now = Math.floor(ctx.nowSeconds());
  const views: MacView[] = [];
  const bytes = new Uint8Array(6);
  let count = 0;
  for (const e of ctx.sw.engine.macTable.entries()) {
    // entries() spells MACs as "xx:xx:xx:xx:xx:xx"; read the bytes back without a regex.
    for (let i = 0; i < 6; i++) bytes[i] = parseInt(e.mac.slice(i * 3, i * 3 + 2), 16);
    views.push({
      bucket: vdeBucket(bytes, e.vlan, ctx.hashBuckets),
      mac: e.mac,
      vlan: e.vlan,
      port: e.port,
      age: Math.max(0, now - Math.floor(e.lastSeen)),
    });
    if (++count % MAC_SLICE === 0) await new Promise((r) => setTimeout(r, 0));
  }
  return views.sort((a, b) =>
    a.bucket - b.bucket || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0) || a.vlan - b.vlan
  );
}
