/**
 * A lab's slirp node as a link: its file's options, MTU and forwards made
 * one slirp configuration. The lab's own process opens it, or, for a
 * rootless lab, the process outside its namespaces (outside.ts). Its DHCP
 * server leases none of `reserved`, the static IPv4 addresses of the hosts
 * on its LAN (same_lan.ts's slirpStatics). Its log lines (its DHCP's:
 * a pool with none free, a lease ended by a reservation) name the node, as
 * a lab's lines name theirs: a lab may run several slirps.
 */
import { openSlirpLink, type SlirpLink } from "../link/slirp_link.ts";
import { parseForward, parseSlirpOptions, type SlirpConfig } from "../slirp/config.ts";
import type { SlirpNode } from "./spec.ts";
import { log } from "../log.ts";

/**
 * Opens slirp node `node`.
 *
 * @param reserved addresses its DHCP server never leases (the lab's running slirps change them live)
 * @throws Error naming the node (a forward's host port taken is the node's problem)
 */
export async function openSlirpNode(node: SlirpNode, reserved: readonly number[] = []): Promise<SlirpLink> {
  const config = slirpNodeConfig(node, reserved);
  return await openSlirpLink(config, { log: (m) => log("vde slirp", `${node.name}: ${m}`) }).catch((err) => {
    throw new Error(`${node.name}: ${(err as Error).message}`);
  });
}

/**
 * Slirp node `node`'s configuration: its options, MTU and forwards.
 *
 * @throws Error for options or forwards the lab file's checks would have refused
 */
export function slirpNodeConfig(node: SlirpNode, reserved: readonly number[] = []): SlirpConfig {
  const config = parseSlirpOptions(
    node.options === undefined ? "" : `/${node.options.replace(/^\/+/, "")}`,
  );
  if (node.mtu !== undefined) config.mtu = node.mtu;
  config.reserved = [...reserved];
  for (const f of node.forwards) config.forwards.push(parseForward(f, config));
  return config;
}
