/** IGMPv2 and MLDv2 messages as a host sends them, for snooping tests. */
import { internetChecksum, transportChecksum } from "../../src/wire/checksum.ts";
import { parseIpv6Text } from "../../src/wire/ip_address.ts";
import { buildIgmpQuery } from "../../src/wire/igmp.ts";
import { tagOf } from "./vde_clients.ts";

/**
 * An IGMPv2 message of `type` (0x16 report, 0x17 leave, 0x11 query) for `group` (a.b.c.d as numbers), from
 * 10.0.0.`host`, of max response `code` (a query's tenths: 0 makes one IGMPv1's).
 */
export function igmp(type: number, group: number[], host = 2, code = 0): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8);
  f.set([1, 0, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!, 2, 0, 0, 0, 0, host, 8, 0], 0);
  const ip = f.subarray(14, 34);
  ip.set([0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, host, ...group]);
  const c = internetChecksum(ip, 0, 20);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  const m = f.subarray(34);
  m.set([type, code, 0, 0, ...group]);
  const d = internetChecksum(m, 0, 8);
  m[2] = d >> 8;
  m[3] = d & 0xff;
  return f;
}

/** A general IGMPv2 query from `src` (a.b.c.d), as another querier sends it (max response `maxRespDs` 0.1 s). */
export function igmpQueryFrom(src: number[], maxRespDs = 100): Uint8Array {
  const f = buildIgmpQuery(new Uint8Array([2, 0, 0, 0, 0, src[3]!]), null, maxRespDs);
  f.set(src, 14 + 12);
  f[24] = f[25] = 0;
  const c = internetChecksum(f, 14, 24);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  return f;
}

/** A UDP datagram to `group` (a.b.c.d) from `src` (10.0.0.1) as an Ethernet frame, carrying `tag` in its payload. */
export function udpToGroup(group: number[], tag: number, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.set([1, 0, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!, ...src, 8, 0], 0);
  f.set([0x45, 0, 0, 46, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, ...group], 14);
  const c = internetChecksum(f, 14, 20);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  new DataView(f.buffer).setUint32(42, tag);
  return f;
}

/** The tags of what a link was sent: a test frame's (tagOf), or a `udpToGroup` datagram's. */
export function tagsSent(link: { sent: Uint8Array[] }): number[] {
  return link.sent.map((f) =>
    f[12] === 8 && f[13] === 0 && f.length >= 46 ? new DataView(f.buffer).getUint32(42) : tagOf(f)
  );
}

/** An IPv6 address in text as its 16 bytes (a test's own, so it throws on a typo). */
export function parseIpv6Address(text: string): Uint8Array {
  const a = parseIpv6Text(text);
  if (!a.ok) throw new Error(text);
  return a.value;
}

const HOST1_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

/** An MLDv2 report (with the hop-by-hop router alert) carrying one record for `group`. */
export function mldv2(type: number, group: string): Uint8Array {
  const src = parseIpv6Address("fe80::1");
  const dst = parseIpv6Address("ff02::16");
  const mld = new Uint8Array(8 + 20);
  mld.set([143, 0, 0, 0, 0, 0, 0, 1, type, 0, 0, 0]);
  mld.set(parseIpv6Address(group), 12);
  const c = transportChecksum(src, dst, 58, mld);
  mld[2] = c >> 8;
  mld[3] = c & 0xff;
  const f = new Uint8Array(14 + 40 + 8 + mld.length);
  f.set([0x33, 0x33, 0, 0, 0, 0x16, ...HOST1_MAC, 0x86, 0xdd]);
  f.set([0x60, 0, 0, 0, 0, 8 + mld.length, 0, 1], 14);
  f.set(src, 22);
  f.set(dst, 38);
  f.set([58, 0, 5, 2, 0, 0, 1, 0], 54);
  f.set(mld, 62);
  return f;
}

/** A hop-by-hop header with MLD's router alert, or with PadN alone (no alert), in front of ICMPv6. */
export const HBH_ROUTER_ALERT = [58, 0, 5, 2, 0, 0, 1, 0];
export const HBH_PADN_ONLY = [58, 0, 1, 4, 0, 0, 0, 0];

/**
 * An MLDv1 message of `type` (131 report, 132 done) for `group` from fe80::`host`, checksummed, behind
 * `hbh` (a hop-by-hop header, the router alert unless given; null for none): a report goes to the group, a
 * done to ff02::2.
 */
export function mldv1(
  type: number,
  group: string,
  hbh: number[] | null = HBH_ROUTER_ALERT,
  host = 1,
): Uint8Array {
  const src = parseIpv6Address(`fe80::${host}`);
  const dst = parseIpv6Address(type === 132 ? "ff02::2" : group);
  const mld = new Uint8Array(24);
  mld[0] = type;
  mld.set(parseIpv6Address(group), 8);
  const c = transportChecksum(src, dst, 58, mld);
  mld[2] = c >> 8;
  mld[3] = c & 0xff;
  const ext = hbh ?? [];
  const f = new Uint8Array(14 + 40 + ext.length + mld.length);
  f.set([0x33, 0x33, ...dst.subarray(12), 2, 0, 0, 0, 0, host, 0x86, 0xdd]);
  f.set([0x60, 0, 0, 0, 0, ext.length + mld.length, hbh === null ? 58 : 0, 1], 14);
  f.set(src, 22);
  f.set(dst, 38);
  f.set(ext, 54);
  f.set(mld, 54 + ext.length);
  return f;
}

/** A UDP datagram to the IPv6 `group`, its payload length field set to `payloadLength` (12 when true). */
export function udp6ToGroup(group: string, payloadLength = 12): Uint8Array {
  const g = parseIpv6Address(group);
  const f = new Uint8Array(14 + 40 + 12);
  f.set([0x33, 0x33, ...g.subarray(12), 2, 0, 0, 0, 0, 1, 0x86, 0xdd]);
  f.set([0x60, 0, 0, 0, payloadLength >> 8, payloadLength & 0xff, 17, 64], 14);
  f.set(parseIpv6Address("fe80::1"), 22);
  f.set(g, 38);
  f.set([0x0f, 0xa0, 0x13, 0x88, 0, 12, 0, 0], 54);
  return f;
}

/** An IGMPv3 report to 224.0.0.22 from 02:00:00:00:00:01 with `records` (type, group, sources). */
export function igmpv3(records: [number, number[], number][]): Uint8Array {
  const body: number[] = [0x22, 0, 0, 0, 0, 0, 0, records.length];
  for (const [type, group, nsrc] of records) {
    body.push(type, 0, 0, nsrc, ...group);
    for (let i = 0; i < nsrc; i++) body.push(10, 0, 0, i + 1);
  }
  const f = new Uint8Array(14 + 20 + body.length);
  f.set([1, 0, 0x5e, 0, 0, 22, ...HOST1_MAC, 8, 0]);
  f.set([0x45, 0, 0, 20 + body.length, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 2, 224, 0, 0, 22], 14);
  const c = internetChecksum(f, 14, 20);
  f[24] = c >> 8;
  f[25] = c & 0xff;
  f.set(body, 34);
  const d = internetChecksum(f, 34, body.length);
  f[36] = d >> 8;
  f[37] = d & 0xff;
  return f;
}
