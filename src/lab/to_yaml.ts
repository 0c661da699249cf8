/**
 * A lab back to its file form: plain objects for YAML, and the whole lab as
 * YAML text (`save` of a lab with no file; save.ts writes into one).
 */
import { Document, isMap, isSeq, type YAMLMap } from "yaml";
import type { Impairments, Lab, LabLink, LabNode, LinkEnd } from "./spec.ts";

/** A mode as the file writes it, `660`: its octal digits, which the file reads back as written. */
export function octalDigits(mode: number): number {
  return Number(mode.toString(8));
}

/** A node as the lab file writes it (defaults left out). */
export function plainNode(n: LabNode): Record<string, unknown> {
  switch (n.kind) {
    case "switch":
      return {
        kind: n.kind,
        ...(n.ports !== 32 ? { ports: n.ports } : {}),
        ...(n.hub ? { hub: true } : {}),
        ...(n.stp ? { stp: true } : {}),
        ...(n.mcastSnooping ? { mcast_snooping: true } : {}),
        ...(n.mcastQuerier ? { mcast_querier: true } : {}),
        ...(n.mcastKnobs ?? {}),
        ...(n.vlans.length ? { vlans: n.vlans } : {}),
        ...(n.rc !== undefined ? { rc: n.rc } : {}),
        ...(n.dataplane !== undefined ? { dataplane: n.dataplane } : {}),
        ...(n.priority !== undefined ? { priority: n.priority } : {}),
        ...(n.mode !== undefined ? { mode: octalDigits(n.mode) } : {}),
        ...(n.group !== undefined ? { group: n.group } : {}),
        ...(n.mgmtMode !== undefined ? { mgmt_mode: octalDigits(n.mgmtMode) } : {}),
      };
    case "slirp":
      return {
        kind: n.kind,
        ...(n.forwards.length ? { forwards: n.forwards } : {}),
        ...(n.options !== undefined ? { options: n.options } : {}),
        ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
      };
    case "host": {
      const { eth0, ...others } = n.addresses;
      const one = (l: string[]) => l.length === 1 ? l[0] : l;
      return {
        kind: n.kind,
        ...(eth0 ? { address: one(eth0) } : {}),
        ...(Object.keys(others).length
          ? { interfaces: Object.fromEntries(Object.entries(others).map(([k, v]) => [k, one(v)])) }
          : {}),
        ...(n.gateway !== undefined ? { gateway: n.gateway } : {}),
        ...(n.routes.length ? { routes: n.routes } : {}),
        ...(n.exec.length ? { exec: n.exec } : {}),
        ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
      };
    }
    case "cable":
      return {
        kind: n.kind,
        ...(n.connect !== undefined ? { connect: n.connect } : {}),
        ...(n.listen !== undefined ? { listen: n.listen } : {}),
        ...(n.key !== undefined ? { key: n.key } : {}),
        ...(n.insecure === true ? { insecure: true } : {}),
      };
  }
}

/** Impairments in the file's units. */
export function plainImpairments(i: Impairments): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (i.loss) out.loss = `${i.loss}%`;
  if (i.delay) out.delay = `${i.delay}ms`;
  if (i.jitter) out.jitter = `${i.jitter}ms`;
  if (i.dup) out.dup = `${i.dup}%`;
  if (i.rate) {
    const bits = i.rate * 8;
    out.rate = bits % 1e6 === 0 ? `${bits / 1e6}mbit` : `${bits / 1e3}kbit`;
  }
  if (i.mtu) out.mtu = i.mtu;
  if (i.limit) out.limit = i.limit;
  return out;
}

function endText(e: LinkEnd): string {
  return e.port !== undefined
    ? `${e.node}:${e.port}`
    : e.iface !== undefined
    ? `${e.node}:${e.iface}`
    : e.node;
}

/** A link as the lab file writes it, with its ends fixed. */
export function plainLink(l: LabLink): Record<string, unknown> {
  return {
    endpoints: l.ends.map(endText),
    ...plainImpairments(l.impair),
    ...(l.vlan !== undefined ? { vlan: l.vlan } : {}),
    ...(l.trunk.length ? { trunk: l.trunk } : {}),
  };
}

/** The whole lab as plain data. */
export function plainLab(lab: Lab): Record<string, unknown> {
  return {
    name: lab.name,
    topology: {
      nodes: Object.fromEntries(lab.nodes.map((n) => [n.name, plainNode(n)])),
      links: lab.links.map(plainLink),
    },
  };
}

/** Writes nodes and endpoint lists on one line each, as people write lab files. */
function flowStyle(doc: Document): void {
  const nodes = doc.getIn(["topology", "nodes"]);
  if (isMap(nodes)) { for (const p of nodes.items) if (isMap(p.value)) p.value.flow = true; }
  const links = doc.getIn(["topology", "links"]);
  if (isSeq(links)) { for (const l of links.items) if (isMap(l)) endpointsFlow(l); }
}

/** Writes a link's endpoint list on one line. */
export function endpointsFlow(link: YAMLMap): void {
  const ends = link.get("endpoints", true);
  if (isSeq(ends)) ends.flow = true;
}

/**
 * How a lab file is written: a node's `{ ... }` on one line however long
 * (yaml breaks a flow map past 80 columns into one key a line inside
 * braces, which nobody writes, and a `save` did so to a node it never
 * changed), and long strings unfolded.
 */
export const YAML_OUT = { lineWidth: 0 } as const;

/** The lab as YAML text. */
export function labToYaml(lab: Lab): string {
  const doc = new Document(plainLab(lab));
  flowStyle(doc);
  return doc.toString(YAML_OUT);
}
