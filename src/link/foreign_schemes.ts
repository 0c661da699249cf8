/**
 * vdeplug4's schemes that vde does not have, each with what to use instead.
 * A user coming from libvdeplug4 (its modules, or `vde_plug --help`) types
 * the VNLs they know; "unknown scheme" alone would leave them guessing
 * whether the feature is missing or merely spelled differently. Debian's
 * `vde_plug` (package vdeplug) has every one of these, and plugs into our
 * switches unchanged, so each hint can fall back on it.
 */

/** Scheme (without `://`) to what to do instead, as the end of one line. */
const INSTEAD: Readonly<Record<string, string>> = {
  macvtap: "tap:// plugs a Linux tap; bridge it with the interface in the kernel",
  vlan: "`vde switch` has VLANs: plug into the port of one, vde://DIR[N]",
  agno: "tcp:// is an encrypted cable (/key=FILE)",
  pcap: "`vde capture DIR` records a switch's frames as pcapng or pcap",
  kvde: "vde:// reaches a user-space switch (ours or vde_switch)",
};

/**
 * What to use for vdeplug4's `scheme`, or undefined when it is not one of
 * vdeplug4's.
 */
export function foreignSchemeHint(scheme: string): string | undefined {
  const instead = INSTEAD[scheme];
  if (instead === undefined) return undefined;
  return `${scheme}:// is libvdeplug4's, not vde's: ${instead}; Debian's vde_plug (package vdeplug) has it`;
}
