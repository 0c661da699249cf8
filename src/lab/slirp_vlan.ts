/**
 * A slirp that serves no host because of VLANs: linked to a switch with no
 * `vlan` (VLAN 0, untagged) while every host's link puts it in a VLAN of
 * its own. The lab is valid and comes up, and then no host gets a DHCP
 * lease or reaches 10.0.2.2, with nothing said: VLAN 0's frames never reach
 * VLAN 10's ports. `vde up` says it in one line with the fix, the slirp's
 * link's `vlan` key, as a warning and not a refusal: a slirp left for a
 * host added later is the user's to want. A slirp whose LAN a cable leads
 * off (to another machine's hosts, which the file does not name) is not
 * warned of. The fix names only the VLANs of the slirp's own switch that
 * reach the hosts (their own switch's, or carried to it on a trunk): with
 * several switches, VLAN 10 of a switch no host's VLAN 10 reaches would
 * leave the slirp as alone as before, and is said so.
 *
 * Pure: the validated lab in, its lines out.
 */
import type { Lab } from "./spec.ts";
import { lanReach } from "./same_lan.ts";

/** A line for each slirp in VLAN 0 that no host shares, when every host's switch link is in a VLAN. */
export function slirpVlanWarnings(lab: Lab): string[] {
  const kind = new Map(lab.nodes.map((n) => [n.name, n.kind]));
  const toSwitch = (node: string) =>
    lab.links.filter((l) =>
      l.ends.some((e) => e.node === node) && l.ends.some((e) => kind.get(e.node) === "switch")
    );
  const hostLinks = lab.links.filter((l) =>
    l.ends.some((e) => kind.get(e.node) === "host") && l.ends.some((e) => kind.get(e.node) === "switch")
  );
  // A host in VLAN 0 (or none on a switch): then the file says nothing of VLANs for the slirp to miss.
  if (hostLinks.length === 0 || hostLinks.some((l) => l.vlan === undefined || l.vlan === 0)) return [];
  const vlans = [...new Set(hostLinks.map((l) => l.vlan!))].sort((a, b) => a - b);
  const hostsOf = (vlan: number) => [
    ...new Set(
      hostLinks.filter((l) => l.vlan === vlan).flatMap((l) => l.ends).filter((e) =>
        kind.get(e.node) === "host"
      )
        .map((e) => e.node),
    ),
  ];
  const reach = lanReach(lab.nodes, lab.links);
  const lines: string[] = [];
  for (const slirp of lab.nodes.filter((n) => n.kind === "slirp").map((n) => n.name)) {
    const here = reach(`slirp:${slirp}`);
    if (here.hosts.length > 0 || here.cable) continue;
    const untagged = toSwitch(slirp).filter((l) => l.vlan === undefined || l.vlan === 0);
    if (untagged.length === 0) continue;
    const sw = untagged[0]!.ends.find((e) => e.node !== slirp)!.node;
    // The hosts each of the hosts' VLANs reaches from the slirp's switch (none: it does not carry it to them).
    const from = vlans.map((v) => ({ v, hosts: reach(`sw:${sw}:${v}`).hosts })).filter((r) =>
      r.hosts.length > 0
    );
    const start = `slirp ${slirp} is in VLAN 0 (untagged) and reaches no host`;
    if (from.length === 0) {
      const where = vlans.map((v) => `${hostsOf(v).join(", ")} in VLAN ${v}`).join("; ");
      lines.push(
        `${start} (${where}), nor would it in a VLAN of ${sw}, which carries none of theirs to them: ` +
          `link it to a host's switch with that link's \`vlan\`, or carry the VLAN to ${sw} on a \`trunk\``,
      );
      continue;
    }
    const where = from.map((r) => `${r.hosts.join(", ")} in VLAN ${r.v}`).join("; ");
    const fix = from.length === 1 ? `\`vlan: ${from[0]!.v}\`` : "`vlan: N` with the hosts' VLAN it is for";
    lines.push(`${start} (${where}): give its link to ${sw} ${fix}`);
  }
  return lines;
}
