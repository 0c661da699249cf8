/**
 * What a lab switch's `rc` file changed of the settings the lab file owns
 * (ports, hub, stp, mcast_snooping, mcast_querier, the snooping knobs such
 * as mcast_query_interval, vlans).
 *
 * The lab's record of a node (what `vde status`, `save`, a diff and
 * `apply` compare against) is its lab file's spec; an rc runs the switch's
 * own console commands, which may set any of those too (`fstp/setfstp 1`,
 * as a vde_switch rc does). Left at that, the record said spanning tree
 * was off on a switch running it. So after its rc a switch is read back
 * from its engine, and what differs is recorded as the node's: the record
 * is what runs, as containerlab's `inspect` shows what runs. The runner
 * says which settings came from the rc.
 *
 * The rc is part of the lab file, though: `vde up` of the file runs it
 * after the file's settings, every time. So a file read for `diff` or
 * `apply` gets, on each switch that runs the same rc, what that rc set laid
 * over its own settings (`layRcSettings`), as `vde up` of it would have
 * them: an apply of the unchanged file does not take the rc's spanning
 * tree back (which, on a ring, would make a loop), and what the file
 * changes beside it still applies. VLANs are laid as the rc's changes (the
 * ones it made, the ones it removed), the rest as the values it set; the
 * knobs one by one, each in the bridge's unit as the file writes it (an rc
 * that turns snooping off takes the file's knobs with it, which need it).
 */
import type { SwitchEngine } from "../switch/engine.ts";
import { knobDefault, knobValue, MCAST_KNOBS } from "../switch/mcast_knobs.ts";
import type { SwitchNode } from "./spec.ts";

/** The settings of a switch node a lab file says and an rc may change. */
type OwnedSettings = Pick<SwitchNode, "ports" | "hub" | "stp" | "mcastSnooping" | "mcastQuerier" | "vlans">;

/**
 * What an rc changed: each setting it set (and what the file said of it then), each snooping knob it set
 * by its bridge name (and the file's value then, the default where it said none), and the VLANs it made
 * and removed.
 */
export interface RcSettings {
  values: Partial<Omit<OwnedSettings, "vlans">>;
  fileSaid: Partial<Omit<OwnedSettings, "vlans">>;
  knobs: Record<string, number>;
  knobsFileSaid: Record<string, number>;
  vlansMade: number[];
  vlansRemoved: number[];
}

/** `node`'s value of each knob, the default where it says none. */
function fileKnobs(node: SwitchNode): Record<string, number> {
  return Object.fromEntries(MCAST_KNOBS.map((k) => [k.name, node.mcastKnobs?.[k.name] ?? knobDefault(k)]));
}

/** The knobs `engine`'s snooping runs with, in the file's units; none with snooping off. */
function runningKnobs(engine: SwitchEngine): Record<string, number> | undefined {
  const options = engine.snooping?.settings.options;
  return options === undefined
    ? undefined
    : Object.fromEntries(MCAST_KNOBS.map((k) => [k.name, knobValue(k, options)]));
}

/** What `engine` runs with, in the lab file's terms (VLAN 0, every switch's, is no `vlans` entry). */
function runningSettings(engine: SwitchEngine): Required<OwnedSettings> {
  return {
    ports: engine.numPorts,
    hub: engine.hub,
    stp: engine.stp !== null,
    mcastSnooping: engine.snooping !== null,
    mcastQuerier: engine.snooping?.querier === true,
    vlans: engine.vlans().filter((v) => v !== 0),
  };
}

/** The settings `node` says, but its VLANs. */
function fileValues(node: SwitchNode): RcSettings["fileSaid"] {
  return {
    ports: node.ports,
    hub: node.hub,
    stp: node.stp,
    mcastSnooping: node.mcastSnooping === true,
    mcastQuerier: node.mcastQuerier === true,
  };
}

/** The lab file's words for each setting of `values`, its knobs and its VLANs (`vlans: [10, 20]`). */
function described(
  values: RcSettings["values"],
  vlans: number[] | undefined,
  knobs: Record<string, number> = {},
): string[] {
  const said: string[] = [];
  if (values.ports !== undefined) said.push(`ports: ${values.ports}`);
  if (values.hub !== undefined) said.push(`hub: ${values.hub}`);
  if (values.stp !== undefined) said.push(`stp: ${values.stp}`);
  if (values.mcastSnooping !== undefined) said.push(`mcast_snooping: ${values.mcastSnooping}`);
  if (values.mcastQuerier !== undefined) said.push(`mcast_querier: ${values.mcastQuerier}`);
  for (const [name, v] of Object.entries(knobs)) said.push(`${name}: ${v}`);
  if (vlans !== undefined) said.push(`vlans: [${vlans.join(", ")}]`);
  return said;
}

/**
 * Records in `node` what its switch runs with where that differs from the
 * node's spec. Returns what the rc changed, and those settings as the lab
 * file writes them (`stp: true`, `vlans: [10, 20]`; empty when it changed
 * none).
 */
export function adoptRunningSettings(
  node: SwitchNode,
  engine: SwitchEngine,
): { set: RcSettings; said: string[] } {
  const now = runningSettings(engine);
  const fileSaid = fileValues(node);
  const values: RcSettings["values"] = {};
  if (now.ports !== node.ports) values.ports = node.ports = now.ports;
  if (now.hub !== node.hub) values.hub = node.hub = now.hub;
  if (now.stp !== node.stp) values.stp = node.stp = now.stp;
  if (now.mcastSnooping !== (node.mcastSnooping === true)) {
    values.mcastSnooping = node.mcastSnooping = now.mcastSnooping;
  }
  if (now.mcastQuerier !== (node.mcastQuerier === true)) {
    values.mcastQuerier = node.mcastQuerier = now.mcastQuerier;
  }
  // Each knob the rc set to other than the file's, recorded as the node's; with snooping off there are none.
  const knobsFileSaid = fileKnobs(node);
  const knobs: Record<string, number> = {};
  const running = runningKnobs(engine);
  if (running === undefined) delete node.mcastKnobs;
  for (const [name, v] of Object.entries(running ?? {})) {
    if (v !== knobsFileSaid[name]) knobs[name] = (node.mcastKnobs ??= {})[name] = v;
  }
  const set: RcSettings = {
    values,
    fileSaid,
    knobs,
    knobsFileSaid,
    vlansMade: now.vlans.filter((v) => !node.vlans.includes(v)),
    vlansRemoved: node.vlans.filter((v) => !now.vlans.includes(v)),
  };
  const vlansChanged = set.vlansMade.length + set.vlansRemoved.length > 0;
  if (vlansChanged) node.vlans = now.vlans;
  return { set, said: described(values, vlansChanged ? now.vlans : undefined, knobs) };
}

/**
 * Lays what an rc set over `node`, a switch of a lab file read to diff or
 * apply that runs that rc, as `vde up` of the file would find it after
 * the rc. Returns each setting the file says otherwise, as `stp: false ->
 * true` (the file's, then the rc's, which wins as it would at `vde up`).
 */
export function layRcSettings(node: SwitchNode, set: RcSettings): string[] {
  const file = fileValues(node);
  const overridden: string[] = [];
  for (const [k, v] of Object.entries(set.values) as [keyof RcSettings["values"], number | boolean][]) {
    // Said only where the file was edited to say so: what it said at the start, the rc's setting overrode.
    if (file[k] !== v && file[k] !== set.fileSaid[k]) {
      overridden.push(`${described({ [k]: file[k] }, undefined)[0]} -> ${v}`);
    }
  }
  const knobs = fileKnobs(node);
  for (const [name, v] of Object.entries(set.knobs)) {
    if (knobs[name] !== v && knobs[name] !== set.knobsFileSaid[name]) {
      overridden.push(`${name}: ${knobs[name]} -> ${v}`);
    }
  }
  Object.assign(node, set.values);
  if (node.mcastSnooping !== true) delete node.mcastKnobs;
  else if (Object.keys(set.knobs).length > 0) node.mcastKnobs = { ...node.mcastKnobs, ...set.knobs };
  const vlans = [...new Set([...node.vlans, ...set.vlansMade])].filter((x) => !set.vlansRemoved.includes(x));
  node.vlans = vlans.sort((a, b) => a - b);
  return overridden;
}
