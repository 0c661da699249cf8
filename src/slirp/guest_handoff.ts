/**
 * The steps of IP input that are the same for IPv4 and IPv6 once a packet
 * is checked and its addresses found: a guest's TCP segment goes to the
 * engine (or is refused with a RST when the guest may not reach the
 * address), an echo request for the outside goes to the ping NAT (or is
 * dropped when the host allows no ping socket or the address is out of
 * reach).
 *
 * Theory of operation. The family inputs (ipv4_input.ts, ipv6_input.ts)
 * decide what differs before this: whether the source may talk at all,
 * whether the destination is one of ours. The addresses are passed as
 * offsets into the packet's own buffer, where both families' headers hold
 * them, and the family descriptor (ip_family.ts) reads them there, so
 * nothing is copied; the only objects made are the views the TCP engine
 * has always taken.
 */
import type { Iface } from "./iface.ts";
import type { IpFamily } from "./ip_family.ts";
import type { Ipv4Parts } from "./ipv4_input.ts";

/** Gives the TCP segment `b[off, off+len)` from the address at `b[srcAt]` to the one at `b[dstAt]` to the engine. */
export function tcpFromGuest(
  f: IpFamily<unknown>,
  p: Pick<Ipv4Parts, "tcp" | "refuseTcp">,
  iface: Iface,
  b: Uint8Array,
  srcAt: number,
  dstAt: number,
  off: number,
  len: number,
): void {
  iface.stats.tcpIn++;
  const srcV = b.subarray(srcAt, srcAt + f.addrLen);
  const dstV = b.subarray(dstAt, dstAt + f.addrLen);
  const seg = b.subarray(off, off + len);
  // The gateway is the host's loopback. With that off (disable_host_loopback) the engine refuses
  // a guest's new connection there itself; a segment of an inbound forward's connection, whose
  // client on the host's loopback the guest sees as the gateway, must still reach it.
  if (!f.mayReach(iface, b, dstAt) && !f.isGateway(iface, b, dstAt)) {
    p.refuseTcp(srcV, dstV, seg);
    return;
  }
  p.tcp.input(srcV, dstV, seg);
}

/**
 * Sends the echo request `b[off, off+len)` (identifier `id`) of the packet
 * at `b[ipOff]` out through a ping socket; a send the host refuses is told
 * to the guest.
 */
export function echoOutside(
  f: IpFamily<unknown>,
  p: Pick<Ipv4Parts, "ping" | "icmp">,
  iface: Iface,
  b: Uint8Array,
  srcAt: number,
  dstAt: number,
  id: number,
  off: number,
  len: number,
  ipOff: number,
): void {
  const family = f.family;
  if (!iface.pingAllowed[family]) {
    iface.noPingSockets();
    iface.stats.icmpDropped++;
    return;
  }
  if (!f.mayReach(iface, b, dstAt)) {
    iface.stats.icmpDropped++;
    return;
  }
  const err = p.ping.send(family, b, srcAt, id, b, off, len, b, dstAt);
  if (err !== 0) p.icmp.sendFailed(family, err, b, ipOff, off + len - ipOff);
}
