/**
 * Names a lab gives to what it creates on the machine, in one place so
 * validation, bring-up and `vde down` agree: namespaces `vde-<lab>-<node>`
 * (containerlab's `clab-<lab>-<node>`), taps `<lab>-<node>-<n>` while they
 * are in the root namespace (renamed to eth<n> inside the host's), and the
 * runtime directory `/run/vde/<lab>/` (root) or `$XDG_RUNTIME_DIR/vde/<lab>/`.
 */

/** Longest interface name Linux takes (IFNAMSIZ - 1). */
export const MAX_IFNAME = 15;
/** Longest namespace name: a file name under /run/netns. */
export const MAX_NETNS = 255;

/** Characters allowed in lab and node names (they end up in file and interface names). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** The network namespace of host `node`. */
export function netnsName(lab: string, node: string): string {
  return `vde-${lab}-${node}`;
}

/** The root-namespace name of the tap behind interface `index` of host `node`. */
export function tapName(lab: string, node: string, index: number): string {
  return `${lab}-${node}-${index}`;
}

/** Where every lab's runtime directory lives for this user. */
export function labsBaseDir(): string {
  if (Deno.uid() === 0) return "/run/vde";
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  return xdg ? `${xdg}/vde` : `/tmp/vde-${Deno.uid()}`;
}

/** The runtime directory of lab `lab`: state file, sockets, log. */
export function labDir(lab: string): string {
  return `${labsBaseDir()}/${lab}`;
}
