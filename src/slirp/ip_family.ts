/**
 * What differs between IPv4 and IPv6 where the slirp's steps are otherwise
 * the same (building a packet to the guest, asking whether the guest may
 * reach an address), as one descriptor a family, so those steps are
 * written once.
 *
 * Theory of operation. A packet towards the guest is built back to front
 * in a buffer with room for the Ethernet header: the upper-layer message at
 * `ETH_HLEN + hlen`, then the fixed IP header, then `send` (MAC and
 * fragmentation are ip_output.ts's). The families differ in the header's
 * length and writer, where the addresses sit (the pseudo-header of UDP and
 * ICMPv6 checksums), what MAX_IP counts (IPv4's total length includes the
 * header, IPv6's payload length does not), and how an address is held
 * (IPv4: a number; IPv6: 16 bytes). The two descriptors are made once at
 * load; nothing here allocates per packet. `send` reads the destination
 * from the header just written, so a caller's address may be a view into
 * the very buffer it builds in. `mayReach` reads the address where the
 * packet holds it, so input code passes offsets and copies nothing.
 */
import { ETH_HLEN } from "../wire/ethernet.ts";
import { readU32 } from "../wire/bytes.ts";
import { IPV4_HLEN, writeIpv4 } from "../wire/ipv4.ts";
import { IPV6_HLEN, ipv6Equal, writeIpv6Header } from "../wire/ipv6.ts";
import { MAX_IP } from "./iface.ts";
import type { Iface } from "./iface.ts";
import type { IpOutput } from "./ip_output.ts";

/** One IP family's part in building a packet; `A` is how it holds an address. */
export interface IpFamily<A> {
  readonly family: 4 | 6;
  /** Length of the fixed header. */
  readonly hlen: number;
  /** The largest upper-layer message a packet may carry. */
  readonly maxPayload: number;
  /** Offsets of the source and destination addresses in the header. */
  readonly srcAt: number;
  readonly dstAt: number;
  /** Length of an address, as the checksum writers take it. */
  readonly addrLen: 4 | 16;
  /** Writes the fixed header at `b[io]` for a `payloadLen`-byte message of `proto`, hop limit 64. */
  writeHeader(
    out: IpOutput,
    b: Uint8Array,
    io: number,
    payloadLen: number,
    proto: number,
    src: A,
    dst: A,
  ): void;
  /** Sends the frame `b[e, e+len)` to the destination its IP header names. */
  send(out: IpOutput, b: Uint8Array, e: number, len: number): void;
  /** Whether the guest may reach the address at `b[at]` (iface.ts's policy). */
  mayReach(iface: Iface, b: Uint8Array, at: number): boolean;
  /** Whether the address at `b[at]` is the gateway's (the host's loopback to the guest). */
  isGateway(iface: Iface, b: Uint8Array, at: number): boolean;
}

export const IPV4: IpFamily<number> = {
  family: 4,
  hlen: IPV4_HLEN,
  maxPayload: MAX_IP - IPV4_HLEN,
  srcAt: 12,
  dstAt: 16,
  addrLen: 4,
  writeHeader(out, b, io, payloadLen, proto, src, dst) {
    writeIpv4(b, io, IPV4_HLEN + payloadLen, out.nextId(), 0, 64, proto, src, dst);
  },
  send(out, b, e, len) {
    out.send4(b, e, len, readU32(b, e + ETH_HLEN + 16));
  },
  mayReach(iface, b, at) {
    return iface.mayReach4(readU32(b, at));
  },
  isGateway(iface, b, at) {
    return readU32(b, at) === iface.config.gateway;
  },
};

export const IPV6: IpFamily<Uint8Array> = {
  family: 6,
  hlen: IPV6_HLEN,
  maxPayload: MAX_IP,
  srcAt: 8,
  dstAt: 24,
  addrLen: 16,
  writeHeader(_out, b, io, payloadLen, proto, src, dst) {
    writeIpv6Header(b, io, payloadLen, proto, 64, src, dst);
  },
  send(out, b, e, len) {
    out.send6(b, e, len, b, e + ETH_HLEN + 24);
  },
  mayReach(iface, b, at) {
    return iface.mayReach6(b, at);
  },
  isGateway(iface, b, at) {
    return ipv6Equal(b, at, iface.config.gateway6, 0) || ipv6Equal(b, at, iface.linkLocal, 0);
  },
};
