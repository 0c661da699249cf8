/**
 * The mirror menu: `mirror/add OUT [PORT]...` makes port OUT a monitor port
 * that receives a copy of every frame entering or leaving the listed ports
 * (every port when none are listed) and forwards nothing of its own;
 * `mirror/del OUT` returns it to normal switching; `mirror/print` lists the
 * mirrors. Mirrors are kept by port number, so one outlives its client
 * reconnecting. Errors as the VLAN menu's: EINVAL for a port out of range
 * or OUT among its own sources, ENXIO for no such mirror.
 */
import { parseInteger, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, failure, listing, ok } from "../registry.ts";
import { Errno } from "../reply_format.ts";

/** Registers `mirror/add`, `mirror/del` and `mirror/print`. */
export function addMirrorCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const engine = ctx.sw.engine;
  registry.menu("mirror", "MIRROR MENU");
  registry.add({
    path: "mirror/add",
    syntax: "OUT [PORT]...",
    help: "copy frames entering or leaving PORTs (default all) to port OUT, which then only receives copies",
    listing: false,
    run: (args) => {
      const ports = words(args).map(parseInteger);
      if (ports.length === 0 || ports.some((p) => p === undefined)) return fail(Errno.EINVAL);
      const [out, ...sources] = ports as number[];
      // Well-formed but refused: say which port and why, as the usage alone would not.
      const refusal = engine.addMirror(out!, sources);
      return refusal === null ? ok() : failure(refusal, Errno.EINVAL);
    },
  });
  registry.add({
    path: "mirror/del",
    syntax: "OUT",
    help: "stop mirroring to port OUT; it switches normally again",
    listing: false,
    run: (args) => {
      const out = parseInteger(args);
      if (out === undefined) return fail(Errno.EINVAL);
      return engine.delMirror(out) ? ok() : fail(Errno.ENXIO);
    },
  });
  registry.add({
    path: "mirror/print",
    syntax: "",
    help: "list the mirrors: output port and source ports",
    listing: true,
    run: () =>
      listing(
        engine.mirrors().map((m) =>
          `Mirror to port ${String(m.out).padStart(4, "0")} from ${
            m.sources.length === 0 ? "all ports" : `ports ${m.sources.join(" ")}`
          }`
        ),
      ),
  });
}
