/**
 * The one line a command says when a VNL does not open: `cannot open VNL:
 * WHY`, unless WHY names the switch's path already. A switch's reasons do
 * ("/tmp is not a switch's socket directory", "permission denied on the
 * switch at /run/vde/LAB/sw1: ...", "no switch at DIR: ..."), and the
 * prefix before them said the path twice.
 */
import { splitVnl } from "../link/registry.ts";
import { printable } from "../console/reply_format.ts";

/** Why `vnl` did not open, naming it once; `shown` is how the line names the VNL (the empty one: ''). */
export function openFailure(vnl: string, err: unknown, shown = vnl): string {
  // One line whatever the VNL holds: a newline typed in it (or in a peer's words) would start a forged one.
  const why = printable(err instanceof Error ? err.message : String(err));
  const { scheme, rest } = splitVnl(vnl);
  const path = printable(scheme === "vde" ? rest.split("[")[0]!.replace(/\/+$/, "") : "");
  return path !== "" && namesPath(why, path) ? why : `cannot open ${printable(shown)}: ${why}`;
}

/** Whether `text` names `path` as a word of its own (not /tmp inside /tmp/sw), a trailing "/" aside. */
function namesPath(text: string, path: string): boolean {
  for (let i = text.indexOf(path); i >= 0; i = text.indexOf(path, i + 1)) {
    const before = i === 0 ? " " : text[i - 1]!;
    let end = i + path.length;
    if (text[end] === "/") end++;
    if (" (".includes(before) && " :),".includes(text[end] ?? " ")) return true;
  }
  return false;
}
