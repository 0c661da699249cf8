/**
 * What a lab switch's `rc` file changed of the settings the lab file owns
 * (ports, hub, stp, mcast_snooping, mcast_querier, vlans).
 *
 * The lab's record of a node (what `vde status`, `save`, a diff and
 * `apply` compare against) is its lab file's spec; an rc runs the switch's
 * own console commands, which may set any of those too (`fstp/setfstp 1`,
 * as a vde_switch rc does). Left at that, the record said spanning tree
 * was off on a switch running it, and an apply of a file saying
 * `stp: true` saw nothing to do. So after its rc a switch is read back
 * from its engine, and what differs is recorded as the node's: the record
 * is what runs, as containerlab's `inspect` shows what runs. The runner
 * says which settings came from the rc, so a user can write them in the
 * lab file: an apply of the file that leaves them out takes them back, as
 * it would any setting changed by hand.
 */
import type { SwitchEngine } from "../switch/engine.ts";
import type { SwitchNode } from "./spec.ts";

/** The settings of a switch node a lab file says and an rc may change. */
type OwnedSettings = Pick<SwitchNode, "ports" | "hub" | "stp" | "mcastSnooping" | "mcastQuerier" | "vlans">;

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

/**
 * Records in `node` what its switch runs with where that differs from the
 * node's spec, and returns those settings as the lab file writes them
 * (`stp: true`, `vlans: [10, 20]`); empty when the rc changed none.
 */
export function adoptRunningSettings(node: SwitchNode, engine: SwitchEngine): string[] {
  const now = runningSettings(engine);
  const said: string[] = [];
  if (now.ports !== node.ports) said.push(`ports: ${(node.ports = now.ports)}`);
  if (now.hub !== node.hub) said.push(`hub: ${(node.hub = now.hub)}`);
  if (now.stp !== node.stp) said.push(`stp: ${(node.stp = now.stp)}`);
  if (now.mcastSnooping !== (node.mcastSnooping === true)) {
    said.push(`mcast_snooping: ${(node.mcastSnooping = now.mcastSnooping)}`);
  }
  if (now.mcastQuerier !== (node.mcastQuerier === true)) {
    said.push(`mcast_querier: ${(node.mcastQuerier = now.mcastQuerier)}`);
  }
  const sorted = [...node.vlans].sort((a, b) => a - b);
  if (now.vlans.join() !== sorted.join()) said.push(`vlans: [${(node.vlans = now.vlans).join(", ")}]`);
  return said;
}
