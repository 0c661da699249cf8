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
 * them), links and nodes added or removed. Anything else a node or link
 * changes (a switch's ports, a host's gateway or address) is named as not
 * live.
 */
import { type HostNode, type Lab, type LabLink, type LabNode, type LinkEnd, linkName } from "./spec.ts";
import { plainImpairments, plainNode } from "./to_yaml.ts";

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
  /** Links whose impairments or VLANs changed (live): the file's link has the new ones. */
  relinked: (MatchedLink & { settings: SettingChange[] })[];
  /** What cannot change live, one line each: `switch sw1: ports 8 -> 16`. */
  notLive: string[];
}

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

/** `KEY OLD -> NEW` for each key whose value differs between two plain forms. */
export function settingChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): SettingChange[] {
  // In the file's order, then what it no longer has.
  const keys = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  return keys.filter((k) => shown(before[k]) !== shown(after[k])).map((k) =>
    `${k} ${shown(before[k])} -> ${shown(after[k])}`
  );
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
    mcast_snooping: onOff(n.mcastSnooping),
    mcast_querier: onOff(n.mcastQuerier),
  };
}

/** A link's settings that change live: its impairments and VLANs. */
function linkSettings(l: LabLink): Record<string, unknown> {
  return { ...plainImpairments(l.impair), vlan: l.vlan, trunk: l.trunk };
}

/** The addresses a link's ends have on their hosts, keyed by the end's node. */
function endAddresses(l: LabLink, lab: Lab): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of l.ends) {
    const node = lab.nodes.find((n) => n.name === e.node);
    if (node?.kind === "host" && e.iface !== undefined) out[`${e.node} address`] = node.addresses[e.iface];
  }
  return out;
}

/** What `file` changes in the running lab `running`. */
export function labChanges(running: Lab, file: Lab): LabChanges {
  const fileNode = new Map(file.nodes.map((n) => [n.name, n]));
  const runningNode = new Map(running.nodes.map((n) => [n.name, n]));
  const notLive: string[] = [];
  for (const n of running.nodes) {
    const f = fileNode.get(n.name);
    if (f === undefined) continue;
    if (f.kind !== n.kind) notLive.push(`node ${n.name}: kind ${n.kind} -> ${f.kind}`);
    else {
      const settings = settingChanges(nodeSettings(n), nodeSettings(f));
      if (settings.length > 0) notLive.push(`${n.kind} ${n.name}: ${settings.join(", ")}`);
    }
  }
  const { matched, removed, added } = matchLinks(running, file);
  const relinked: LabChanges["relinked"] = [];
  for (const m of matched) {
    const addresses = settingChanges(endAddresses(m.running, running), endAddresses(m.file, file));
    if (addresses.length > 0) notLive.push(`link ${linkName(m.running)}: ${addresses.join(", ")}`);
    const settings = settingChanges(linkSettings(m.running), linkSettings(m.file));
    if (settings.length > 0) relinked.push({ ...m, settings });
  }
  const kept = matched.map((m) => m.running);
  return {
    removedNodes: running.nodes.filter((n) => !fileNode.has(n.name)),
    removedLinks: removed,
    addedNodes: file.nodes.filter((n) => !runningNode.has(n.name)),
    addedLinks: placeAdded(added, kept, file),
    relinked,
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
    settingChanges(endAddresses(r, running), endAddresses(f, file)).length === 0;
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
      c.relinked.length + c.notLive.length === 0;
}

/**
 * The changes in words, one line each, in the order `apply` makes them;
 * the ones that cannot be made live end with `(not live)`.
 */
export function describeChanges(c: LabChanges): string[] {
  return [
    ...c.removedLinks.map((l) => `link ${linkName(l)}: removed from the file`),
    ...c.removedNodes.map((n) => `${n.kind} ${n.name}: removed from the file`),
    ...c.addedNodes.map((n) => `${n.kind} ${n.name}: added to the file`),
    ...c.addedLinks.map((a) => `link ${linkName(a.link)}: added to the file`),
    ...c.relinked.map((m) => `link ${linkName(m.running)}: ${m.settings.join(", ")}`),
    ...notLiveLines(c),
  ];
}

/** The changes that cannot be made live, one line each. */
export function notLiveLines(c: LabChanges): string[] {
  return c.notLive.map((line) => `${line} (not live)`);
}
