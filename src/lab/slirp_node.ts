/**
 * A lab's slirp node as a link: its file's options, MTU and forwards made
 * one slirp configuration. The lab's own process opens it, or, for a
 * rootless lab, the process outside its namespaces (outside.ts).
 */
import { openSlirpLink, type SlirpLink } from "../link/slirp_link.ts";
import { parseForward, parseSlirpOptions } from "../slirp/config.ts";
import type { SlirpNode } from "./spec.ts";

/**
 * Opens slirp node `node`.
 *
 * @throws Error naming the node (a forward's host port taken is the node's problem)
 */
export async function openSlirpNode(node: SlirpNode): Promise<SlirpLink> {
  const config = parseSlirpOptions(
    node.options === undefined ? "" : `/${node.options.replace(/^\/+/, "")}`,
  );
  if (node.mtu !== undefined) config.mtu = node.mtu;
  for (const f of node.forwards) config.forwards.push(parseForward(f, config));
  return await openSlirpLink(config).catch((err) => {
    throw new Error(`${node.name}: ${(err as Error).message}`);
  });
}
