/**
 * Spanning tree at the console: vde_switch's `fstp/` menu (`fstp/showinfo`,
 * `fstp/setfstp`, `fstp/setedge`, `fstp/print`, same names, syntax and
 * line formats) and ours: `stp`, an aligned table in `brctl showstp`'s
 * words, and `stp/setprio`, `stp/setportcost`, `stp/setportprio`,
 * `stp/setedge`, `stp/settimers`, the port guards `stp/setguard` and
 * `stp/setrootblock` (the Linux bridge's `guard` and `root_block`), and
 * `stp/setp2p` (mstpd's `setportp2p`: yes, no or auto).
 *
 * There is one tree for the whole switch (RSTP, untagged), which blocks a
 * port for every VLAN, so `fstp/print` prints it for each VLAN, as
 * vde_switch prints each of its trees: the VLAN's active ports, untagged
 * then tagged, with the role the one tree gives them; `fstp/setedge`
 * accepts any existing VLAN for the port. With spanning tree off, `fstp/print` prints vde_switch's blocks
 * for every VLAN (`ROOTSWITCH FSTP IS DISABLED`), which scripts read to
 * tell a root switch. The bridge priority, timers and edge ports are kept
 * while spanning tree is off and used when it starts (vde_switch's rc files
 * may set edges before `fstp/setfstp 1`); the guards and point-to-point
 * settings are kept by the console for every start; other port settings
 * need it on (ENXIO otherwise).
 */
import { parseInteger, parseSwitch, words } from "../args.ts";
import type { ConsoleContext } from "./context.ts";
import { type CommandRegistry, fail, listing, ok } from "../registry.ts";
import { Errno, type Reply } from "../reply_format.ts";
import { renderTable } from "./tables.ts";
import { stpStateName } from "../../switch/stp_state_name.ts";
import {
  checkTimes,
  DEFAULT_PATH_COST,
  Role,
  ROLE_NAMES,
  type Rstp,
  type StpPortView,
} from "../../switch/rstp.ts";
import {
  BRIDGE_PRIORITY,
  BRIDGE_PRIORITY_STEP,
  inSteps,
  POINT_TO_POINT,
  STP_PORTS,
  within,
} from "../../switch/stp_limits.ts";

const OFF = "spanning tree is off (turn it on with fstp/setfstp 1, or start the switch with --stp)";

/** Registers the fstp menu and the stp commands. */
export function addStpCommands(registry: CommandRegistry, ctx: ConsoleContext): void {
  const engine = ctx.sw.engine;
  // A port command: the port must be a spanning tree port and the tree running.
  const onPort = (args: string, count: number, act: (stp: Rstp, port: number, values: number[]) => void) => {
    const [port, ...values] = words(args).map(parseInteger);
    if (words(args).length !== count || port === undefined || !within(port, STP_PORTS)) {
      return fail(Errno.EINVAL);
    }
    if (port >= ctx.sw.numPorts || values.some((v) => v === undefined)) return fail(Errno.EINVAL);
    const stp = engine.stp;
    if (stp === null) return fail(Errno.ENXIO);
    return attempt(() => act(stp, port, values as number[]));
  };
  const setEdge = (port: string | undefined, value: string | undefined): Reply => {
    const on = parseSwitch(value);
    if (on === undefined) return fail(Errno.EINVAL);
    // Kept for the tree to come, as vde_switch keeps it: its rc files may set edges before fstp/setfstp 1.
    const n = parseInteger(port ?? "");
    if (engine.stp === null && n !== undefined && within(n, STP_PORTS) && n < ctx.sw.numPorts) {
      ctx.stpEdges.set(n, on);
      return ok();
    }
    return onPort(`${port ?? ""} ${on ? 1 : 0}`, 2, (s, p) => s.setAdminEdge(p, on));
  };
  // Guards are kept by the console (they outlive the tree) and given to the tree when it runs.
  // A port number that spanning tree can carry on this switch, as the kept settings take it.
  const stpPort = (port: string | undefined): number | undefined => {
    const n = parseInteger(port ?? "");
    return n !== undefined && within(n, STP_PORTS) && n < ctx.sw.numPorts ? n : undefined;
  };
  const setGuard = (args: string, which: "bpdu" | "root"): Reply => {
    const [port, value, ...rest] = words(args);
    const n = stpPort(port);
    const on = parseSwitch(value);
    if (n === undefined || on === undefined || rest.length > 0) return fail(Errno.EINVAL);
    const guards = { ...(ctx.stpGuards.get(n) ?? { bpdu: false, root: false }), [which]: on };
    if (guards.bpdu || guards.root) ctx.stpGuards.set(n, guards);
    else ctx.stpGuards.delete(n);
    if (which === "bpdu") engine.stp?.setBpduGuard(n, on);
    else engine.stp?.setRootGuard(n, on);
    return ok();
  };

  // Point-to-point is kept by the console too (an rc file may say it before fstp/setfstp 1); auto, the
  // default, is not kept.
  const setP2p = (args: string): Reply => {
    const [port, value, ...rest] = words(args);
    const n = stpPort(port);
    const mode = POINT_TO_POINT.find((m) => m === value?.toLowerCase());
    if (n === undefined || mode === undefined || rest.length > 0) return fail(Errno.EINVAL);
    if (mode === "auto") ctx.stpPointToPoint.delete(n);
    else ctx.stpPointToPoint.set(n, mode);
    engine.stp?.setPointToPoint(n, mode);
    return ok();
  };

  registry.menu("fstp", "FAST SPANNING TREE MENU");
  registry.add({
    path: "fstp/showinfo",
    syntax: "",
    help: "show fstp info",
    listing: true,
    run: () =>
      listing([
        `MAC ${ctx.mac} Priority ${ctx.stpPriority} (0x${ctx.stpPriority.toString(16)})`,
        `FSTP=${engine.stp !== null}`,
      ]),
  });
  registry.add({
    path: "fstp/setfstp",
    syntax: "0/1",
    help: "Fast spanning tree protocol 1=ON 0=OFF",
    listing: true,
    run: (args) => {
      const on = parseSwitch(args);
      if (on === undefined) return listing([], Errno.EINVAL);
      // vde_switch says so and succeeds.
      if (on && engine.hub) return listing(["Can't use fstp in hub mode"]);
      ctx.setStp(on);
      return listing([]);
    },
  });
  registry.add({
    path: "fstp/setedge",
    syntax: "VLAN PORT 1/0",
    help: "Define an edge port for a vlan 1=Y 0=N",
    listing: false,
    run: (args) => {
      const [vlan, port, value, ...rest] = words(args);
      const v = parseInteger(vlan);
      if (v === undefined || v < 0 || v > 4094 || rest.length > 0) return fail(Errno.EINVAL);
      if (!engine.vlanExists(v)) return fail(Errno.ENXIO);
      return setEdge(port, value);
    },
  });
  registry.add({
    path: "fstp/print",
    syntax: "[N]",
    help: "print fst data for the defined vlan",
    listing: true,
    run: (args) => {
      let vlans = engine.vlans();
      if (args !== "") {
        const vlan = parseInteger(args);
        if (vlan === undefined || vlan < 0 || vlan > 4094) return listing([], Errno.EINVAL);
        if (!engine.vlanExists(vlan)) return listing([], Errno.ENXIO);
        vlans = [vlan];
      }
      const stp = engine.stp;
      return listing(vlans.flatMap((v) => stp === null ? fstPrintOff(ctx, v) : fstPrint(ctx, stp, v)));
    },
  });

  registry.add({
    path: "stp",
    syntax: "",
    help: "spanning tree: bridge, root and a table of ports (roles, states, costs, BPDUs)",
    listing: true,
    run: () => listing(engine.stp === null ? [OFF] : stpTable(engine.stp)),
  });
  registry.add({
    path: "stp/setprio",
    syntax: "PRIO",
    help: "bridge priority 0-61440 in steps of 4096 (default 32768; lowest becomes root)",
    listing: false,
    run: (args) => {
      const prio = parseInteger(args);
      if (prio === undefined || !inSteps(prio, BRIDGE_PRIORITY, BRIDGE_PRIORITY_STEP)) {
        return fail(Errno.EINVAL);
      }
      ctx.stpPriority = prio;
      engine.stp?.setPriority(prio);
      return ok();
    },
  });
  registry.add({
    path: "stp/settimers",
    syntax: "HELLO MAXAGE FWDDELAY",
    help: "timers in seconds used while this switch is root (default 2 20 15)",
    listing: false,
    run: (args) => {
      const [helloTime, maxAge, forwardDelay] = words(args).map(parseInteger);
      if (
        words(args).length !== 3 || helloTime === undefined || maxAge === undefined ||
        forwardDelay === undefined
      ) {
        return fail(Errno.EINVAL);
      }
      const times = { helloTime, maxAge, forwardDelay };
      const result = attempt(() => {
        checkTimes({ messageAge: 0, ...times });
        engine.stp?.setTimes(helloTime, maxAge, forwardDelay);
      });
      if (result.code === 0) ctx.stpTimes = times;
      return result;
    },
  });
  registry.add({
    path: "stp/setportcost",
    syntax: "PORT COST",
    help: "path cost of a port, 1-200000000 (default 2000: 10 Gbit/s)",
    listing: false,
    run: (args) => onPort(args, 2, (s, p, [cost]) => s.setPortPathCost(p, cost!)),
  });
  registry.add({
    path: "stp/setportprio",
    syntax: "PORT PRIO",
    help: "port priority 0-240 in steps of 16 (default 128)",
    listing: false,
    run: (args) => onPort(args, 2, (s, p, [prio]) => s.setPortPriority(p, prio!)),
  });
  registry.add({
    path: "stp/setedge",
    syntax: "PORT 0/1",
    help: "1: the port leads to hosts only and forwards at once; 0: detect (default)",
    listing: false,
    run: (args) => {
      const [port, value, ...rest] = words(args);
      return rest.length > 0 ? fail(Errno.EINVAL) : setEdge(port, value);
    },
  });
  registry.add({
    path: "stp/setguard",
    syntax: "PORT 0/1",
    help:
      "BPDU guard: 1: a BPDU disables the port until its client leaves or stp/setguard PORT 1 (or 0); 0: off",
    listing: false,
    run: (args) => setGuard(args, "bpdu"),
  });
  registry.add({
    path: "stp/setrootblock",
    syntax: "PORT 0/1",
    help: "root guard: 1: the port never becomes root port, a superior BPDU keeps it discarding; 0: off",
    listing: false,
    run: (args) => setGuard(args, "root"),
  });
  registry.add({
    path: "stp/setp2p",
    syntax: "PORT yes/no/auto",
    help:
      "point-to-point link: yes: proposal and agreement make it forward at once; no: a shared LAN (a hub), " +
      "timers only; auto (default): shared while BPDUs from two bridge ports were heard within max age",
    listing: false,
    run: setP2p,
  });
}

function attempt(act: () => void): Reply {
  try {
    act();
    return ok();
  } catch {
    return fail(Errno.EINVAL);
  }
}

/** `80:00:00:ff:...`, vde_switch's way of printing a bridge id. */
function colonId(id: string): string {
  return id.replace(".", "").replace(/(..)(?!$)/g, "$1:");
}

function fstRole(p: StpPortView | undefined): string {
  // Port 0 and ports above 4095 are outside the tree and always forward.
  if (p === undefined) return "Designated";
  if (!p.enabled) return "Unknown";
  if (p.edge) return "Edge";
  if (p.role === Role.Root) return "Root";
  if (p.role === Role.Alternate || p.role === Role.Backup) return "Alternate/Backup";
  return "Designated";
}

/**
 * vde_switch's `fstp/print` block for VLAN `vlan` while spanning tree is off:
 * every VLAN is its own tree with this switch as root (its priority and
 * MAC), nothing designated above it (all ones, as vde_switch starts), the
 * age counted from start-up, and its active ports, untagged then tagged,
 * with the path cost spanning tree would give them, all designated.
 */
function fstPrintOff(ctx: ConsoleContext, vlan: number): string[] {
  const id = `${ctx.stpPriority.toString(16).padStart(4, "0")}.${ctx.mac.replaceAll(":", "")}`;
  const active = activeMembers(ctx, vlan);
  return [
    `FST DATA VLAN ${pad4(vlan)} ROOTSWITCH FSTP IS DISABLED`,
    ` ++ root ${colonId(id)}`,
    " ++ designated ff:ff:ff:ff:ff:ff:ff:ff",
    ` ++ rootport 0000 cost 0 age ${ctx.uptimeSeconds()} bonusport 0000 bonuscost 0`,
    ...active.map((m) =>
      ` -- Port ${pad4(m.port)} tagged=${m.tagged ? 1 : 0} portcost=${DEFAULT_PATH_COST} role=Designated`
    ),
  ];
}

/** VLAN `vlan`'s active ports, untagged then tagged, as vde_switch lists them. */
function activeMembers(ctx: ConsoleContext, vlan: number): { port: number; tagged: boolean }[] {
  const active = ctx.sw.engine.vlanMembers(vlan).filter((m) => ctx.sw.engine.isActive(m.port));
  return [...active.filter((m) => !m.tagged), ...active.filter((m) => m.tagged)];
}

/** vde_switch's `fstp/print` block for VLAN `vlan`: the one tree, with the VLAN's ports. */
function fstPrint(ctx: ConsoleContext, stp: Rstp, vlan: number): string[] {
  const root = stp.rootId === stp.bridgeId;
  const rootPort = stp.rootPort;
  // A root vde_switch has no designated bridge (all ff) and counts its age from its start, as when off.
  const designated = rootPort === 0
    ? "ff:ff:ff:ff:ff:ff:ff:ff"
    : colonId(stp.port(rootPort)!.designatedBridge);
  const age = rootPort === 0 ? ctx.uptimeSeconds() : stp.rootTimes.messageAge;
  const ports = new Map(stp.ports().map((p) => [p.port, p]));
  return [
    `FST DATA VLAN ${pad4(vlan)} ${root ? "ROOTSWITCH" : ""} `,
    ` ++ root ${colonId(stp.rootId)}`,
    ` ++ designated ${designated}`,
    ` ++ rootport ${pad4(rootPort)} cost ${stp.rootPathCost} age ${age} bonusport 0000 bonuscost 0`,
    ...activeMembers(ctx, vlan).map(({ port, tagged }) => {
      const p = ports.get(port);
      return ` -- Port ${pad4(port)} tagged=${tagged ? 1 : 0} portcost=${
        p?.pathCost ?? DEFAULT_PATH_COST
      } role=${fstRole(p)}`;
    }),
  ];
}

function stpTable(stp: Rstp): string[] {
  const t = stp.rootTimes;
  const own = stp.bridgeTimes;
  const head = [
    `bridge id         ${stp.bridgeId}`,
    `designated root   ${stp.rootId}${stp.rootId === stp.bridgeId ? " (this bridge)" : ""}`,
    `root port         ${stp.rootPort}`,
    `root path cost    ${stp.rootPathCost}`,
    `max age           ${String(t.maxAge).padStart(2)}  bridge max age        ${
      String(own.maxAge).padStart(2)
    }`,
    `hello time        ${String(t.helloTime).padStart(2)}  bridge hello time     ${
      String(own.helloTime).padStart(2)
    }`,
    `forward delay     ${String(t.forwardDelay).padStart(2)}  bridge forward delay  ${
      String(own.forwardDelay).padStart(2)
    }`,
    `topology change   ${
      stp.topologyChange ? "yes" : "no"
    }  changes ${stp.topologyChanges}  bad BPDUs ${stp.badBpdus}`,
    "",
  ];
  const columns = [
    { title: "PORT", align: "right" },
    { title: "PORT ID", align: "left" },
    { title: "ROLE", align: "left" },
    { title: "STATE", align: "left" },
    { title: "COST", align: "right" },
    { title: "DESIGNATED BRIDGE", align: "left" },
    { title: "DES PORT", align: "left" },
    { title: "DES COST", align: "right" },
    { title: "EDGE", align: "left" },
    { title: "P2P", align: "left" },
    { title: "PROTO", align: "left" },
    { title: "GUARD", align: "left" },
    { title: "BPDU IN", align: "right" },
    { title: "BPDU OUT", align: "right" },
    { title: "BAD", align: "right" },
  ] as const;
  const rows = stp.ports().filter((p) => p.enabled || p.guardTripped).map((p) => [
    String(p.port),
    hex4(p.portId),
    ROLE_NAMES[p.role],
    p.guardTripped
      ? "bpdu-guard"
      // Cisco's and Open vSwitch's word for a port root guard holds.
      : p.rootBlocked && p.enabled && !p.learning && !p.forwarding
      ? "root-inconsistent"
      // A Linux bridge's words; RSTP's discarding on a port that speaks RSTP (802.1D-2004 17.4).
      : stpStateName(p),
    String(p.pathCost),
    p.designatedBridge,
    hex4(p.designatedPort),
    String(p.designatedCost),
    p.edge ? (p.adminEdge ? "yes (set)" : "yes") : "no",
    p2pText(p),
    p.fstp ? "fstp" : p.rstp ? "rstp" : "stp",
    guardText(p),
    String(p.bpdusIn),
    String(p.bpdusOut),
    String(p.badBpdus),
  ]);
  return [...head, ...renderTable(columns, rows)];
}

/** A port's point-to-point state, `(set)` when forced, as EDGE says it. */
export function p2pText(p: StpPortView): string {
  return `${p.pointToPoint ? "yes" : "no"}${p.adminPointToPoint === "auto" ? "" : " (set)"}`;
}

/** The guards on a port, with how often each has acted (`stp`'s GUARD column; `-` for none). */
export function guardText(p: StpPortView): string {
  const on = [
    ...(p.bpduGuard ? [`bpdu(${p.guardTrips})`] : []),
    ...(p.rootGuard ? [`root(${p.rootBlocks})`] : []),
  ];
  return on.length === 0 ? "-" : on.join(",");
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

function pad4(n: number): string {
  return String(n).padStart(4, "0");
}
