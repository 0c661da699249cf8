/**
 * The switch port a vde:// link holds, as its description says it
 * ("vde DIR (003.7)", vde_link.ts): a cable's log lines name the port it is
 * on, whichever command carries it (vde cable, vde plug).
 */
import type { Link } from "./link.ts";

/** The switch port of a vde:// link, read from its description, or 0 (not a switch's port). */
export function portOfLink(link: Link): number {
  const m = link.description.match(/\((\d+)\.\d+\)$/);
  return m ? Number(m[1]) : 0;
}
