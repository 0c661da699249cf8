/**
 * Ethernet II frames as VDE carries them: destination MAC, source MAC,
 * type/length, payload, no FCS (spec section 1.6).
 *
 * The readers here serve the switch's hot path, so they allocate nothing: a
 * MAC is read as two numbers, the top 16 bits and the low 32 bits, which
 * together key the learning table. Every reader checks the frame's length
 * first and answers -1 (or false) for a frame too short to hold the field,
 * because every frame is hostile.
 */
import { fail, type Parsed, parsed } from "./parse.ts";

/** Length of the Ethernet header: two MACs and the type/length field. */
export const ETH_HLEN = 14;
/** Length of one MAC address. */
export const ETH_ALEN = 6;
/** Largest frame on a VDE stream: 9216-byte MTU + 14 header + 4 VLAN tag. */
export const VDE_MAX_FRAME = 9234;
/**
 * Shortest frame: an Ethernet header and no payload, the least the switch
 * engine forwards. Every link drops (and counts) anything shorter on the way
 * in, whatever carried it, so all of them agree on what a frame is.
 */
export const MIN_FRAME = ETH_HLEN;

/** Whether `length` bytes can be a frame: from MIN_FRAME to VDE_MAX_FRAME. */
export function isFrameLength(length: number): boolean {
  return length >= MIN_FRAME && length <= VDE_MAX_FRAME;
}
/** Ethertype of an 802.1Q VLAN tag. */
export const ETH_P_8021Q = 0x8100;
/** Length of an 802.1Q-tagged header: the tag sits between source MAC and type. */
export const VLAN_ETH_HLEN = 18;
/** Offset of the destination MAC in a frame. */
export const DST_OFFSET = 0;
/** Offset of the source MAC in a frame. */
export const SRC_OFFSET = 6;

/**
 * Formats six bytes as a lower-case colon-separated MAC.
 *
 * @param bytes buffer holding the MAC
 * @param offset where the MAC starts
 * @returns text such as "02:00:00:00:00:01", or "" if fewer than six bytes remain
 * @example
 * ```ts
 * import { formatMac } from "./ethernet.ts";
 * const mac = formatMac(new Uint8Array([2, 0, 0, 0, 0, 0x1f]));
 * if (mac !== "02:00:00:00:00:1f") throw new Error(mac);
 * ```
 */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  if (offset < 0 || offset + ETH_ALEN > bytes.length) return "";
  let text = "";
  for (let i = 0; i < ETH_ALEN; i++) {
    if (i > 0) text += ":";
    text += bytes[offset + i]!.toString(16).padStart(2, "0");
  }
  return text;
}

/**
 * Formats a MAC held as the two numbers the readers below return.
 *
 * @param hi top 16 bits (bytes 0-1)
 * @param lo low 32 bits (bytes 2-5)
 * @returns lower-case colon-separated text
 */
export function formatMacNumbers(hi: number, lo: number): string {
  const bytes = new Uint8Array(ETH_ALEN);
  writeMacNumbers(bytes, 0, hi, lo);
  return formatMac(bytes);
}

/**
 * Writes a MAC held as two numbers into a buffer.
 *
 * @param target buffer with room for six bytes at `offset`
 * @param offset where to write
 * @param hi top 16 bits
 * @param lo low 32 bits
 */
export function writeMacNumbers(target: Uint8Array, offset: number, hi: number, lo: number): void {
  target[offset] = (hi >>> 8) & 0xff;
  target[offset + 1] = hi & 0xff;
  target[offset + 2] = (lo >>> 24) & 0xff;
  target[offset + 3] = (lo >>> 16) & 0xff;
  target[offset + 4] = (lo >>> 8) & 0xff;
  target[offset + 5] = lo & 0xff;
}

// One to two hex digits per byte, one separator used throughout, as
// vde_switch's --macaddr and hash/find accept.
const MAC_PATTERN =
  /^([0-9a-f]{1,2})([:.])([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})\2([0-9a-f]{1,2})$/i;

/**
 * Parses a MAC written `a:b:c:d:e:f` or `a.b.c.d.e.f` in hex, one or two
 * digits per byte.
 *
 * @param text the MAC as typed by a user
 * @returns the six bytes, or why the text is not a MAC (parse.ts)
 * @example
 * ```ts
 * import { parseMacText } from "./ethernet.ts";
 * const mac = parseMacText("2.0.0.0.0.a");
 * if (!mac.ok || mac.value[5] !== 10) throw new Error("not parsed");
 * ```
 */
export function parseMacText(text: string): Parsed<Uint8Array> {
  const m = MAC_PATTERN.exec(text.trim());
  if (m === null) return fail(`Expected a MAC such as 02:00:00:00:00:01, found "${text}"`);
  const groups = [m[1], m[3], m[4], m[5], m[6], m[7]];
  return parsed(new Uint8Array(groups.map((g) => parseInt(g!, 16))));
}

/**
 * Tells whether the MAC at `offset` is a group (multicast or broadcast)
 * address: bit 0 of its first byte.
 *
 * @param frame buffer holding the MAC
 * @param offset where the MAC starts (0 for destination, 6 for source)
 * @returns false also when the buffer does not hold a whole MAC there
 */
export function isMulticast(frame: Uint8Array, offset = DST_OFFSET): boolean {
  if (offset < 0 || offset + ETH_ALEN > frame.length) return false;
  return (frame[offset]! & 1) === 1;
}

/** Whether the destination MAC is ff:ff:ff:ff:ff:ff (false when the buffer does not hold one). */
export function isBroadcast(frame: Uint8Array): boolean {
  if (frame.length < ETH_ALEN) return false;
  for (let i = 0; i < ETH_ALEN; i++) if (frame[i] !== 0xff) return false;
  return true;
}

/**
 * Reads the top 16 bits (bytes 0-1) of the MAC at `offset`.
 *
 * @returns 0..0xffff, or -1 if the buffer does not hold a whole MAC there
 */
export function macHi(frame: Uint8Array, offset: number): number {
  if (offset < 0 || offset + ETH_ALEN > frame.length) return -1;
  return (frame[offset]! << 8) | frame[offset + 1]!;
}

/**
 * Reads the low 32 bits (bytes 2-5) of the MAC at `offset` as an unsigned
 * number.
 *
 * @returns 0..0xffffffff, or -1 if the buffer does not hold a whole MAC there
 */
export function macLo(frame: Uint8Array, offset: number): number {
  if (offset < 0 || offset + ETH_ALEN > frame.length) return -1;
  return ((frame[offset + 2]! << 24) | (frame[offset + 3]! << 16) | (frame[offset + 4]! << 8) |
    frame[offset + 5]!) >>> 0;
}

/** Top 16 bits of the destination MAC, or -1 for a frame shorter than 6 bytes. */
export function dstMacHi(frame: Uint8Array): number {
  return macHi(frame, DST_OFFSET);
}

/** Low 32 bits of the destination MAC, or -1 for a frame shorter than 6 bytes. */
export function dstMacLo(frame: Uint8Array): number {
  return macLo(frame, DST_OFFSET);
}

/** Top 16 bits of the source MAC, or -1 for a frame shorter than 12 bytes. */
export function srcMacHi(frame: Uint8Array): number {
  return macHi(frame, SRC_OFFSET);
}

/** Low 32 bits of the source MAC, or -1 for a frame shorter than 12 bytes. */
export function srcMacLo(frame: Uint8Array): number {
  return macLo(frame, SRC_OFFSET);
}

/**
 * Reads the type/length field at bytes 12-13 (0x8100 for a tagged frame).
 *
 * @returns the field, or -1 for a frame shorter than the Ethernet header
 */
export function etherType(frame: Uint8Array): number {
  if (frame.length < ETH_HLEN) return -1;
  return (frame[12]! << 8) | frame[13]!;
}

/**
 * Reads the VLAN id of an 802.1Q-tagged frame: the low 12 bits of the tag
 * control field (priority and DEI ignored, as vde_switch does).
 *
 * @returns 0..4095; -1 if the frame is untagged; -2 if it says it is tagged
 *   but is too short to hold the tag
 */
export function vlanId(frame: Uint8Array): number {
  if (frame.length < ETH_HLEN || ((frame[12]! << 8) | frame[13]!) !== ETH_P_8021Q) return -1;
  if (frame.length < VLAN_ETH_HLEN) return -2;
  return ((frame[14]! << 8) | frame[15]!) & 0x0fff;
}

/**
 * Writes `frame` with an 802.1Q tag for `vid` (priority 0) inserted after
 * the source MAC into `out`, as a switch does towards a tagged port.
 *
 * @param out buffer of at least `frame.length + 4` bytes
 * @param frame an untagged frame of at least ETH_HLEN bytes
 * @returns the tagged frame's length
 */
export function tagFrameInto(out: Uint8Array, frame: Uint8Array, vid: number): number {
  out.set(frame.subarray(0, 2 * ETH_ALEN), 0);
  writeVlanTag(out, vid);
  out.set(frame.subarray(2 * ETH_ALEN), VLAN_ETH_HLEN - 2);
  return frame.length + 4;
}

/** Writes an 802.1Q tag for `vid` (priority 0) after the two MACs of `out`. */
function writeVlanTag(out: Uint8Array, vid: number): void {
  out[12] = ETH_P_8021Q >>> 8;
  out[13] = ETH_P_8021Q & 0xff;
  out[14] = (vid >>> 8) & 0x0f;
  out[15] = vid & 0xff;
}

/**
 * Writes `frame` without its 802.1Q tag into `out`, as a switch does
 * towards the port whose untagged VLAN it is.
 *
 * @param out buffer of at least `frame.length - 4` bytes
 * @param frame a tagged frame of at least VLAN_ETH_HLEN bytes
 * @returns the untagged frame's length
 */
export function untagFrameInto(out: Uint8Array, frame: Uint8Array): number {
  out.set(frame.subarray(0, 2 * ETH_ALEN), 0);
  out.set(frame.subarray(VLAN_ETH_HLEN - 2), 2 * ETH_ALEN);
  return frame.length - 4;
}

/** What `buildFrame` puts in a frame. */
export interface FrameSpec {
  /** Destination MAC as text; broadcast if omitted. */
  dst?: string;
  /** Source MAC as text; 02:00:00:00:00:01 if omitted. */
  src?: string;
  /** Ethertype or 802.3 length; 0x0800 if omitted. */
  type?: number;
  /** 802.1Q VLAN id; the frame is untagged if omitted. */
  vlan?: number;
  /** Bytes after the header, or a total payload length to fill with zeros. */
  payload?: Uint8Array | number;
}

/**
 * Builds a frame from readable parts; meant for tests and tools, not the
 * data path.
 *
 * @throws Error if a MAC does not parse
 * @example
 * ```ts
 * import { buildFrame, vlanId } from "./ethernet.ts";
 * const frame = buildFrame({ dst: "02:00:00:00:00:02", vlan: 10, payload: 46 });
 * if (frame.length !== 64 || vlanId(frame) !== 10) throw new Error("bad frame");
 * ```
 */
export function buildFrame(spec: FrameSpec = {}): Uint8Array {
  const dst = macOrThrow(spec.dst ?? "ff:ff:ff:ff:ff:ff");
  const src = macOrThrow(spec.src ?? "02:00:00:00:00:01");
  const payload = typeof spec.payload === "number"
    ? new Uint8Array(spec.payload)
    : spec.payload ?? new Uint8Array(0);
  const tagged = spec.vlan !== undefined;
  const header = tagged ? VLAN_ETH_HLEN : ETH_HLEN;
  const frame = new Uint8Array(header + payload.length);
  frame.set(dst, 0);
  frame.set(src, SRC_OFFSET);
  let at = 12;
  if (tagged) {
    writeVlanTag(frame, spec.vlan!);
    at += 4;
  }
  const type = spec.type ?? 0x0800;
  frame[at++] = (type >>> 8) & 0xff;
  frame[at++] = type & 0xff;
  frame.set(payload, at);
  return frame;
}

function macOrThrow(text: string): Uint8Array {
  const mac = parseMacText(text);
  if (!mac.ok) throw new Error(mac.reason);
  return mac.value;
}

/**
 * Writes an Ethernet header at `b[off]`: destination `dst[dstOff..+6]`,
 * source `src`, type. The caller guarantees room (ETH_HLEN bytes).
 */
export function writeEthernetHeader(
  b: Uint8Array,
  off: number,
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  type: number,
): void {
  writeEthernetDestination(b, off, dst, dstOff);
  writeEthernetSource(b, off, src, type);
}

/**
 * Writes the source MAC and the type of the header at `b[off]`, leaving the
 * destination for when the next hop is known.
 */
export function writeEthernetSource(b: Uint8Array, off: number, src: Uint8Array, type: number): void {
  b[off + 6] = src[0]!;
  b[off + 7] = src[1]!;
  b[off + 8] = src[2]!;
  b[off + 9] = src[3]!;
  b[off + 10] = src[4]!;
  b[off + 11] = src[5]!;
  b[off + 12] = type >>> 8;
  b[off + 13] = type & 0xff;
}

/** Writes the destination MAC `mac[macOff..+6]` of the header at `b[off]`. */
export function writeEthernetDestination(b: Uint8Array, off: number, mac: Uint8Array, macOff = 0): void {
  b[off] = mac[macOff]!;
  b[off + 1] = mac[macOff + 1]!;
  b[off + 2] = mac[macOff + 2]!;
  b[off + 3] = mac[macOff + 3]!;
  b[off + 4] = mac[macOff + 4]!;
  b[off + 5] = mac[macOff + 5]!;
}

/**
 * Writes the destination MAC that carries the IPv6 multicast address at
 * `addr[addrOff]` (33:33 and its last four bytes, RFC 2464 section 7).
 */
export function writeIpv6MulticastDestination(
  b: Uint8Array,
  off: number,
  addr: Uint8Array,
  addrOff = 0,
): void {
  b[off] = 0x33;
  b[off + 1] = 0x33;
  b[off + 2] = addr[addrOff + 12]!;
  b[off + 3] = addr[addrOff + 13]!;
  b[off + 4] = addr[addrOff + 14]!;
  b[off + 5] = addr[addrOff + 15]!;
}

/** True when the MAC at `b[off]` equals `mac`; the caller guarantees six bytes at `off`. */
export function macEquals(b: Uint8Array, off: number, mac: Uint8Array): boolean {
  return b[off] === mac[0] && b[off + 1] === mac[1] && b[off + 2] === mac[2] && b[off + 3] === mac[3] &&
    b[off + 4] === mac[4] && b[off + 5] === mac[5];
}
