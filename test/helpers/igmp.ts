/** IGMPv2 messages as a host sends them, for snooping tests. */
import { internetChecksum } from "../../src/wire/checksum.ts";
import { tagOf } from "./vde_clients.ts";

/** An IGMPv2 message of `type` (0x16 report, 0x17 leave) for `group` (a.b.c.d as numbers), from 10.0.0.`host`. */
export function igmp(type: number, group: number[], host = 2): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8);
  f.set([1, 0, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!, 2, 0, 0, 0, 0, host, 8, 0], 0);
  const ip = f.subarray(14, 34);
  ip.set([0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, host, ...group]);
  const c = internetChecksum(ip, 0, 20);
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  const m = f.subarray(34);
  m.set([type, 0, 0, 0, ...group]);
  const d = internetChecksum(m, 0, 8);
  m[2] = d >> 8;
  m[3] = d & 0xff;
  return f;
}

/** A UDP datagram to `group` (a.b.c.d) from `src` (10.0.0.1) as an Ethernet frame, carrying `tag` in its payload. */
export function udpToGroup(group: number[], tag: number, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(60);
  f.set([1, 0, 0x5e, group[1]! & 0x7f, group[2]!, group[3]!, ...src, 8, 0], 0);
  f.set([0x45, 0, 0, 46, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 1, ...group], 14);
  new DataView(f.buffer).setUint32(42, tag);
  return f;
}

/** The tags of what a link was sent: a test frame's (tagOf), or a `udpToGroup` datagram's. */
export function tagsSent(link: { sent: Uint8Array[] }): number[] {
  return link.sent.map((f) =>
    f[12] === 8 && f[13] === 0 && f.length >= 46 ? new DataView(f.buffer).getUint32(42) : tagOf(f)
  );
}
