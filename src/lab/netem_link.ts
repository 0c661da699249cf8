/**
 * Which lab link containerlab's `tools netem set -n NODE -i IFACE` means:
 * there netem is set on one interface of a node, here impairments are a
 * link's, set at the lab's console (`link NAME delay 10ms`). NODE's
 * interface IFACE is one end of one link, which this finds among the
 * running labs' links.
 *
 * NODE is taken as containerlab names its containers (`clab-LAB-NODE`),
 * as a host's namespace is named here (`vde-LAB-NODE`), or as the node
 * alone. IFACE is a host's interface (`eth1`), or a switch's port as
 * containerlab names a bridge's interfaces (`eth3` is port 3, or `3`).
 *
 * Theory of operation: a pure function of the running labs' links as
 * `vde status --json` gives them.
 */
import type { EndJson, LinkJson } from "./capture_hint.ts";

/** A running lab's links. */
export interface LabLinks {
  lab: string;
  links: readonly LinkJson[];
}

/** A link found for NODE and IFACE: its lab and its name as the lab's console takes it. */
export interface FoundLink {
  lab: string;
  link: string;
}

/** Whether end `e` is interface `iface` of node `node`. */
function isEnd(e: EndJson, node: string, iface: string): boolean {
  if (e.node !== node) return false;
  if (e.iface !== undefined) return e.iface === iface;
  return e.port !== undefined && (iface === `eth${e.port}` || iface === String(e.port));
}

/**
 * Whether one of `ends` is the end `name` writes as `vde status` does
 * (`h1:eth0`, `sw1:3`, or containerlab's `sw1:eth3`): a link named by one of
 * its interfaces, as netem names it, where the other end is not known.
 */
export function namesEnd(ends: readonly EndJson[], name: string): boolean {
  const m = /^([^:]+):([^:]+)$/.exec(name);
  return m !== null && ends.some((e) => isEnd(e, m[1]!, m[2]!));
}

/** The names `node` may mean in lab `lab`: containerlab's container, our namespace, or itself. */
function nodeIn(lab: string, node: string): string[] {
  const names = [node];
  for (const prefix of [`clab-${lab}-`, `vde-${lab}-`]) {
    if (node.startsWith(prefix) && node.length > prefix.length) names.push(node.slice(prefix.length));
  }
  return names;
}

/** The links of the running labs `labs` that have interface `iface` of node `node` as an end. */
export function linksAtInterface(labs: readonly LabLinks[], node: string, iface: string): FoundLink[] {
  const found: FoundLink[] = [];
  for (const { lab, links } of labs) {
    const names = nodeIn(lab, node);
    for (const l of links) {
      if ([l.a, l.b].some((e) => names.some((n) => isEnd(e, n, iface)))) found.push({ lab, link: l.name });
    }
  }
  return found;
}
