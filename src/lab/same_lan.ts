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
 * is the same clash. Its DHCP pool (10.0.2.15 up) is no clash: the lab
 * gives each slirp the static IPv4 addresses of the hosts on its LAN
 * (`slirpStatics`), which its DHCP server never leases; a lease a static
 * address given later took (`leasesOnStatics`) the lab leases again.
 *
 * Pure: the validated nodes and links in, the clashes out; validate.ts says
 * them at the address's line.
 */
import type { LabLink, LabNode, SlirpNode } from "./spec.ts";
import { ipv4ToU32, parseIpText } from "../wire/ip_address.ts";
import { defaultConfig, parseSlirpOptions, type SlirpConfig } from "../slirp/config.ts";
import { formatIpv4 } from "../wire/ipv4.ts";
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

/** Each host's static addresses on the LAN of each slirp (by name), as written. */
function slirpLans(
  nodes: readonly LabNode[],
  links: readonly LabLink[],
): { slirp: SlirpNode; onLan: HostAddress[] }[] {
  const lans = lansOf(nodes, links);
  const hosts = nodes.filter((n) => n.kind === "host");
  return nodes.filter((n) => n.kind === "slirp").map((slirp) => {
    const lan = lans.root(`slirp:${slirp.name}`);
    const onLan = hosts.flatMap((h) =>
      Object.entries(h.addresses).filter(([iface]) => lans.root(`if:${h.name}:${iface}`) === lan)
        .flatMap(([iface, list]) => list.map((address) => ({ host: h.name, iface, address })))
    );
    return { slirp, onLan };
  });
}

/** Who is on one LAN: the hosts with an interface there, and whether a cable leads off it to another machine. */
export interface LanReach {
  readonly hosts: string[];
  readonly cable: boolean;
}

/**
 * Who is on the LAN of each segment key asked (`slirp:nat`, `sw:sw1:10`). A cable's switch end puts its
 * VLANs on the cable, whose far side (hosts the file does not name) may be what a slirp there serves.
 */
export function lanReach(nodes: readonly LabNode[], links: readonly LabLink[]): (key: string) => LanReach {
  const lans = lansOf(nodes, links);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  // Every host interface a link makes, with or without an address (a host may take one by its own exec).
  const ifaces = links.flatMap((l) => l.ends).filter((e) =>
    byName.get(e.node)?.kind === "host" && e.iface !== undefined
  );
  const cabled = new Set(
    links.filter((l) => l.ends.some((e) => byName.get(e.node)?.kind === "cable")).flatMap((l) =>
      l.ends.flatMap((e) => endKeys(byName.get(e.node), e.iface, l)).map((k) => lans.root(k))
    ),
  );
  return (key) => {
    const lan = lans.root(key);
    const on = ifaces.filter((e) => lans.root(`if:${e.node}:${e.iface}`) === lan).map((e) => e.node);
    return { hosts: [...new Set(on)], cable: cabled.has(lan) };
  };
}

/** An address as written (`10.0.2.20/24`) as an IPv4 number; undefined for IPv6 or `dhcp`. */
function ipv4Of(address: string): number | undefined {
  const ip = parseIpText(address.split("/")[0]!);
  return ip.ok && ip.value.length === 4 ? ipv4ToU32(ip.value) : undefined;
}

/**
 * The static IPv4 addresses of the hosts on each slirp's LAN, by slirp
 * name: what its DHCP server must not lease (SlirpConfig.reserved).
 */
export function slirpStatics(nodes: readonly LabNode[], links: readonly LabLink[]): Map<string, number[]> {
  return new Map(
    slirpLans(nodes, links).map(({ slirp, onLan }) => [
      slirp.name,
      onLan.map((a) => ipv4Of(a.address)).filter((n) => n !== undefined),
    ]),
  );
}

/** A running host interface's DHCP lease, as its udhcpc script said it (`10.0.2.15/24`). */
export interface HostLease {
  readonly host: string;
  readonly iface: string;
  readonly lease: string;
}

/**
 * The leases a host's static address on the same slirp's LAN has taken
 * since they were given (a host given it live, or moved onto the LAN): the
 * slirp reserved it and ended the lease, but DHCP cannot recall an address,
 * so the client keeps it beside the static host until it renews (12 h on)
 * unless the lab runs its client again. A LAN with no slirp has no server
 * the lab tells (a cable's leads to another machine's): none of its leases.
 */
export function leasesOnStatics(
  nodes: readonly LabNode[],
  links: readonly LabLink[],
  leases: readonly HostLease[],
): HostLease[] {
  const lans = lansOf(nodes, links);
  const withSlirp = new Set(nodes.filter((n) => n.kind === "slirp").map((n) => lans.root(`slirp:${n.name}`)));
  const statics = new Set<string>();
  for (const node of nodes) {
    if (node.kind !== "host") continue;
    for (const [iface, list] of Object.entries(node.addresses)) {
      const lan = lans.root(`if:${node.name}:${iface}`);
      if (!withSlirp.has(lan)) continue;
      for (const address of list) {
        const ip = ipKey(address);
        if (ip !== undefined) statics.add(`${lan} ${ip}`);
      }
    }
  }
  return leases.filter((l) => statics.has(`${lans.root(`if:${l.host}:${l.iface}`)} ${ipKey(l.lease)}`));
}

/** Hosts' static addresses that a slirp on the same LAN holds (its gateway or DNS, IPv4 or IPv6). */
export function slirpClashes(nodes: readonly LabNode[], links: readonly LabLink[]): LanClash[] {
  const out: LanClash[] = [];
  for (const { slirp, onLan } of slirpLans(nodes, links)) {
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
    for (const here of onLan) {
      const what = held.get(ipKey(here.address));
      if (what === undefined) continue;
      const holds = what.startsWith("IPv6")
        ? `${formatIpv6(c.gateway6)} and ${formatIpv6(c.dns6)}`
        : `${formatIpv4(c.gateway)} and ${formatIpv4(c.dns)}`;
      // A DNS address is only the slirp's default (.3, which sites numbered .1, .2, .3 take): it moves.
      const move = what === "DNS"
        ? `, or the slirp's DNS another with its option vnameserver=ADDR`
        : what === "IPv6 DNS"
        ? `, or the slirp's DNS another with its option vnameserver6=ADDR`
        : "";
      out.push({
        at: here,
        message: `host ${here.host} ${here.iface} address ${here.address.split("/")[0]} is slirp ` +
          `${slirp.name}'s ${what}, on the same LAN: neighbours would reach whichever answered last; ` +
          `give the host another (slirp ${slirp.name} holds ${holds})${move}`,
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
