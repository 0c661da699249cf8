/**
 * A slirp that serves no host because of VLANs: linked to a switch with no
 * `vlan` (VLAN 0, untagged) while every host's link puts it in a VLAN of
 * its own. The lab is valid and comes up, and then no host gets a DHCP
 * lease or reaches 10.0.2.2, with nothing said: VLAN 0's frames never reach
 * VLAN 10's ports. `vde up` says it in one line with the fix, the slirp's
 * link's `vlan` key, as a warning and not a refusal: a slirp left for a
 * host added later, or one the file means for another machine's switch
 * over a cable, is the user's to want.
 *
 * Pure: the validated lab in, its lines out.
 */
import type { Lab } from "./spec.ts";
import { hostsOnSlirpLans } from "./same_lan.ts";

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
  const lines: string[] = [];
  for (const [slirp, hosts] of hostsOnSlirpLans(lab.nodes, lab.links)) {
    if (hosts.length > 0) continue;
    const untagged = toSwitch(slirp).filter((l) => l.vlan === undefined || l.vlan === 0);
    if (untagged.length === 0) continue;
    const where = vlans.map((v) => `${hostsOf(v).join(", ")} in VLAN ${v}`).join("; ");
    const fix = vlans.length === 1 ? `\`vlan: ${vlans[0]}\`` : "`vlan: N` with the hosts' VLAN it is for";
    lines.push(
      `slirp ${slirp} is in VLAN 0 (untagged) and reaches no host (${where}): ` +
        `give its link to ${untagged[0]!.ends.find((e) => e.node !== slirp)!.node} ${fix}`,
    );
  }
  return lines;
}
