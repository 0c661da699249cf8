/**
 * A running node's settings changed in place, for `apply`: a switch's
 * through its own console commands (the ones its management socket serves,
 * with their refusals), a host's through `ip` in its namespace, a slirp's
 * forwards through its stack, as `slirp/forward add|del` does.
 *
 * Theory of operation. A node's change is a list of steps, each with the
 * step that undoes it, made in an order where no step is refused for one
 * still to come: spanning tree off before a hub, on after it; the querier
 * off before snooping, on after (the snooping knobs between); routes removed before routes added. The
 * first step that fails undoes those before it, newest first, and the node
 * runs as it did; once all are made, the running node takes the file's
 * settings, so `save` writes them and `vde status` shows them. A host end's
 * addresses change the same way (`ip addr del`, `ip addr replace`, a DHCP
 * lease taken or let go), with its link's other settings; the routes the
 * kernel took out with an address are set again.
 */
import { knobCommand, knobDefault, MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import { type AddressChange, DEFAULT_PRIORITY } from "./changes.ts";
import type { CommandRegistry, Session } from "../console/registry.ts";
import { errorText, formatReply } from "../console/reply_format.ts";
import type { SlirpLink } from "../link/slirp_link.ts";
import { type ForwardSpec, parseForward } from "../slirp/config.ts";
import type { LabRunner, RunningHost, RunningSwitch } from "./runner.ts";
import { carriedVlans, type HostNode, type LabNode, type SwitchNode } from "./spec.ts";
import { ip } from "./system.ts";

/** A change failed and what it had made could not all be undone: the node is half changed. */
export class HalfUndone extends Error {}

/** One change, and what takes it back. */
interface Step {
  run(): Promise<void>;
  undo(): Promise<void>;
}

/**
 * Makes `steps` one after another; if one fails, those made are undone,
 * newest first, and its error is thrown (with any undo that failed too).
 */
async function allOrNone(steps: Step[]): Promise<void> {
  const made: Step[] = [];
  try {
    for (const step of steps) {
      await step.run();
      made.push(step);
    }
  } catch (err) {
    const stuck: string[] = [];
    for (const step of made.reverse()) {
      await step.undo().catch((e) => stuck.push((e as Error).message));
    }
    if (stuck.length === 0) throw err;
    throw new HalfUndone(`${(err as Error).message} (and undoing it: ${stuck.join("; ")})`);
  }
}

/** A step and its undo, each a function of the same shape. */
function step<T>(act: (v: T) => Promise<void>, to: T, back: T): Step {
  return { run: () => act(to), undo: () => act(back) };
}

/**
 * Changes node `running` to `file`'s live settings (the same kind, the same
 * name), all or none; then the running node has them.
 */
export async function changeNode(r: LabRunner, running: LabNode, file: LabNode): Promise<void> {
  if (running.kind === "switch" && file.kind === "switch") {
    await allOrNone(switchSteps(r, r.switches.get(running.name)!, running, file));
    Object.assign(running, {
      ports: file.ports,
      hub: file.hub,
      stp: file.stp,
      priority: file.priority,
      mcastSnooping: file.mcastSnooping,
      mcastQuerier: file.mcastQuerier,
      mcastKnobs: file.mcastKnobs === undefined ? undefined : { ...file.mcastKnobs },
      vlans: [...file.vlans],
    });
  } else if (running.kind === "host" && file.kind === "host") {
    await allOrNone(hostSteps(r.hosts.get(running.name)!, running, file));
    Object.assign(running, { mtu: file.mtu, routes: [...file.routes], gateway: file.gateway });
  } else if (running.kind === "slirp" && file.kind === "slirp") {
    const slirp = r.slirps.get(running.name);
    // A rootless lab's slirp runs in the vde up outside its namespaces, which changes them the same way.
    if (slirp === undefined) await r.changeOutsideForwards(running.name, running.forwards, file.forwards);
    else await changeForwards(running.name, slirp, running.forwards, file.forwards);
    running.forwards = [...file.forwards];
  }
}

/** The session a lab's own change runs a switch's commands in: nobody reads its replies but `apply`. */
function applySession(commands: CommandRegistry): Session {
  return {
    kind: "script",
    debug: new Set(),
    loadDepth: 0,
    commands,
    notify: () => {},
    render: (reply) => formatReply(reply),
  };
}

/**
 * Runs a console command of a switch; throws its refusal in words. A
 * listing where none is due is a refusal too: `fstp/setfstp 1` answers
 * "Can't use fstp in hub mode" with success, as vde_switch does.
 */
async function consoleCommand(sw: RunningSwitch, line: string): Promise<void> {
  const reply = await sw.commands.execute(line, applySession(sw.commands));
  if (reply === null) return;
  const words = reply.raw?.trim() || reply.lines?.join("; ");
  if (reply.code === 0 && !words) return;
  throw new Error(`${sw.node.name}: ${line}: ${words || errorText(reply.code)}`);
}

function switchSteps(r: LabRunner, sw: RunningSwitch, was: SwitchNode, now: SwitchNode): Step[] {
  const cmd = (line: string) => consoleCommand(sw, line);
  const flag = (path: string) => (on: boolean) => cmd(`${path} ${on ? 1 : 0}`);
  const steps: Step[] = [];
  if (now.ports !== was.ports) steps.push(step((n) => cmd(`port/setnumports ${n}`), now.ports, was.ports));
  const stp = flag("fstp/setfstp");
  if (was.stp && !now.stp) steps.push(step(stp, false, true));
  if (now.hub !== was.hub) steps.push(step(flag("port/sethub"), now.hub, was.hub));
  if (!was.stp && now.stp) steps.push(step(stp, true, false));
  // Said while spanning tree is off too: the switch keeps it for when it is turned on.
  const [p0, p1] = [was.priority ?? DEFAULT_PRIORITY, now.priority ?? DEFAULT_PRIORITY];
  if (p0 !== p1) steps.push(step((p) => cmd(`stp/setprio ${p}`), p1, p0));
  const querier = flag("mcast/querier");
  const [q0, q1] = [was.mcastQuerier === true, now.mcastQuerier === true];
  const [s0, s1] = [was.mcastSnooping === true, now.mcastSnooping === true];
  if (q0 && !q1) steps.push(step(querier, false, true));
  if (s0 !== s1) steps.push(step(flag("mcast/snooping"), s1, s0));
  // The knobs once snooping is on (a machine turned on now starts at the defaults), before the querier
  // starts, so its start-up queries follow them.
  if (s1) {
    for (const k of MCAST_KNOBS) {
      const [v0, v1] = [
        was.mcastKnobs?.[k.name] ?? knobDefault(k),
        now.mcastKnobs?.[k.name] ?? knobDefault(k),
      ];
      if (v0 === v1 && s0) continue;
      if (v1 === knobDefault(k) && !s0) continue;
      steps.push(step((v) => cmd(`${knobCommand(k)} ${v}`), v1, v0));
    }
  }
  if (!q0 && q1) steps.push(step(querier, true, false));
  const vlan = (verb: string) => (v: number) => cmd(`vlan/${verb} ${v}`);
  const engine = sw.sw.engine;
  for (const v of now.vlans) {
    if (!engine.vlanExists(v)) steps.push({ run: () => vlan("create")(v), undo: () => vlan("remove")(v) });
  }
  // A VLAN a link of the switch carries stays, as a link's VLAN is made at start whatever `vlans` says.
  const carried = carriedVlans(r.lab.links, was.name);
  for (const v of was.vlans) {
    if (now.vlans.includes(v) || carried.has(v) || !engine.vlanExists(v)) continue;
    steps.push({ run: () => vlan("remove")(v), undo: () => vlan("create")(v) });
  }
  return steps;
}

/**
 * `ip -n NS route VERB ARGS` (`-6` for a route via an IPv6 gateway). A
 * route to delete that is gone is no failure: the kernel takes a route out
 * with the address its gateway was reached by (an address changed first).
 */
async function routeIn(ns: string, verb: string, args: string[]): Promise<void> {
  const v6 = args.some((a, i) => args[i - 1] === "via" && a.includes(":"));
  await ipIn(ns, v6, "route", verb, ...args).catch((err) => {
    if (verb !== "del" || !/No such process/.test((err as Error).message)) throw err;
  });
}

/**
 * Sets the host's routes and gateway again after its addresses changed: an
 * address deleted takes the routes through it along, even those the file
 * keeps. Those the file keeps are on its subnets (validation checks it) and
 * take again; one that does not is one the file changes, which the host's
 * own step sets after, and reports if it fails.
 */
export async function restoreRoutes(h: RunningHost): Promise<void> {
  const routes = [...h.node.routes.map((r) => r.trim().split(/\s+/))];
  if (h.node.gateway !== undefined) routes.push(["default", "via", h.node.gateway]);
  for (const r of routes) await routeIn(h.ns, "replace", r).catch(() => {});
}

/** `ip -n NS ...`, with `-6` for an IPv6 address or route. */
function ipIn(ns: string, v6: boolean, ...args: string[]): Promise<void> {
  return ip("-n", ns, ...(v6 ? ["-6"] : []), ...args).then(() => {});
}

function hostSteps(h: RunningHost, was: HostNode, now: HostNode): Step[] {
  const steps: Step[] = [];
  if (now.mtu !== was.mtu) {
    // Unset, an interface has a tap's own: 1500.
    const mtu = (m: number | undefined) => String(m ?? 1500);
    for (const iface of h.taps.keys()) {
      steps.push(step((m) => ipIn(h.ns, false, "link", "set", iface, "mtu", m), mtu(now.mtu), mtu(was.mtu)));
    }
  }
  const route = (verb: string) => (r: string) => routeIn(h.ns, verb, r.trim().split(/\s+/));
  for (const r of was.routes.filter((r) => !now.routes.includes(r))) {
    steps.push({ run: () => route("del")(r), undo: () => route("add")(r) });
  }
  for (const r of now.routes.filter((r) => !was.routes.includes(r))) {
    steps.push({ run: () => route("add")(r), undo: () => route("del")(r) });
  }
  if (now.gateway !== was.gateway) {
    const v6 = (g: string) => g.includes(":");
    const set = (g: string) => routeIn(h.ns, "replace", ["default", "via", g]);
    // Without a gateway of the file's, an IPv4 default is a DHCP lease's router, as at start.
    const leased = [...h.routers.values()][0];
    const unset = (g: string) =>
      leased !== undefined && !v6(g) ? set(leased) : routeIn(h.ns, "del", ["default", "via", g]);
    const old = was.gateway;
    const next = now.gateway;
    // Of the other family, the old default stays unless taken out: `replace` reaches one family only.
    if (old !== undefined && (next === undefined || v6(old) !== v6(next))) {
      steps.push({ run: () => unset(old), undo: () => set(old) });
    }
    if (next !== undefined) {
      const same = old !== undefined && v6(old) === v6(next);
      steps.push({ run: () => set(next), undo: () => same ? set(old) : unset(next) });
    }
  }
  return steps;
}

/**
 * Gives running host ends (a link's) the file's addresses, all or none: an
 * end that fails has undone itself and the ends before it are set back.
 */
export async function changeAddresses(r: LabRunner, changes: AddressChange[]): Promise<void> {
  await allOrNone(changes.map((c) => ({
    run: () => changeEndAddresses(r, c),
    undo: () => changeEndAddresses(r, { ...c, before: c.after, after: c.before }),
  })));
}

/**
 * Gives a running host end the file's addresses (`ip addr del` of those it
 * loses, `ip addr replace` of those it gains), all or none; then the host's
 * settings have them.
 */
async function changeEndAddresses(r: LabRunner, change: AddressChange): Promise<void> {
  const h = r.hosts.get(change.host)!;
  const { iface, before, after } = change;
  // `dhcp` is a lease taken or let go; any other is an address.
  const addr = (verb: "add" | "del" | "replace") => (a: string) =>
    a === "dhcp"
      ? r.setDhcp(h, iface, verb !== "del")
      : ipIn(h.ns, a.includes(":"), "addr", verb, a, "dev", iface);
  const steps = [
    ...before.filter((a) => !after.includes(a)).map((a) => ({
      run: () => addr("del")(a),
      undo: () => addr("add")(a),
    })),
    ...after.filter((a) => !before.includes(a)).map((a) => ({
      run: () => addr("replace")(a),
      undo: () => addr("del")(a),
    })),
  ];
  try {
    await allOrNone(steps);
    if (after.length === 0) delete h.node.addresses[iface];
    else h.node.addresses[iface] = [...after];
    r.reserveStatics();
  } finally {
    // Whatever the outcome: an address deleted, even one put back, took its routes along.
    await restoreRoutes(h);
  }
}

/** Changes slirp `name`'s forwards (its `link`) from `was` to `now`, all or none. */
export async function changeForwards(
  name: string,
  link: SlirpLink,
  was: string[],
  now: string[],
): Promise<void> {
  await allOrNone(forwardSteps(name, link, was, now));
}

function forwardSteps(name: string, link: SlirpLink, was: string[], now: string[]): Step[] {
  const stack = link.stack;
  // A host port taken is the node's problem: say which node and which forward.
  const add = (f: string) =>
    Promise.resolve(stack.addForward(parseForward(f, stack.config))).then(() => {}, (err) => {
      throw new Error(`${name}: forward ${f}: ${(err as Error).message}`);
    });
  const del = async (f: string) => {
    const spec = boundForward(link, parseForward(f, stack.config));
    if (spec === undefined || !(await stack.removeForward(spec))) throw new Error(`${name}: no forward ${f}`);
  };
  return [
    ...was.filter((f) => !now.includes(f)).map((f) => ({ run: () => del(f), undo: () => add(f) })),
    ...now.filter((f) => !was.includes(f)).map((f) => ({ run: () => add(f), undo: () => del(f) })),
  ];
}

/**
 * The forward running for `spec`: itself, or for host port 0 the one the
 * kernel's pick made (the stack knows it by the port it bound), else it
 * could never be removed.
 */
function boundForward(link: SlirpLink, spec: ForwardSpec): ForwardSpec | undefined {
  if (spec.hostPort !== 0) return spec;
  const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
    a === undefined || b === undefined ? a === b : a.length === b.length && a.every((x, i) => x === b[i]);
  return link.stack.forwards().find((f) =>
    f.proto === spec.proto && f.family === spec.family && f.guestPort === spec.guestPort &&
    same(f.hostAddr, spec.hostAddr) && same(f.guestAddr, spec.guestAddr)
  );
}
