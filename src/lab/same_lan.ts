/**
 * Which host interfaces of a lab share one LAN, and two of them that hold
 * one address there. Two hosts on one address both answer ARP (or NDP) for
 * it: each neighbour reaches whichever answered last, so the lab comes up
 * and then half its pings go to the wrong host, which a lab file can say at
 * once. The same address on two LANs (two switches, two VLANs of one) is no
 * clash: each LAN has its own.
 *
 * A LAN is what a frame reaches: a switch's VLAN (the untagged one a link's
 * `vlan` names, 0 without one), joined across a switch-to-switch link for
 * that untagged VLAN and for each `trunk` VLAN; the host interfaces and
 * slirps linked to it; or two hosts linked directly. A cable leads to
 * another machine's switch, whose hosts the file does not name, so it joins
 * nothing here. Hub mode is left as VLANs: a clash missed, never one made up.
 *
 * A slirp on a LAN holds its gateway and DNS addresses (10.0.2.2 and .3,
 * fd00::2 and ::3, or what its options set): a host's static address there
 * is the same clash. Its DHCP server leases from its first lease address
 * (10.0.2.15) to the network's last host address, without asking who holds
 * one, so a static address in that pool clashes only while a host on the
 * LAN takes `dhcp`: that is refused too, naming the pool (without such a
 * host the pool is nobody's, as QEMU users set 10.0.2.15 by hand).
 *
 * Pure: the validated nodes and links in, the clashes out; validate.ts says
 * them at the address's line.
 */
import type { LabLink, LabNode, SlirpNode } from "./spec.ts";
import { ipv4ToU32, parseIpText } from "../wire/ip_address.ts";
import { defaultConfig, parseSlirpOptions, type SlirpConfig } from "../slirp/config.ts";
import { formatIpv4, prefixMask } from "../wire/ipv4.ts";
import { formatIpv6 } from "../wire/ipv6.ts";

/**
 * Why a link may not take untagged VLAN `vlan` beside `trunk`: a switch
 * port is in a VLAN once, tagged or untagged, so the one would replace the
 * other, and moving the untagged VLAN away later would leave the trunk
 * without it while the lab says it carries it.
 */
export function vlanOnTrunk(vlan: number | undefined, trunk: readonly number[]): string | undefined {
  if (vlan === undefined || !trunk.includes(vlan)) return undefined;
  return `vlan ${vlan} is on the link's trunk too: a port carries a VLAN tagged or untagged, not both`;
}

/** A host's interface and one address on it, as written (`10.0.2.10/24`). */
export interface HostAddress {
  readonly host: string;
  readonly iface: string;
  readonly address: string;
}

/** An address written on `second` that `first`, earlier in the file, holds on the same LAN. */
export interface AddressClash {
  readonly first: HostAddress;
  readonly second: HostAddress;
}

/**
 * An address (`10.0.2.10`, or `10.0.2.10/24` without its prefix length) as
 * one text for each address however written (`fd00::1`, `FD00:0::1`);
 * undefined for no address (`dhcp`).
 */
export function ipKey(text: string): string | undefined {
  const ip = parseIpText(text.split("/")[0]!);
  return ip.ok ? ip.value.join(".") : undefined;
}

/** Union-find over segment keys: `if:h1:eth0`, `sw:sw1:10`, `slirp:nat`. */
class Segments {
  readonly #parent = new Map<string, string>();

  root(key: string): string {
    let k = key;
    for (let p = this.#parent.get(k); p !== undefined && p !== k; p = this.#parent.get(k)) k = p;
    this.#parent.set(key, k);
    return k;
  }

  join(a: string, b: string): void {
    const [ra, rb] = [this.root(a), this.root(b)];
    if (ra !== rb) this.#parent.set(ra, rb);
  }
}

/** The segment keys an end of `link` puts on its wire: a switch's untagged and trunk VLANs. */
function endKeys(node: LabNode | undefined, iface: string | undefined, link: LabLink): string[] {
  switch (node?.kind) {
    case "host":
      // An end with no interface was refused (the validator's); it reaches no LAN.
      return iface === undefined ? [] : [`if:${node.name}:${iface}`];
    case "slirp":
      return [`slirp:${node.name}`];
    case "switch":
      return [`sw:${node.name}:${link.vlan ?? 0}`, ...link.trunk.map((v) => `sw:${node.name}:${v}`)];
    default:
      return [];
  }
}

/**
 * The addresses on one LAN twice (each second one with the first, once per
 * address): hosts' static addresses only (`dhcp` is the server's to give),
 * compared as addresses, so `10.0.2.10/24` and `10.0.2.10/16` clash.
 */
export function sameLanClashes(nodes: readonly LabNode[], links: readonly LabLink[]): AddressClash[] {
  const lans = lansOf(nodes, links);
  const held = new Map<string, HostAddress>();
  const clashes: AddressClash[] = [];
  for (const node of nodes) {
    if (node.kind !== "host") continue;
    for (const [iface, list] of Object.entries(node.addresses)) {
      for (const address of list) {
        const ip = ipKey(address);
        if (ip === undefined) continue;
        const key = `${lans.root(`if:${node.name}:${iface}`)} ${ip}`;
        const here: HostAddress = { host: node.name, iface, address };
        const first = held.get(key);
        if (first === undefined) held.set(key, here);
        else clashes.push({ first, second: here });
      }
    }
  }
  return clashes;
}

/** The LANs `links` make of `nodes`' ends. */
function lansOf(nodes: readonly LabNode[], links: readonly LabLink[]): Segments {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const lans = new Segments();
  for (const link of links) {
    const [a, b] = link.ends.map((e) => endKeys(byName.get(e.node), e.iface, link));
    if (a!.length === 0 || b!.length === 0) continue;
    // The untagged wire joins the first keys; a trunk VLAN joins the same VLAN at both switch ends.
    lans.join(a![0]!, b![0]!);
    for (const [i, key] of a!.entries()) if (i > 0 && b![i] !== undefined) lans.join(key, b![i]!);
  }
  return lans;
}

/** A host's static address that another host or a slirp on its LAN holds (or may lease); its one line. */
export interface LanClash {
  readonly at: HostAddress;
  readonly message: string;
}

/** A slirp node's configuration as it will run (its options' mistakes are the validator's: defaults then). */
function slirpConfig(node: SlirpNode): SlirpConfig {
  try {
    return node.options === undefined
      ? defaultConfig()
      : parseSlirpOptions(`/${node.options.replace(/^\/+/, "")}`);
  } catch {
    return defaultConfig();
  }
}

/**
 * Hosts' static addresses that a slirp on the same LAN holds (its gateway
 * or DNS, IPv4 or IPv6), or that its DHCP pool holds while a host on that
 * LAN takes `dhcp` (the first lease may be it).
 */
export function slirpClashes(nodes: readonly LabNode[], links: readonly LabLink[]): LanClash[] {
  const lans = lansOf(nodes, links);
  const hosts = nodes.filter((n) => n.kind === "host");
  const out: LanClash[] = [];
  for (const slirp of nodes) {
    if (slirp.kind !== "slirp") continue;
    const lan = lans.root(`slirp:${slirp.name}`);
    const c = slirpConfig(slirp);
    // A family the slirp runs without (its `v4` or `v6` alone) holds nothing.
    const held = new Map([
      ...(c.v4
        ? [[ipKey(formatIpv4(c.gateway)), "gateway"], [ipKey(formatIpv4(c.dns)), "DNS"]] as const
        : []),
      ...(c.v6
        ? [[ipKey(formatIpv6(c.gateway6)), "IPv6 gateway"], [ipKey(formatIpv6(c.dns6)), "IPv6 DNS"]] as const
        : []),
    ]);
    const last = ((c.network | ~prefixMask(c.prefixLength)) >>> 0) - 1;
    const pool = `${formatIpv4(c.dhcpStart)}-${formatIpv4(last)}`;
    const onLan = hosts.flatMap((h) =>
      Object.entries(h.addresses).filter(([iface]) => lans.root(`if:${h.name}:${iface}`) === lan)
        .flatMap(([iface, list]) => list.map((address) => ({ host: h.name, iface, address })))
    );
    const leasing = onLan.find((a) => a.address === "dhcp");
    for (const here of onLan) {
      const ip = here.address.split("/")[0]!;
      const what = held.get(ipKey(here.address));
      const where = `host ${here.host} ${here.iface} address ${ip}`;
      if (what !== undefined) {
        const holds = what.startsWith("IPv6")
          ? `${formatIpv6(c.gateway6)} and ${formatIpv6(c.dns6)}`
          : `${formatIpv4(c.gateway)} and ${formatIpv4(c.dns)}, and leases ${pool}`;
        out.push({
          at: here,
          message: `${where} is slirp ${slirp.name}'s ${what}, on the same LAN: neighbours would reach ` +
            `whichever answered last; give the host another (slirp ${slirp.name} holds ${holds})`,
        });
        continue;
      }
      const v4 = parseIpText(ip);
      const n = v4.ok && v4.value.length === 4 ? ipv4ToU32(v4.value) : undefined;
      if (!c.v4 || leasing === undefined || n === undefined || n < c.dhcpStart || n > last) continue;
      out.push({
        at: here,
        message: `${where} is in slirp ${slirp.name}'s DHCP pool (${pool}), which ${leasing.host} ` +
          `(${leasing.iface}: dhcp) leases from on the same LAN: ${formatIpv4(c.dhcpStart)} is the first ` +
          `address it gives; use one outside ${pool}`,
      });
    }
  }
  return out;
}

/**
 * Every clash on one LAN, as the line said at the address: two hosts on one
 * address, then a host on a slirp's. One function for a lab file and for
 * a live change (the lab shell's `link A-B vlan N`), so both say the same.
 */
export function lanClashes(nodes: readonly LabNode[], links: readonly LabLink[]): LanClash[] {
  const hosts = sameLanClashes(nodes, links).map(({ first, second }) => {
    const holder = first.host === second.host ? `its ${first.iface}'s` : `${first.host}'s (${first.iface})`;
    return {
      at: second,
      message:
        `host ${second.host} ${second.iface} address ${second.address.split("/")[0]} is ${holder} too, ` +
        `on the same LAN: neighbours would reach whichever answered ARP last; give each its own`,
    };
  });
  return [...hosts, ...slirpClashes(nodes, links)];
}
