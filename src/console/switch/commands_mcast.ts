/**
 * The multicast menu: `mcast/snooping 0/1` turns IGMP/MLD snooping on or
 * off (off, the default, floods multicast as vde_switch does),
 * `mcast/querier 0/1` our own querier, `mcast/router PORT 0/1` a permanent
 * multicast router port, `mcast/fastleave PORT 0/1` a fast-leave port, the
 * bridge's timers and table bound under its names less `mcast_`
 * (`mcast/query_interval CENTISECONDS`, mcast_knobs.ts: its unit, so a
 * bridge user's `ip link` line carries over), and `mcast/print` the group table in the words of
 * `bridge mdb show` (`port 2 grp 239.1.1.1 vid 0 temp 255.3`), with router
 * ports, querier state (which querier is current per family: its address
 * and port, or ours) and counters: per family, the queries seen and sent,
 * the reports and leaves seen, counted per message as the Linux bridge's
 * `ip link xstats type bridge` counts them (RX seen, TX sent), and the
 * settings in force as `ip -d link show` names them.
 *
 * vde_switch has no multicast menu; `mcast/router` checks its port as
 * vde_switch's port commands do (`vlan/addport`, `port/remove`): EINVAL out
 * of range, ENXIO for a port in range that is not there. Refusals that
 * depend on the switch's state (snooping off, a port past the last or not
 * there) say so in words before the code, with what to type: a person's
 * console cannot tell them apart from the code alone. Malformed arguments
 * get the bare code, which the consoles explain with the usage.
 */
import { parseInteger, parseSwitch, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, failure, listing, ok } from "../registry.ts";
import { Errno } from "../reply_format.ts";
import { type FamilyCounters, McastSnooping } from "../../switch/mcast_snooping.ts";
import { parseMacText } from "../../wire/ethernet.ts";
import {
  knobCommand,
  knobRange,
  knobUnit,
  knobValue,
  MCAST_KNOBS,
  parseKnob,
} from "../../switch/mcast_knobs.ts";

/** Why `mcast/querier` and `mcast/router` refuse while snooping is off, and what to type. */
export const SNOOPING_OFF =
  "snooping is off: type mcast/snooping 1 first, or start the switch with --mcast-snooping";

/** Turns snooping on (keeping a running table) or off on the context's switch. */
export function setSnooping(ctx: ConsoleContext, on: boolean): void {
  const engine = ctx.sw.engine;
  if (!on) engine.snooping = null;
  else if (engine.snooping === null) {
    const mac = parseMacText(ctx.mac);
    engine.snooping = new McastSnooping(mac.ok ? mac.value : new Uint8Array([0, 0xff, 0, 0, 0, 1]));
  }
}

/** Registers the multicast menu. */
export function addMcastCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const engine = ctx.sw.engine;
  registry.menu("mcast", "MULTICAST (IGMP/MLD SNOOPING) MENU");
  registry.add({
    path: "mcast/snooping",
    syntax: "0/1",
    help: "IGMP/MLD snooping: multicast only to member and router ports (0: flood it, the default)",
    listing: false,
    run: (args) => {
      const on = parseSwitch(args);
      if (on === undefined) return fail(Errno.EINVAL);
      setSnooping(ctx, on);
      return ok();
    },
  });
  registry.add({
    path: "mcast/querier",
    syntax: "0/1",
    help: "send IGMP/MLD general queries ourselves (needs snooping on)",
    listing: false,
    run: (args) => {
      const on = parseSwitch(args);
      if (on === undefined) return fail(Errno.EINVAL);
      if (engine.snooping === null) return failure(SNOOPING_OFF, Errno.EINVAL);
      engine.snooping.setQuerier(on);
      return ok();
    },
  });
  // A port's setting: checked as vde_switch checks a port, then applied to the machine.
  const perPort = (
    path: string,
    help: string,
    apply: (snoop: McastSnooping, port: number, on: boolean) => void,
  ) =>
    registry.add({
      path,
      syntax: "PORT 0/1",
      help,
      listing: false,
      run: (args) => {
        const [p, v] = words(args);
        const port = parseInteger(p);
        const on = parseSwitch(v);
        if (port === undefined || on === undefined || port < 0) return fail(Errno.EINVAL);
        const last = ctx.sw.numPorts - 1;
        if (port > last) {
          return failure(
            `port ${port} is past the last port: this switch's ports are 0-${last}`,
            Errno.EINVAL,
          );
        }
        if (ctx.sw.port(port) === undefined) {
          return failure(
            `no port ${port} yet: it is there once something plugs in, or after port/create ${port}; ` +
              "`ports all` lists the ports",
            Errno.ENXIO,
          );
        }
        if (engine.snooping === null) return failure(SNOOPING_OFF, Errno.EINVAL);
        apply(engine.snooping, port, on);
        return ok();
      },
    });
  perPort(
    "mcast/router",
    "make PORT a permanent multicast router port (1) or a learned one (0)",
    (snoop, port, on) => snoop.setRouter(port, on),
  );
  perPort(
    "mcast/fastleave",
    "a leave on PORT ends its membership at once, no queries (the bridge's multicast_fast_leave)",
    (snoop, port, on) => snoop.setFastLeave(port, on),
  );
  for (const knob of MCAST_KNOBS) {
    const path = knobCommand(knob);
    registry.add({
      path,
      syntax: knobUnit(knob),
      help: `${knob.help}; ${knobRange(knob)}`,
      listing: false,
      run: (args) => {
        const value = parseKnob(knob, args.trim());
        if (value === undefined) return failure(`${path} takes ${knobRange(knob)}`, Errno.EINVAL);
        if (engine.snooping === null) return failure(SNOOPING_OFF, Errno.EINVAL);
        engine.snooping.setOption(knob.field, value);
        return ok();
      },
    });
  }
  registry.add({
    path: "mcast/print",
    syntax: "",
    help: "multicast groups per VLAN and port with their timers, router ports, querier",
    listing: true,
    run: () => {
      const snoop = engine.snooping;
      if (snoop === null) return listing(["snooping off: multicast is flooded"]);
      const q = snoop.querierState();
      const c = snoop.counters;
      const lines = [
        `snooping on, our querier ${snoop.querier ? "on" : "off"}, ` +
        `querier active: ipv4 ${q.ipv4 ? "yes" : "no (flooding)"}, ipv6 ${q.ipv6 ? "yes" : "no (flooding)"}`,
      ];
      // The current querier of each family, as the kernel's election keeps it (the lowest address heard).
      for (const q of snoop.queriers()) {
        const name = q.family === 4 ? "ipv4" : "ipv6";
        // Another's heard on a port whose client left since has no port to name, as the kernel names none.
        const port = q.port === null ? "" : ` port ${q.port}`;
        lines.push(
          q.expiresIn === null
            ? `querier ${name} ${q.address} ours`
            : `querier ${name} ${q.address}${port} temp ${q.expiresIn.toFixed(2)}`,
        );
      }
      for (const r of snoop.routers()) {
        lines.push(
          `router port ${r.port} ${r.expiresIn === null ? "permanent" : `temp ${r.expiresIn.toFixed(2)}`}`,
        );
      }
      const fast = snoop.fastLeavePorts();
      if (fast.length > 0) lines.push(`fastleave ports ${fast.join(" ")}`);
      for (const g of snoop.groups()) {
        lines.push(`port ${g.port} grp ${g.group} vid ${g.vlan} temp ${g.expiresIn.toFixed(2)}`);
      }
      lines.push(familyLine("igmp", c.igmp), familyLine("mld", c.mld), `table-full ${c.tableFull}`);
      // The settings in force, named and in the units `ip -d link show` gives (intervals in centiseconds).
      const options = snoop.settings.options;
      lines.push(MCAST_KNOBS.map((k) => `${k.name} ${knobValue(k, options)}`).join(" "));
      return listing(lines);
    },
  });
}

/** One family's counters: what `ip link xstats type bridge` shows as RX and TX (we send queries only). */
function familyLine(name: string, c: FamilyCounters): string {
  return `${name} queries seen ${c.queriesIn} sent ${c.queriesOut}, reports seen ${c.reports}, ` +
    `leaves seen ${c.leaves}, malformed ${c.bad}`;
}
