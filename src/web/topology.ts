/**
 * The switch as a Graphviz graph (`/topology.dot`): the switch is a node,
 * each allocated port's clients are one node, and an edge per port says
 * its number and VLAN, dashed while the port is down.
 */
import type { PortStatus } from "./status.ts";

/** A DOT quoted string: backslash and double quote escaped, newlines as \n. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** The DOT text of a switch named `name` with `ports`. */
export function topologyDot(name: string, ports: PortStatus[]): string {
  const lines = [
    "graph vde {",
    "  node [fontname=sans, fontsize=10];",
    `  switch [shape=box, style=bold, label=${dotString(`switch\n${name}`)}];`,
  ];
  for (const p of ports) {
    lines.push(`  port${p.port} [shape=ellipse, label=${dotString(p.name || "(no client)")}];`);
    const style = p.up ? "" : ", style=dashed";
    lines.push(`  switch -- port${p.port} [label=${dotString(`port ${p.port}, VLAN ${p.vlan}`)}${style}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
