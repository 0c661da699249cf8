/**
 * What a lab file says that its running lab does not do: nodes and links
 * the file no longer has, those it has gained, and settings changed under
 * the same name; each said in one line, and each marked live or not (what
 * `apply` can do to a running lab without taking it down).
 *
 * Theory of operation. Nodes are matched by name. Links are matched by the
 * nodes they join, not by their ports or interfaces: a link the file puts
 * on another port (the lowest free one moves when an earlier link goes) is
 * the same link, and a second link between the same nodes is another one
 * (links are a multiset of node pairs); of several between the same nodes,
 * each file link takes the running one most like it (settings, then ends). A matched link keeps its running
 * ends; an added one takes the file's, or the lowest free port or
 * interface where a link that stays holds the file's. A host's addresses
 * belong to its links here (the file keys them by interface, and interfaces
 * are renumbered as links come and go): a matched link compares the
 * addresses of its two interfaces, an added one brings the file's.
 * Live: a link's impairments (what `link A-B loss 5%` sets) and its VLANs
 * (its switch ports' untagged VLAN and tagged ones, as `vlan/addport` sets
 * them), a host end's addresses (a DHCP lease taken or let go), links and
 * nodes added or removed, and a node's settings that its running process
 * can change in place: a switch's `ports`, `hub`, `stp`, `priority`, `mcast_snooping`,
 * `mcast_querier`, the snooping knobs (`mcast_query_interval`) and `vlans` (its console's commands), a host's `gateway`,
 * `routes` and `mtu` (`ip` in its namespace), a slirp's `forwards` (its
 * stack's). The rest is named as not live, with the reason: what is fixed
 * when a node starts (a switch's data plane, its `rc`, its sockets' `mode`,
 * `group` and `mgmt_mode`; a slirp's options; a
 * cable's ends; a host's `exec`, which ran), a node's kind, and a switch
 * shrunk below a port that a link keeps.
 */
import { knobDefault, MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import { type HostNode, type Lab, type LabLink, type LabNode, type LinkEnd, linkName } from "./spec.ts";
import { plainImpairments, plainNode } from "./to_yaml.ts";

/** The bridge priority of a switch whose node gives none (`vde switch` without --priority). */
export const DEFAULT_PRIORITY = 32768;

/** A setting a link or node changed, in words: `delay 5ms -> 20ms`. */
export type SettingChange = string;

/** A link in both the running lab and the file. */
export interface MatchedLink {
  running: LabLink;
  file: LabLink;
}

/** A link to add, and the file's addresses for its host ends, by the interface each end gets. */
export interface AddedLink {
  link: LabLink;
  addresses: { host: string; iface: string; addresses: string[] }[];
}

/** What the file and the running lab disagree on. */
export interface LabChanges {
  /** Running, gone from the file (their links are in removedLinks). */
  removedNodes: LabNode[];
  removedLinks: LabLink[];
  /** In the file, not running. */
  addedNodes: LabNode[];
  /** In the file, not running; ends moved off ports and interfaces that links that stay hold. */
  addedLinks: AddedLink[];
  /**
   * Links whose impairments, VLANs or host ends' addresses changed (live):
   * the file's link has the new settings, `addresses` the new addresses of
   * the running link's host ends (by the running interface).
   */
  relinked: (MatchedLink & { settings: SettingChange[]; addresses: AddressChange[] })[];
  /** Nodes whose settings changed in ways their process can follow (live): the file's node has them. */
  renoded: { running: LabNode; file: LabNode; settings: SettingChange[] }[];
  /** What cannot change live, one each: `switch sw1: dataplane thread -> main`, and why not. */
  notLive: NotLive[];
}

/** A host end's addresses as they run and as the file has them. */
export interface AddressChange {
  host: string;
  /** The interface as it runs (the file may number it otherwise). */
  iface: string;
  before: string[];
  after: string[];
}

/** A change that cannot be made live: its line, and why not. */
export interface NotLive {
  line: string;
  why: string;
}

/** The settings of each kind of node that its running process can change, in the order they are made. */
export const LIVE_SETTINGS: Readonly<Record<LabNode["kind"], readonly string[]>> = {
  switch: [
    "ports",
    "stp",
    "priority",
    "hub",
    "mcast_snooping",
    "mcast_querier",
    ...MCAST_KNOBS.map((k) => k.name),
    "vlans",
  ],
  host: ["mtu", "routes", "gateway"],
  slirp: ["forwards"],
  cable: [],
};

/** Why the other settings of each kind cannot change while the node runs. */
const FIXED_AT_START: Readonly<Record<LabNode["kind"], string>> = {
  switch: "a switch's data plane, rc file and socket permissions are its start's",
  host: "a host's exec ran when it came up",
  slirp: "a slirp's options and mtu are its stack's from the start",
  cable: "a cable's ends and key are its start's",
};

/** The nodes a link joins, in either order, as one key. */
function joins(l: LabLink): string {
  return [l.ends[0].node, l.ends[1].node].sort().join(" ");
}

/** A value as a setting change shows it: `none` (a bare `-` read as a typo in `delay - -> 2ms`), lists with commas. */
function shown(v: unknown): string {
  if (v === undefined) return "none";
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.join(",");
  return String(v);
}

/** Lists whose order means nothing to the node: the same items reordered are no change. */
const UNORDERED = new Set(["vlans", "trunk", "routes", "forwards"]);

/** A list's items in one order (anything else as it is). */
function sortedList(v: unknown): unknown {
  return Array.isArray(v) ? v.map(String).sort() : v;
}

/** `KEY OLD -> NEW` for each key whose value differs between two plain forms. */
export function settingChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): SettingChange[] {
  // In the file's order, then what it no longer has.
  const keys = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  const same = (k: string) =>
    UNORDERED.has(k)
      ? shown(sortedList(before[k])) === shown(sortedList(after[k]))
      : shown(before[k]) === shown(after[k]);
  return keys.filter((k) => !same(k)).map((k) => `${k} ${shown(before[k])} -> ${shown(after[k])}`);
}

/**
 * A node's settings as the file writes them, a switch's defaults said (`ports
 * 32 -> 8`, `hub off -> on`), without what its links carry (a host's addresses).
 */
function nodeSettings(n: LabNode): Record<string, unknown> {
  const plain = plainNode(n.kind === "host" ? { ...n, addresses: {} } : n);
  delete plain.kind;
  if (n.kind !== "switch") return plain;
  const onOff = (b: boolean | undefined) => b ? "on" : "off";
  return {
    ...plain,
    ports: n.ports,
    hub: onOff(n.hub),
    stp: onOff(n.stp),
    priority: n.priority ?? DEFAULT_PRIORITY,
    mcast_snooping: onOff(n.mcastSnooping),
    mcast_querier: onOff(n.mcastQuerier),
    // Each knob as it runs, the bridge's default where the file has none (`mcast_query_interval 12500 -> 500`).
    ...Object.fromEntries(MCAST_KNOBS.map((k) => [k.name, n.mcastKnobs?.[k.name] ?? knobDefault(k)])),
  };
}

/** A link's settings that change live: its impairments and VLANs. */
function linkSettings(l: LabLink): Record<string, unknown> {
  return { ...plainImpairments(l.impair), vlan: l.vlan, trunk: l.trunk };
}

/** The addresses of a link's host ends that differ between its running form and the file's. */
function addressChanges(m: MatchedLink, running: Lab, file: Lab): AddressChange[] {
  const hostOf = (lab: Lab, name: string) =>
    lab.nodes.find((n): n is HostNode => n.name === name && n.kind === "host");
  const out: AddressChange[] = [];
  for (const end of m.running.ends) {
    const was = hostOf(running, end.node);
    const fileEnd = m.file.ends.find((e) => e.node === end.node);
    const now = hostOf(file, end.node);
    if (was === undefined || now === undefined || end.iface === undefined || fileEnd?.iface === undefined) {
      continue;
    }
    const before = was.addresses[end.iface] ?? [];
    const after = now.addresses[fileEnd.iface] ?? [];
    if (shown(before) !== shown(after)) out.push({ host: end.node, iface: end.iface, before, after });
  }
  return out;
}

/**
 * Why a switch cannot take `ports` now, or undefined: a port that a link
 * keeps (or is added on) would be past its last.
 */
function portsHeld(name: string, ports: number, links: LabLink[]): string | undefined {
  const held = links.flatMap((l) =>
    l.ends.filter((e) => e.node === name && e.port !== undefined && e.port >= ports).map((e) =>
      [e.port!, l] as const
    )
  );
  if (held.length === 0) return undefined;
  const [port, link] = held[0]!;
  return `link ${linkName(link)} keeps port ${port}`;
}

/** What `file` changes in the running lab `running`. */
export function labChanges(running: Lab, file: Lab): LabChanges {
  const fileNode = new Map(file.nodes.map((n) => [n.name, n]));
  const runningNode = new Map(running.nodes.map((n) => [n.name, n]));
  const notLive: NotLive[] = [];
  const { matched, removed, added } = matchLinks(running, file);
  const kept = matched.map((m) => m.running);
  const addedLinks = placeAdded(added, kept, file);
  const renoded: LabChanges["renoded"] = [];
  for (const n of running.nodes) {
    const f = fileNode.get(n.name);
    if (f === undefined) continue;
    if (f.kind !== n.kind) {
      notLive.push({
        line: `node ${n.name}: kind ${n.kind} -> ${f.kind}`,
        why: "another kind is another program; remove the node, apply, then add it back",
      });
      continue;
    }
    const before = nodeSettings(n);
    const after = nodeSettings(f);
    const live = LIVE_SETTINGS[n.kind];
    const pick = (o: Record<string, unknown>, want: boolean) =>
      Object.fromEntries(Object.entries(o).filter(([k]) => live.includes(k) === want));
    const fixed = settingChanges(pick(before, false), pick(after, false));
    if (fixed.length > 0) {
      notLive.push({ line: `${n.kind} ${n.name}: ${fixed.join(", ")}`, why: FIXED_AT_START[n.kind] });
    }
    const settings = settingChanges(pick(before, true), pick(after, true));
    if (settings.length === 0) continue;
    const held = f.kind === "switch" && n.kind === "switch" && f.ports < n.ports
      ? portsHeld(n.name, f.ports, [...kept, ...addedLinks.map((a) => a.link)])
      : undefined;
    if (held !== undefined) notLive.push({ line: `${n.kind} ${n.name}: ${settings.join(", ")}`, why: held });
    else renoded.push({ running: n, file: f, settings });
  }
  const relinked: LabChanges["relinked"] = [];
  for (const m of matched) {
    const addresses = addressChanges(m, running, file);
    const addressed = addresses.map((a) => `${a.host} address ${shown(a.before)} -> ${shown(a.after)}`);
    const settings = [...settingChanges(linkSettings(m.running), linkSettings(m.file)), ...addressed];
    if (settings.length > 0) relinked.push({ ...m, settings, addresses });
  }
  return {
    removedNodes: running.nodes.filter((n) => !fileNode.has(n.name)),
    removedLinks: removed,
    addedNodes: file.nodes.filter((n) => !runningNode.has(n.name)),
    addedLinks,
    relinked,
    renoded,
    notLive,
  };
}

/**
 * The links of `running` and `file` paired: each file link takes one
 * running link joining the same nodes, the one most like it; the running
 * ones left are removed, the file's left are added (in file order).
 */
export function matchLinks(
  running: Lab,
  file: Lab,
): { matched: MatchedLink[]; removed: LabLink[]; added: LabLink[] } {
  // Each file link takes one running link of its key; the rest of the running ones are removed. Of two
  // between the same nodes, it takes the one most like it: its settings and ends, then its settings
  // (ports renumber when an earlier link goes), then its ends, then any; else the file keeping the
  // second of two would remove the first and give the second's settings to it, or refuse a host's
  // link whose address it finds changed.
  const sameSettings = (r: LabLink, f: LabLink) =>
    settingChanges(linkSettings(r), linkSettings(f)).length === 0 &&
    addressChanges({ running: r, file: f }, running, file).length === 0;
  const ends = (l: LabLink) => l.ends.map((e) => `${e.node}:${e.port ?? e.iface}`).sort().join(" ");
  const sameEnds = (r: LabLink, f: LabLink) => ends(r) === ends(f);
  const alike = [
    (r: LabLink, f: LabLink) => sameSettings(r, f) && sameEnds(r, f),
    sameSettings,
    sameEnds,
    () => true,
  ];
  const unmatched = [...running.links];
  const runningOf = new Map<LabLink, LabLink>();
  for (const like of alike) {
    for (const link of file.links) {
      if (runningOf.has(link)) continue;
      const i = unmatched.findIndex((r) => joins(r) === joins(link) && like(r, link));
      if (i >= 0) runningOf.set(link, unmatched.splice(i, 1)[0]!);
    }
  }
  const matched: MatchedLink[] = file.links.filter((l) => runningOf.has(l)).map((l) => ({
    running: runningOf.get(l)!,
    file: l,
  }));
  const added = file.links.filter((l) => !runningOf.has(l));
  return { matched, removed: unmatched, added };
}

/**
 * The added links with their ends moved where links that stay do not hold
 * them (the lowest free port or interface), each host end with the file's
 * addresses for it: the interface it gets may not be the file's name for it.
 */
function placeAdded(added: LabLink[], kept: LabLink[], file: Lab): AddedLink[] {
  const held = new Set<string>();
  const at = (e: LinkEnd) => String(e.port ?? e.iface);
  for (const l of kept) for (const e of l.ends) held.add(`${e.node} ${at(e)}`);
  return added.map((link) => {
    const addresses: AddedLink["addresses"] = [];
    const ends = link.ends.map((e) => {
      if (e.port === undefined && e.iface === undefined) return { ...e };
      const moved = { ...e };
      for (let i = e.port !== undefined ? 1 : 0; held.has(`${e.node} ${at(moved)}`); i++) {
        if (e.port !== undefined) moved.port = i;
        else moved.iface = `eth${i}`;
      }
      held.add(`${e.node} ${at(moved)}`);
      const host = file.nodes.find((n): n is HostNode => n.name === e.node && n.kind === "host");
      const list = e.iface === undefined ? undefined : host?.addresses[e.iface];
      if (list !== undefined) addresses.push({ host: e.node, iface: moved.iface!, addresses: list });
      return moved;
    }) as LabLink["ends"];
    return { link: { ...link, ends }, addresses };
  });
}

/** Whether there is nothing to apply. */
export function noChanges(c: LabChanges): boolean {
  return c.removedNodes.length + c.removedLinks.length + c.addedNodes.length + c.addedLinks.length +
      c.relinked.length + c.renoded.length + c.notLive.length === 0;
}

/**
 * The changes in words, one line each, in the order `apply` makes them;
 * the ones that cannot be made live end with `(not live)`.
 */
export function describeChanges(c: LabChanges): string[] {
  return [
    ...c.removedLinks.map((l) => `link ${linkName(l)}: removed from the file`),
    ...c.removedNodes.map((n) => `${n.kind} ${n.name}: removed from the file`),
    ...c.relinked.map((m) => `link ${linkName(m.running)}: ${m.settings.join(", ")}`),
    ...c.renoded.map(renodedLine),
    ...c.addedNodes.map((n) => `${n.kind} ${n.name}: added to the file`),
    ...c.addedLinks.map((a) => `link ${linkName(a.link)}: added to the file`),
    ...notLiveLines(c),
  ];
}

/** A node's live settings change in words: `switch sw1: hub off -> on`. */
export function renodedLine(n: LabChanges["renoded"][number]): string {
  return `${n.running.kind} ${n.running.name}: ${n.settings.join(", ")}`;
}

/** The changes that cannot be made live, one line each, with why not. */
export function notLiveLines(c: LabChanges): string[] {
  return c.notLive.map(({ line, why }) => `${line} (not live: ${why})`);
}
