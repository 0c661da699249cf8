/**
 * Where an Ethernet frame's IP source address lies: vde_plug's `-L`
 * (iplog) logs each new address a cable's far side sends from, with its
 * VLAN. Pure parsing: one untagged or 802.1Q-tagged frame in, the family,
 * the address's offset and the VLAN out, written into a caller's record
 * so a frame costs no allocation. Every length is checked first; a frame
 * too short, or not IPv4/IPv6, is no answer, never an error.
 */
import { ETH_HLEN, ETH_P_8021Q, VLAN_ETH_HLEN } from "./ethernet.ts";
import { ETH_P_IP } from "./ipv4.ts";
import { ETH_P_IPV6 } from "./ipv6.ts";

/** The answer of `ipSourceOf`: valid only after it returned true. */
export interface IpSource {
  /** 4 or 6. */
  family: 4 | 6;
  /** Offset of the source address in the frame (4 or 16 bytes long). */
  offset: number;
  /** The 802.1Q VLAN id, 0 for an untagged frame (as vde_plug says it). */
  vlan: number;
}

/** Offset of the source address inside an IPv4 header, and inside an IPv6 one. */
const V4_SRC = 12;
const V6_SRC = 8;

/**
 * Fills `out` with where `frame`'s IP source address is.
 *
 * @returns false when the frame carries no whole IPv4 or IPv6 source address
 */
export function ipSourceOf(frame: Uint8Array, out: IpSource): boolean {
  if (frame.length < ETH_HLEN) return false;
  let type = (frame[12]! << 8) | frame[13]!;
  let ip = ETH_HLEN;
  out.vlan = 0;
  if (type === ETH_P_8021Q) {
    if (frame.length < VLAN_ETH_HLEN) return false;
    out.vlan = ((frame[14]! << 8) | frame[15]!) & 0xfff;
    type = (frame[16]! << 8) | frame[17]!;
    ip = VLAN_ETH_HLEN;
  }
  const version = ip < frame.length ? frame[ip]! >> 4 : 0;
  if (type === ETH_P_IP && version === 4 && frame.length >= ip + V4_SRC + 4) {
    out.family = 4;
    out.offset = ip + V4_SRC;
    return true;
  }
  if (type === ETH_P_IPV6 && version === 6 && frame.length >= ip + V6_SRC + 16) {
    out.family = 6;
    out.offset = ip + V6_SRC;
    return true;
  }
  return false;
}
