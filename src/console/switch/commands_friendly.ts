/**
 * Commands vde_switch lacks, for people at a console: `hub` to see or flip
 * hub mode in plain words, `ports` and `macs` as aligned tables with
 * counters and ages, and `counters` for the switch-wide ones (frames
 * flooded, dropped and why): on a switch thread, the thread's own counts. They are listings like any other, so a management
 * client (unixterm, `vde term`) gets them framed as usual.
 */
import { parseSwitch } from "../args.ts";
import { ENGINE_COUNTER_NAMES } from "../../switch/engine.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, listing } from "../registry.ts";
import { Errno } from "../reply_format.ts";
import { macsTable, portsTable } from "./tables.ts";
import { macViews, portViews } from "./views.ts";

/** Registers `hub`, `ports`, `macs` and `counters`. */
export function addFriendlyCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const engine = ctx.sw.engine;
  registry.add({
    path: "hub",
    syntax: "[on|off]",
    help: "show or set hub mode (every frame to every port)",
    listing: true,
    run: (args) => {
      // Hub mode stops spanning tree for good (vde_switch's rule): say so, since `hub off` does not restart it
      // and a loop the tree was blocking would then flood.
      let stopped = false;
      if (args !== "") {
        const on = parseSwitch(args);
        if (on === undefined) return fail(Errno.EINVAL);
        stopped = on && engine.stp !== null;
        engine.hub = on;
      }
      const state = `hub mode is ${engine.hub ? "on" : "off"}`;
      if (!stopped) return listing([state]);
      return listing([
        state,
        "spanning tree stopped (hub mode excludes it); after hub off, fstp/setfstp 1 restarts it",
      ]);
    },
  });
  registry.add({
    path: "ports",
    syntax: "[all]",
    help: "table of active ports (all: also inactive ones) with counters",
    listing: true,
    run: (args) => {
      if (args !== "" && args !== "all") return listing([], Errno.EINVAL);
      return listing(portsTable(portViews(ctx, args === "all"), undefined, true));
    },
  });
  registry.add({
    path: "macs",
    syntax: "",
    help: "table of learnt MAC addresses with their ports and ages",
    listing: true,
    run: async () => listing(macsTable(await macViews(ctx), portViews(ctx, true))),
  });
  registry.add({
    path: "counters",
    syntax: "",
    help:
      "switch-wide frame counters: flooded, unicast, dropped and why; MAC moves (a loop makes them climb)",
    listing: true,
    run: () => {
      const counters = engine.counters;
      const rows: [string, number][] = [
        ...ENGINE_COUNTER_NAMES.map((n) => [n, counters[n]] as [string, number]),
      ];
      rows.push(["macMoves", engine.macMoves]);
      const width = Math.max(...rows.map(([n]) => n.length));
      return listing(rows.map(([n, v]) => `${n.padEnd(width)} ${v}`));
    },
  });
}
