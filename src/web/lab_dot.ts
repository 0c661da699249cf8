/**
 * A lab as a Graphviz graph (`vde graph lab.yaml`): one node per lab node,
 * shaped by kind, and one edge per link labelled with its VLANs and
 * impairments; switch ports and host interfaces sit at the edge's ends.
 */
import {
  type Impairments,
  type Lab,
  type LabLink,
  type LabNode,
  type LinkEnd,
  linkName,
} from "../lab/spec.ts";
import { dotString } from "./topology.ts";
import { counted } from "../counted.ts";

const SHAPES: Record<LabNode["kind"], string> = {
  switch: "box, style=bold",
  host: "ellipse",
  slirp: "hexagon",
  cable: "cds",
};

function nodeLabel(n: LabNode): string {
  switch (n.kind) {
    case "switch":
      return `${n.name}\nswitch, ${counted(n.ports, "port")}${n.hub ? ", hub" : ""}${n.stp ? ", STP" : ""}${
        n.mcastSnooping ? ", snooping" : ""
      }`;
    case "host": {
      const addrs = Object.values(n.addresses).flat();
      return `${n.name}\nhost${addrs.length > 0 ? ` ${addrs.join(" ")}` : ""}`;
    }
    case "slirp":
      return `${n.name}\nslirp (NAT, DHCP, DNS)`;
    case "cable":
      return `${n.name}\ncable ${n.connect ?? `listen ${n.listen ?? ""}`}`;
  }
}

/** "20 ms +-5 ms, 10% loss, 10 Mbit/s": a link's impairments in the file's units. */
function impairText(i: Impairments): string[] {
  const out: string[] = [];
  const jitter = i.jitter !== undefined ? `+-${i.jitter} ms` : "";
  // Jitter without a delay is applied too (wirefilter's delay of 0 +- jitter): the label says it alone.
  if (i.delay !== undefined) out.push(`${i.delay} ms${jitter && ` ${jitter}`}`);
  else if (jitter !== "") out.push(`${jitter} jitter`);
  if (i.loss !== undefined) out.push(`${i.loss}% loss`);
  if (i.dup !== undefined) out.push(`${i.dup}% dup`);
  if (i.rate !== undefined) out.push(`${(i.rate * 8 / 1e6).toPrecision(3).replace(/\.?0+$/, "")} Mbit/s`);
  if (i.mtu !== undefined) out.push(`MTU ${i.mtu}`);
  if (i.limit !== undefined) out.push(`limit ${i.limit}`);
  return out;
}

function endLabel(e: LinkEnd): string {
  return e.port !== undefined ? `${e.port}` : e.iface ?? "";
}

/** A link's label: its VLANs and impairments. */
export function linkLabel(l: LabLink): string {
  const parts = impairText(l.impair);
  if (l.vlan !== undefined) parts.unshift(`VLAN ${l.vlan}`);
  if (l.trunk.length > 0) parts.unshift(`trunk ${l.trunk.join(",")}`);
  return parts.join(", ");
}

/**
 * The DOT text of `lab`; the links named in `cut` (a running lab's, `link A-B down`) drawn dashed red and
 * labelled cut, those in `blocked` (spanning tree discards at a switch end) dotted grey and labelled
 * blocked, as the lab's page draws them, so the drawing of a running lab does not show them carrying.
 */
export function labDot(
  lab: Lab,
  cut: ReadonlySet<string> = new Set(),
  blocked: ReadonlySet<string> = new Set(),
): string {
  const lines = [
    `graph ${dotString(lab.name)} {`,
    "  node [fontname=sans, fontsize=10];",
    "  edge [fontsize=9];",
  ];
  for (const n of lab.nodes) {
    lines.push(`  ${dotString(n.name)} [shape=${SHAPES[n.kind]}, label=${dotString(nodeLabel(n))}];`);
  }
  for (const l of lab.links) {
    const [a, b] = l.ends;
    const down = cut.has(linkName(l));
    const discards = !down && blocked.has(linkName(l));
    const state = down ? ["cut"] : discards ? ["blocked"] : [];
    const attrs = [
      `label=${dotString([...state, linkLabel(l)].filter((t) => t !== "").join(", "))}`,
      `taillabel=${dotString(endLabel(a))}`,
      `headlabel=${dotString(endLabel(b))}`,
    ];
    if (down) attrs.push("style=dashed", "color=red", "fontcolor=red");
    if (discards) attrs.push("style=dotted", "color=gray");
    lines.push(`  ${dotString(a.node)} -- ${dotString(b.node)} [${attrs.join(", ")}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
