/**
 * ARP for IPv4 over Ethernet (RFC 826): the only kind the slirp stack
 * speaks. `parseArp` checks the hardware and protocol types and lengths
 * before reading a field; `writeArp` builds a 28-byte packet in place,
 * `writeArpRequestFrame` a whole broadcast request.
 */
import { readU32, writeU32 } from "./bytes.ts";
import { ETH_HLEN, writeEthernetHeader } from "./ethernet.ts";
import type { ParseError } from "./parse.ts";

/** Ethertype of ARP. */
export const ETH_P_ARP = 0x0806;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;
/** ARP request opcode. */
export const ARP_REQUEST = 1;
/** ARP reply opcode. */
export const ARP_REPLY = 2;

/** A checked Ethernet/IPv4 ARP packet. */
export interface ArpPacket {
  op: number;
  /** Offset of the sender MAC in the buffer. */
  senderMacOffset: number;
  /** Sender IPv4 address. */
  senderIp: number;
  /** Offset of the target MAC in the buffer. */
  targetMacOffset: number;
  /** Target IPv4 address. */
  targetIp: number;
}

/** A zeroed record to reuse with `parseArp`. */
export function newArpPacket(): ArpPacket {
  return { op: 0, senderMacOffset: 0, senderIp: 0, targetMacOffset: 0, targetIp: 0 };
}

/**
 * Checks the ARP packet at `b[off, off+len)` and fills `a`.
 *
 * @returns null when it is an Ethernet/IPv4 request or reply, else why not
 */
export function parseArp(b: Uint8Array, off: number, len: number, a: ArpPacket): ParseError | null {
  if (off < 0 || len < ARP_LEN || off + len > b.length) return "shorter than an ARP packet";
  if (((b[off]! << 8) | b[off + 1]!) !== 1) return "hardware type is not Ethernet";
  if (((b[off + 2]! << 8) | b[off + 3]!) !== 0x0800) return "protocol type is not IPv4";
  if (b[off + 4] !== 6 || b[off + 5] !== 4) return "address lengths are not 6 and 4";
  const op = (b[off + 6]! << 8) | b[off + 7]!;
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return `unknown opcode ${op}`;
  a.op = op;
  a.senderMacOffset = off + 8;
  a.senderIp = readU32(b, off + 14);
  a.targetMacOffset = off + 18;
  a.targetIp = readU32(b, off + 24);
  return null;
}

/** Writes a 28-byte ARP packet at `b[off]`. */
export function writeArp(
  b: Uint8Array,
  off: number,
  op: number,
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
): void {
  b[off] = 0;
  b[off + 1] = 1;
  b[off + 2] = 0x08;
  b[off + 3] = 0;
  b[off + 4] = 6;
  b[off + 5] = 4;
  b[off + 6] = 0;
  b[off + 7] = op;
  b.set(senderMac.subarray(0, 6), off + 8);
  writeU32(b, off + 14, senderIp);
  b.set(targetMac.subarray(0, 6), off + 18);
  writeU32(b, off + 24, targetIp);
}

const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZERO_MAC = new Uint8Array(6);

/**
 * Writes a broadcast ARP request frame at `b[0]` from `mac` (Ethernet and
 * ARP sender) asking for `targetIp`; a `senderIp` of 0 makes it an RFC 5227
 * probe. Returns its length.
 */
export function writeArpRequestFrame(
  b: Uint8Array,
  mac: Uint8Array,
  senderIp: number,
  targetIp: number,
): number {
  writeEthernetHeader(b, 0, BROADCAST_MAC, 0, mac, ETH_P_ARP);
  writeArp(b, ETH_HLEN, ARP_REQUEST, mac, senderIp, ZERO_MAC, targetIp);
  return ETH_HLEN + ARP_LEN;
}
