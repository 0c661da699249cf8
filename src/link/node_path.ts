/**
 * Where a vdeplug4-style node (`hub://`, `switch://`, `multi://`,
 * `bonding://`) serves when its VNL names no path: vdeplug4's
 * /tmp/vdenode_USER. In a module of its own, so a plug can say it in its
 * start line without loading the node's server.
 */
import { userName } from "../os/users.ts";

/** vdeplug4's node schemes. */
export const NODE_SCHEMES: readonly string[] = ["hub", "switch", "multi", "bonding"];

/** /tmp/vdenode_USER: vdeplug4's default node path (`u` and the uid for a user without a name). */
export function defaultNodePath(uid: number = Deno.uid() ?? 0): string {
  const name = userName(uid);
  return `/tmp/vdenode_${name === String(uid) ? `u${uid}` : name}`;
}

/**
 * `vnl` for a start line: a node's VNL that names no path (`bonding://`,
 * `hub://[mode=660]`) with where it serves, which others must be told to join
 * it (`bonding:// (at /tmp/vdenode_root)`); any other as it is.
 */
export function withNodePath(vnl: string, uid?: number): string {
  const at = vnl.indexOf("://");
  if (at < 0 || !NODE_SCHEMES.includes(vnl.slice(0, at))) return vnl;
  const rest = vnl.slice(at + 3);
  return rest === "" || rest.startsWith("[") ? `${vnl} (at ${defaultNodePath(uid)})` : vnl;
}
