/**
 * The port menu (spec 5.2): `port/showinfo`, `port/setnumports`,
 * `port/sethub`, `port/setvlan`, `port/createauto`, `port/create`,
 * `port/remove`, `port/allocatable`, `port/setuser`, `port/setgroup`,
 * `port/epclose`, `port/resetcounter`, `port/print`, `port/allprint`, with
 * vde_switch's errors: EINVAL for a port out of range or a bad argument,
 * ENXIO for a port that is not there.
 *
 * `port/setvlan` sets the port's untagged VLAN: one created with
 * `vlan/create`, or 4095 for none (the port then takes only tagged frames).
 */
import { parseInteger, parseSwitch, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { formatPort } from "./listings.ts";
import { type CommandRegistry, fail, failure, listing, ok } from "../registry.ts";
import { Errno, type Reply } from "../reply_format.ts";
import { portView, portViews } from "./views.ts";
import { vlanReply } from "./commands_vlan.ts";
import { MAX_PORTS, NO_VLAN } from "../../switch/engine.ts";
import { lookupGroup, lookupUser } from "../../os/users.ts";
import { idMap, uidInside } from "../../os/user_namespace.ts";

/** Registers the port menu. */
export function addPortCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const sw = ctx.sw;
  const inRange = (p: number | undefined): p is number => p !== undefined && p >= 0 && p < sw.numPorts;

  registry.menu("port", "PORT STATUS MENU");
  registry.add({
    path: "port/showinfo",
    syntax: "",
    help: "show port info",
    listing: true,
    run: () => listing([`Numports=${sw.numPorts}`, `HUB=${sw.engine.hub}`, "counters=true"]),
  });
  registry.add({
    path: "port/setnumports",
    syntax: "N",
    help: "set the number of ports",
    listing: false,
    run: (args) => {
      const n = parseInteger(args);
      if (n === undefined || n < 1 || n > MAX_PORTS) return fail(Errno.EINVAL);
      return sw.setNumPorts(n) ? ok() : fail(Errno.EADDRINUSE);
    },
  });
  registry.add({
    path: "port/sethub",
    syntax: "0/1",
    help: "1=HUB 0=switch",
    listing: false,
    run: (args) => {
      const on = parseSwitch(args);
      if (on === undefined) return fail(Errno.EINVAL);
      sw.engine.hub = on;
      return ok();
    },
  });
  registry.add({
    path: "port/setvlan",
    syntax: "N VLAN",
    help: "set port VLAN (untagged)",
    listing: false,
    run: (args) => {
      const [p, vlan] = words(args).map(parseInteger);
      if (!inRange(p) || vlan === undefined || vlan < 0 || vlan > NO_VLAN) return fail(Errno.EINVAL);
      if (sw.port(p) === undefined) return fail(Errno.ENXIO);
      return vlanReply(sw.engine.setPortVlan(p, vlan));
    },
  });
  registry.add({
    path: "port/createauto",
    syntax: "",
    help: "create a port with an automatically allocated id (inactive|notallocatable)",
    listing: true,
    run: () => {
      const p = sw.createAutoPort();
      return p < 0 ? listing([], Errno.ENOSPC) : listing([`Port ${String(p).padStart(4, "0")}`]);
    },
  });
  registry.add({
    path: "port/create",
    syntax: "N",
    help: "create the port N (inactive|notallocatable)",
    listing: false,
    run: (args) => {
      const p = parseInteger(args);
      if (!inRange(p)) return fail(Errno.EINVAL);
      return sw.createPort(p) === "created" ? ok() : fail(Errno.EEXIST);
    },
  });
  registry.add({
    path: "port/remove",
    syntax: "N",
    help: "remove the port N",
    listing: false,
    run: (args) => {
      const p = parseInteger(args);
      if (!inRange(p)) return fail(Errno.EINVAL);
      const state = sw.port(p);
      if (state === undefined) return fail(Errno.ENXIO);
      if (state.endpoints.length > 0) return fail(Errno.EADDRINUSE);
      sw.removePort(p);
      return ok();
    },
  });
  registry.add({
    path: "port/allocatable",
    syntax: "N 0/1",
    help: "Is the port allocatable as unnamed? 1=Y 0=N",
    listing: false,
    run: (args) => {
      const [ps, flag] = words(args);
      const p = parseInteger(ps);
      const on = parseSwitch(flag);
      if (!inRange(p) || on === undefined) return fail(Errno.EINVAL);
      return sw.setAllocatable(p, on) ? ok() : fail(Errno.ENXIO);
    },
  });
  const access = (which: "user" | "group") => (args: string): Reply => {
    const [ps, name] = words(args);
    const p = parseInteger(ps);
    if (!inRange(p) || name === undefined) return fail(Errno.EINVAL);
    if (sw.port(p) === undefined) return fail(Errno.ENXIO);
    // NONE and ANY both lift the restriction, as in vde_switch. A name is the machine's (so is a number, as
    // the listing shows them), which a client's SO_PEERCRED id is in our user namespace: a rootless lab's
    // user is uid 0 to it, whom `port/setuser 3 alice` would otherwise have shut out of the port.
    const known = name === "NONE" || name === "ANY"
      ? -1
      : which === "user"
      ? lookupUser(name)
      : lookupGroup(name);
    if (known === undefined) return fail(Errno.EINVAL);
    const id = known < 0 ? known : uidInside(known, idMap(which === "user" ? "uid" : "gid") ?? "");
    if (id === undefined) {
      // The overflow id (65534), which nobody's name would give, is every unmapped user's here.
      const kind = which === "user" ? "uid" : "gid";
      return failure(
        `${which} ${name} is not mapped into this switch's user namespace (/proc/self/${kind}_map): ` +
          `the switch sees its clients as the overflow ${kind}, as every unmapped ${which}'s`,
        Errno.EINVAL,
      );
    }
    sw.setAccess(p, which, id);
    return ok();
  };
  registry.add({
    path: "port/setuser",
    syntax: "N user",
    help: "access control: set user",
    listing: false,
    run: access("user"),
  });
  registry.add({
    path: "port/setgroup",
    syntax: "N group",
    help: "access control: set group",
    listing: false,
    run: access("group"),
  });
  registry.add({
    path: "port/epclose",
    syntax: "N ID",
    help: "remove the endpoint port N/id ID",
    listing: false,
    run: (args) => {
      const [p, id] = words(args).map(parseInteger);
      if (!inRange(p) || id === undefined) return fail(Errno.EINVAL);
      return sw.closeEndpoint(p, id) ? ok() : fail(Errno.ENXIO);
    },
  });
  registry.add({
    path: "port/resetcounter",
    syntax: "[N]",
    help: "reset the port (N) counters",
    listing: false,
    run: (args) => {
      if (args === "") {
        for (let p = 0; p < sw.numPorts; p++) sw.engine.resetCounters(p);
        return ok();
      }
      const p = parseInteger(args);
      if (!inRange(p)) return fail(Errno.EINVAL);
      sw.engine.resetCounters(p);
      return ok();
    },
  });
  const print = (includeInactive: boolean) => (args: string): Reply => {
    if (args === "") return listing(portViews(ctx, includeInactive).flatMap(formatPort));
    const p = parseInteger(args);
    if (!inRange(p)) return listing([], Errno.EINVAL);
    const view = portView(ctx, p);
    if (view === undefined || (!includeInactive && !view.active)) return listing([], Errno.ENXIO);
    return listing(formatPort(view));
  };
  registry.add({
    path: "port/print",
    syntax: "[N]",
    help: "print the port/endpoint table",
    listing: true,
    run: print(false),
  });
  registry.add({
    path: "port/allprint",
    syntax: "[N]",
    help: "print the port/endpoint table (including inactive port)",
    listing: true,
    run: print(true),
  });
}
