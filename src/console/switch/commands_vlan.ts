/**
 * The VLAN menu (spec 5.2): `vlan/create`, `vlan/remove`, `vlan/addport`,
 * `vlan/delport`, `vlan/print`, `vlan/allprint`, with the ranges and errors
 * of Debian's vde_switch 2.3.2 as observed: EINVAL for an id or port out of
 * range, EEXIST for a VLAN that exists, ENXIO for one that does not or a
 * port that is not allocated, EADDRINUSE for removing a VLAN with members or
 * leaving a port's untagged VLAN.
 *
 * Listings show allocated ports only, as vde_switch's do: `VLAN NNNN`, then
 * ` -- Port NNNN tagged=T active=A status=S`, where status is Forwarding for
 * an active port and Learning for an inactive one (without a spanning tree
 * no port is ever Discarding). Deliberate differences: `vlan/allprint 0`
 * lists VLAN 0 (vde_switch answers EINVAL), `vlan/delport`'s help says what
 * it does (vde_switch's repeats addport's), and arguments are parsed
 * strictly (`vlan/print x` is EINVAL, not VLAN 0).
 */
import { parseInteger, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, listing, ok } from "../registry.ts";
import { Errno, type Reply } from "../reply_format.ts";
import { MAX_VLAN, type VlanResult } from "../../switch/engine.ts";

/** vde_switch's errno for each outcome of a VLAN change. */
export function vlanReply(result: VlanResult): Reply {
  switch (result) {
    case "ok":
      return ok();
    case "invalid":
      return fail(Errno.EINVAL);
    case "exists":
      return fail(Errno.EEXIST);
    case "missing":
      return fail(Errno.ENXIO);
    case "in-use":
      return fail(Errno.EADDRINUSE);
  }
}

/** Registers the VLAN menu. */
export function addVlanCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const sw = ctx.sw;
  const engine = sw.engine;

  // `N PORT`: range errors first, then an unallocated port, as vde_switch checks them.
  const membership = (change: (vlan: number, port: number) => VlanResult) => (args: string): Reply => {
    const [vlan, port] = words(args).map(parseInteger);
    if (vlan === undefined || port === undefined || vlan < 0 || vlan > MAX_VLAN) return fail(Errno.EINVAL);
    if (port < 0 || port >= sw.numPorts) return fail(Errno.EINVAL);
    if (!engine.vlanExists(vlan) || sw.port(port) === undefined) return fail(Errno.ENXIO);
    return vlanReply(change(vlan, port));
  };

  const lines = (vlan: number, includeInactive: boolean): string[] => {
    const out = [`VLAN ${pad(vlan)}`];
    for (const { port, tagged } of engine.vlanMembers(vlan)) {
      if (sw.port(port) === undefined) continue;
      const active = engine.isActive(port);
      if (!active && !includeInactive) continue;
      out.push(
        ` -- Port ${pad(port)} tagged=${tagged ? 1 : 0} active=${active ? 1 : 0} ` +
          `status=${active ? "Forwarding" : "Learning"}`,
      );
    }
    return out;
  };
  const print = (includeInactive: boolean) => (args: string): Reply => {
    if (args === "") return listing(engine.vlans().flatMap((v) => lines(v, includeInactive)));
    const vlan = parseInteger(args);
    if (vlan === undefined || vlan < 0 || vlan > MAX_VLAN) return listing([], Errno.EINVAL);
    if (!engine.vlanExists(vlan)) return listing([], Errno.ENXIO);
    return listing(lines(vlan, includeInactive));
  };

  registry.menu("vlan", "VLAN MANAGEMENT MENU");
  registry.add({
    path: "vlan/create",
    syntax: "N",
    help: "create the VLAN with tag N",
    listing: false,
    run: (args) => {
      const vlan = parseInteger(args);
      return vlan === undefined ? fail(Errno.EINVAL) : vlanReply(engine.createVlan(vlan));
    },
  });
  registry.add({
    path: "vlan/remove",
    syntax: "N",
    help: "remove the VLAN with tag N",
    listing: false,
    run: (args) => {
      const vlan = parseInteger(args);
      return vlan === undefined ? fail(Errno.EINVAL) : vlanReply(engine.removeVlan(vlan));
    },
  });
  registry.add({
    path: "vlan/addport",
    syntax: "N PORT",
    help: "add port to the vlan N (tagged)",
    listing: false,
    run: membership((vlan, port) => engine.addVlanPort(vlan, port)),
  });
  registry.add({
    path: "vlan/delport",
    syntax: "N PORT",
    help: "remove port from the vlan N (tagged)",
    listing: false,
    run: membership((vlan, port) => engine.delVlanPort(vlan, port)),
  });
  registry.add({
    path: "vlan/print",
    syntax: "[N]",
    help: "print the list of defined vlan",
    listing: true,
    run: print(false),
  });
  registry.add({
    path: "vlan/allprint",
    syntax: "[N]",
    help: "print the list of defined vlan (including inactive port)",
    listing: true,
    run: print(true),
  });
}

function pad(n: number): string {
  return String(n).padStart(4, "0");
}
