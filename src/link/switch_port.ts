/**
 * The switch port a vde:// link holds, as its description says it
 * ("vde DIR (003.7)", vde_link.ts): a cable's log lines name the port it is
 * on, whichever command carries it (vde cable, vde plug, vde wirefilter).
 * A command with two ends tells each the other's port (`peerPortOf`); a
 * listening tcp:// end waits for its far end and tells it that port then,
 * so it opens after the other (`listensFirst`).
 */
import type { Link } from "./link.ts";
import { splitVnl } from "./registry.ts";

/** The switch port of a vde:// link, read from its description, or 0 (not a switch's port). */
export function portOfLink(link: Link): number {
  const m = link.description.match(/\((\d+)\.\d+\)$/);
  return m ? Number(m[1]) : 0;
}

/** The port an end holds once open, for the other end's `peerPort`: undefined before, or not a switch's. */
export function peerPortOf(end: Link | undefined): number | undefined {
  return end === undefined ? undefined : portOfLink(end) || undefined;
}

/** Whether `first` is a listening tcp:// end and `second` is not: then `second` opens first. */
export async function listensFirst(first: string, second: string): Promise<boolean> {
  if (splitVnl(first).scheme !== "tcp") return false;
  const { isListeningVnl } = await import("./tcp_link.ts");
  return isListeningVnl(first) && !isListeningVnl(second);
}
