/**
 * The switch's top-level commands: `ds/showinfo`, `help`, `logout`,
 * `shutdown`, `showinfo`, `load` (spec 5.2), with vde_switch's names, help
 * texts and output lines. `logout`, `shutdown` and `load` are the console's
 * own (session_commands.ts); this file gives them the switch's help texts.
 * The plugin menu answers as vde_switch with no plugin loaded: an empty
 * `plugin/list`; loading one is refused in words, since vde_switch's
 * plugins are C libraries for its own process.
 */
import { VERSION } from "../../version.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, failure, type HelpEntry, listing } from "../registry.ts";
import { BANNER_LINES, Errno } from "../reply_format.ts";
import { addSessionEndCommands, loadScript } from "../session_commands.ts";

/** vde_switch's path column (`%-18s`): every path of its own menus fits. */
const PATH_WIDTH = 18;

function helpHeader(width: number): string[] {
  return [
    helpRow("COMMAND PATH", "SYNTAX", "HELP", width),
    helpRow("------------", "--------------", "------------", width),
  ];
}

function helpRow(path: string, syntax: string, help: string, width: number): string {
  return `${path.padEnd(width)} ${syntax.padEnd(15)} ${help}`;
}

/**
 * `help`'s rows as vde_switch's `%-18s %-15s %s`, but a menu with a longer path (ours, such as
 * `mcast/query_response_interval`) widens its own rows' path column to its longest, so its columns line up
 * and vde_switch's menus keep their bytes; the header takes that width when the rows are of that menu alone.
 */
function helpRows(entries: readonly HelpEntry[]): string[] {
  const menuOf = (path: string) => path.split("/")[0]!;
  const widths = new Map<string, number>();
  for (const e of entries) {
    const m = menuOf(e.path);
    widths.set(m, Math.max(widths.get(m) ?? PATH_WIDTH, e.path.length));
  }
  const header = widths.size === 1 ? [...widths.values()][0]! : PATH_WIDTH;
  return [
    ...helpHeader(header),
    ...entries.map((e) =>
      helpRow(e.path, e.menu ? "============" : e.syntax, e.help, widths.get(menuOf(e.path))!)
    ),
  ];
}

function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** Registers `ds/showinfo` (menu `ds`). */
export function addDataSocketCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  registry.menu("ds", "DATA SOCKET MENU");
  registry.add({
    path: "ds/showinfo",
    syntax: "",
    help: "show ds info",
    listing: true,
    run: () => {
      const ds = ctx.dataSocket;
      if (ds === undefined) return listing([], Errno.ENXIO);
      return listing([`ctl dir ${ds.dir}`, `std mode ${octalMode(ds.mode)}`]);
    },
  });
}

/** Registers `plugin/list`, `plugin/add` and `plugin/del` (menu `plugin`), as a switch with none loaded. */
export function addPluginCommands(registry: CommandRegistry): void {
  registry.menu("plugin", "PLUGINS MENU");
  registry.add({
    path: "plugin/list",
    syntax: "",
    help: "list plugins",
    listing: true,
    run: () => listing([`${"NAME".padEnd(22)} HELP`, `${"------------".padEnd(22)} ----`]),
  });
  const refused = () =>
    failure(
      "plugins are not supported: vde_switch's plugins are C libraries for its own process",
      Errno.EOPNOTSUPP,
    );
  registry.add({
    path: "plugin/add",
    syntax: "library",
    help: "load a plugin",
    listing: false,
    run: refused,
  });
  registry.add({ path: "plugin/del", syntax: "name", help: "unload a plugin", listing: false, run: refused });
}

/** Whether the switch thread's warm-up (throwaway frames that compile its forwarding path) is over. */
function warmUpLine(ms: number | null): string {
  return ms === null ? "switch thread warming up" : `switch thread warmed up in ${Math.round(ms)} ms`;
}

/** Frames from main-thread links (a slirp, a cable) that found the switch thread's ring full. */
function ringDropsLine(drops: number): string {
  return `switch thread ring drops ${drops}`;
}

/** Registers `help`, `logout`, `shutdown`, `showinfo` and `load`. */
export function addCoreCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  registry.add({
    path: "help",
    syntax: "[arg]",
    help: "Help (limited to arg when specified)",
    listing: true,
    run: (args, session) => {
      return listing(helpRows(session.commands.entries().filter((e) => e.path.startsWith(args))));
    },
  });
  addSessionEndCommands(registry, ctx, {
    logout: "logout from this mgmt terminal",
    shutdown: "shutdown of the switch",
  }, { scriptsIgnoreShutdown: true });
  registry.add({
    path: "showinfo",
    syntax: "",
    help: "show switch version and info",
    listing: true,
    run: () => {
      const lines = [
        ...BANNER_LINES,
        `vde ${VERSION} on Deno ${Deno.version.deno}`,
        // With our own line above, not among vde_switch's below, which clients may read by position.
        `forwarding on ${ctx.sw.threaded ? "the switch thread" : "the main thread"}`,
        ...(ctx.sw.threaded ? [warmUpLine(ctx.sw.warmedMs), ringDropsLine(ctx.sw.ringDrops)] : []),
        "",
        `pid ${Deno.pid} MAC ${ctx.mac} uptime ${ctx.uptimeSeconds()}`,
      ];
      if (ctx.mgmt !== undefined) lines.push(`mgmt ${ctx.mgmt.path} perm ${octalMode(ctx.mgmt.mode)}`);
      return listing(lines);
    },
  });
  registry.add({
    path: "load",
    syntax: "path",
    help: "load a configuration script",
    listing: false,
    run: (args, session) => loadScript(args, session),
  });
}
