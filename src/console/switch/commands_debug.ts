/**
 * `debug/list`, `debug/add`, `debug/del` (spec 5.2): per-session
 * subscriptions to the `3TTT` event lines.
 */
import type { ConsoleContext } from "./context.ts";
import { matchCategories } from "./debug.ts";
import { type CommandRegistry, fail, listing, ok } from "../registry.ts";
import { Errno } from "../reply_format.ts";

function debugRow(path: string, tag: string, status: string, help: string): string {
  return `${path.padEnd(22)} ${tag.padEnd(3)} ${status.padEnd(6)} ${help}`;
}

const HEADER = [
  debugRow("CATEGORY", "TAG", "STATUS", "HELP"),
  debugRow("------------", "---", "------", "----"),
];

/** Registers the debug menu. */
export function addDebugCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  registry.menu("debug", "DEBUG MENU");
  registry.add({
    path: "debug/list",
    syntax: "",
    help: "list debug categories",
    listing: true,
    run: (args, session) => {
      const rows = matchCategories(args).map((c) =>
        debugRow(c.path, c.tag.toString(8).padStart(3, "0"), session.debug.has(c.path) ? "ON" : "OFF", c.help)
      );
      return listing([...HEADER, ...rows], rows.length === 0 ? Errno.ENOENT : 0);
    },
  });
  registry.add({
    path: "debug/add",
    syntax: "dbgpath",
    help: "enable debug info for a given category",
    listing: false,
    run: (args, session) => {
      // A startup script has nobody to show the lines to.
      if (session.kind === "script") return fail(Errno.EBADF);
      const r = ctx.debug.add(session, args);
      return r === "changed" ? ok() : fail(r === "no-match" ? Errno.EINVAL : Errno.EEXIST);
    },
  });
  registry.add({
    path: "debug/del",
    syntax: "dbgpath",
    help: "disable debug info for a given category",
    listing: false,
    run: (args, session) => {
      const r = ctx.debug.del(session, args);
      return r === "changed" ? ok() : fail(r === "no-match" ? Errno.EINVAL : Errno.ENOENT);
    },
  });
}
