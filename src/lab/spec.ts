/**
 * A lab as vde runs it: the validated, resolved form of a lab file.
 *
 * `validate.ts` turns YAML into this shape and nothing else does, so every
 * later stage (bring-up, the shell, `save`) can trust it: names are legal
 * for namespaces and taps, every link end names a node, switch ports and
 * host interfaces are fixed (the ones the file left open are assigned in
 * link order) and used once.
 */
import type { Dataplane } from "../switch/dataplane.ts";

/** The node kinds a lab file knows. */
export const NODE_KINDS = ["switch", "slirp", "host", "cable"] as const;
/** One of NODE_KINDS. */
export type NodeKind = typeof NODE_KINDS[number];

/** A `vde switch` in the lab. */
export interface SwitchNode {
  kind: "switch";
  name: string;
  /** Number of ports, 0 .. ports-1 (0 is for management clients). */
  ports: number;
  hub: boolean;
  stp: boolean;
  /** IGMP/MLD snooping from start (`mcast_snooping`, as the Linux bridge's option); off when unset. */
  mcastSnooping?: boolean;
  /** Its own IGMP/MLD querier (`mcast_querier`); needs snooping. */
  mcastQuerier?: boolean;
  /**
   * The snooping knobs the file sets, by the bridge's names (`mcast_query_interval: 500`) and in its units
   * (centiseconds for intervals; src/switch/mcast_knobs.ts); need snooping. Unset ones are the defaults.
   */
  mcastKnobs?: Record<string, number>;
  /** VLANs created at start (those a link names are created too). */
  vlans: number[];
  /** A console command file run at start (path relative to the lab file). */
  rc?: string;
  /**
   * Where it forwards, as `vde switch --dataplane`: "thread" (a data-plane
   * thread) or "main"; unset, $VDE_DATAPLANE decides, else "thread".
   */
  dataplane?: Dataplane;
  /** Mode of its ctl and port sockets, as `vde switch --mode` (its directory's follows); unset, 600. */
  mode?: number;
  /** Group of its socket directory and sockets (and of its console, with `mgmtMode`), as `--group`. */
  group?: string;
  /** Mode of its console socket, as `vde switch --mgmtmode`; unset, 600 (root's alone). */
  mgmtMode?: number;
  /** Spanning tree bridge priority, as `vde switch --priority` (needs `stp`); unset, 32768. */
  priority?: number;
}

/** A slirp stack: NAT to the host, DHCP and DNS for the lab. */
export interface SlirpNode {
  kind: "slirp";
  name: string;
  /** Inbound forwards as `vde slirp --forward` takes them. */
  forwards: string[];
  /** Further slirp:// options (`vnet=10.1.0.0/24/...`). */
  options?: string;
  mtu?: number;
}

/** A network namespace with one interface per link. */
export interface HostNode {
  kind: "host";
  name: string;
  /** Addresses per interface (CIDR, or "dhcp" for a lease from the lab's slirp). */
  addresses: Record<string, string[]>;
  gateway?: string;
  /** `ip route add` arguments, such as "10.1.0.0/16 via 10.0.2.1". */
  routes: string[];
  /** Shell commands run in the namespace once its interfaces are up. */
  exec: string[];
  mtu?: number;
}

/** A cable to a switch on another machine (`vde cable`). */
export interface CableNode {
  kind: "cable";
  name: string;
  /** HOST:PORT of a listening peer. */
  connect?: string;
  /** [ADDR:]PORT to listen on. */
  listen?: string;
  /** Key file (path relative to the lab file). */
  key?: string;
  /** A plain cable without a key (`vde cable --insecure`): both ends must say so. */
  insecure?: boolean;
}

/** A node of any kind. */
export type LabNode = SwitchNode | SlirpNode | HostNode | CableNode;

/** One end of a link, resolved: a switch end has its port, a host end its interface. */
export interface LinkEnd {
  node: string;
  /** Switch port number (switch ends only). */
  port?: number;
  /** Interface name in the host's namespace (host ends only). */
  iface?: string;
}

/** Impairments of a link, in wirefilter's units. */
export interface Impairments {
  /** Percent of frames lost. */
  loss?: number;
  /** One-way delay, ms. */
  delay?: number;
  /** Spread of the delay, ms (uniform, +-). */
  jitter?: number;
  /** Percent of frames duplicated. */
  dup?: number;
  /** Bandwidth, bytes per second (the file says bits: 10mbit). */
  rate?: number;
  mtu?: number;
  /**
   * Frames (of 1500 bytes: wirefilter bounds bytes) the link holds waiting
   * in each direction, as tc netem's `limit`; the rest are dropped. A link
   * with a `rate` and no limit holds DEFAULT_RATE_LIMIT, as netem would.
   */
  limit?: number;
}

/** A link between two nodes. */
export interface LabLink {
  ends: [LinkEnd, LinkEnd];
  impair: Impairments;
  /** The switch ends are untagged ports of this VLAN. */
  vlan?: number;
  /** The switch ends carry these VLANs tagged. */
  trunk: number[];
}

/** A whole lab. */
export interface Lab {
  name: string;
  nodes: LabNode[];
  links: LabLink[];
}

/** Whether `link` has any impairment set. */
export function isImpaired(i: Impairments): boolean {
  return Object.values(i).some((v) => v !== undefined);
}

/** The node called `name`. */
export function nodeOf(lab: Lab, name: string): LabNode | undefined {
  return lab.nodes.find((n) => n.name === name);
}

/** The VLANs the links of node `name` carry, untagged or tagged: each is made on its switch at start. */
export function carriedVlans(links: readonly LabLink[], name: string): Set<number> {
  const out = new Set<number>();
  for (const l of links) {
    if (!l.ends.some((e) => e.node === name)) continue;
    if (l.vlan !== undefined) out.add(l.vlan);
    for (const v of l.trunk) out.add(v);
  }
  return out;
}

/** A link's name as the shell and `vde status` show it: `sw1:5-h1:eth0`. */
export function linkName(l: LabLink): string {
  const end = (e: LinkEnd) =>
    e.port !== undefined ? `${e.node}:${e.port}` : e.iface ? `${e.node}:${e.iface}` : e.node;
  return `${end(l.ends[0])}-${end(l.ends[1])}`;
}
