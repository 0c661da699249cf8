/**
 * Spanning tree BPDUs (IEEE 802.1D-2004 clause 9): the 802.1D configuration
 * and topology change notification BPDUs and the RST BPDU, in the frames a
 * Linux bridge reads and writes.
 *
 * Theory of operation. A BPDU travels in an untagged 802.3 frame to the
 * bridge group address 01:80:c2:00:00:00: the type/length field holds the
 * length of what follows (LLC + BPDU), then LLC `42 42 03`, then the BPDU.
 * The frame is padded to 60 bytes. Bridge identifiers are 8 bytes (priority,
 * MAC) and are carried here as the kernel prints them, `8000.020000000001`:
 * fixed-width hex, so comparing the strings compares the identifiers. Times
 * stay in the wire's unit, 1/256 s.
 *
 * `parseBpdu` validates as 802.1D-2004 9.3.4 says (protocol id 0, a config
 * BPDU of 35 bytes or more with message age below max age, a TCN of 4, an
 * RST BPDU of version 2 or more and 36 bytes) and also refuses timers no
 * bridge can mean (zero max age, hello or forward delay). It returns the
 * reason (parse.ts) instead of throwing: every BPDU off the wire is hostile.
 * It allocates the record it returns; BPDUs come a few a second, never on
 * the data path.
 *
 * vde_switch's FSTP (`-F`) sends RST BPDUs of its own dialect: the usual
 * frame (53 bytes, unpadded; with an 802.1Q tag on a tagged port, one tree
 * per VLAN), but its timers little-endian in whole seconds (hello 4, max age
 * 40, message age the seconds since it last heard its root) and a forward
 * delay of 0, which no standard bridge sends (4 to 30 s) and which marks the
 * dialect here (`fstp`). Its role code differs too: 01 root port, 11
 * designated, 10 a port it holds discarding (`FstpRole`); the translation to
 * the standard's meaning is the protocol machine's business, not the wire's.
 */
import { ETH_HLEN } from "./ethernet.ts";
import { fail, type Parsed, parsed } from "./parse.ts";

/** The bridge group address every BPDU is sent to. */
export const STP_GROUP_MAC = "01:80:c2:00:00:00";

/** Flags of config and RST BPDUs (802.1D-2004 9.3.3). */
export const BpduFlag = {
  TopologyChange: 0x01,
  Proposal: 0x02,
  RoleMask: 0x0c,
  Learning: 0x10,
  Forwarding: 0x20,
  Agreement: 0x40,
  TopologyChangeAck: 0x80,
} as const;

/** The port role encoded in an RST BPDU's flags (bits 2-3). */
export const BpduRole = { Unknown: 0, AlternateBackup: 1, Root: 2, Designated: 3 } as const;

/** The port role in vde_switch's FSTP BPDUs (bits 2-3 of the flags), where its sender puts it. */
export const FstpRole = { Root: 1, Discarding: 2, Designated: 3 } as const;

/** One BPDU's fields; the times are in 1/256 s. */
export interface Bpdu {
  kind: "config" | "tcn" | "rst";
  /** An RST BPDU in vde_switch's FSTP dialect (forward delay 0; times read little-endian). */
  fstp?: boolean;
  /** The VLAN of an 802.1Q-tagged BPDU (FSTP's tree of that VLAN); absent when untagged or priority-tagged. */
  vlan?: number;
  version: number;
  /** Flags byte (0 for a TCN). A config BPDU carries only TC and TCA. */
  flags: number;
  rootId: string;
  rootPathCost: number;
  bridgeId: string;
  portId: number;
  messageAge: number;
  maxAge: number;
  helloTime: number;
  forwardDelay: number;
}

const LLC_LEN = 3;
const CONFIG_LEN = 35;
const TCN_LEN = 4;
const RST_LEN = 36;
const FRAME_MIN = 60;

/** True when the frame's destination is 01:80:c2:00:00:00 (checks the length first). */
export function isBpduDestination(frame: Uint8Array): boolean {
  return frame.length >= 6 && frame[0] === 0x01 && frame[1] === 0x80 && frame[2] === 0xc2 &&
    frame[3] === 0 && frame[4] === 0 && frame[5] === 0;
}

/**
 * Reads the BPDU in a frame sent to the bridge group address; one with an
 * 802.1Q tag (FSTP's BPDU for a VLAN) is read without it, its VLAN in `vlan`.
 *
 * @returns the BPDU, or why it is not a valid one
 */
export function parseBpdu(frame: Uint8Array): Parsed<Bpdu> {
  if (frame.length >= ETH_HLEN + 4 && frame[12] === 0x81 && frame[13] === 0x00) {
    // Tagged (FSTP's BPDU for one VLAN): the BPDU of the frame without its tag.
    const untagged = new Uint8Array(frame.length - 4);
    untagged.set(frame.subarray(0, 12));
    untagged.set(frame.subarray(16), 12);
    const result = parseUntagged(untagged);
    const vid = ((frame[14]! << 8) | frame[15]!) & 0xfff;
    // VLAN 0 is a priority tag, no VLAN: the Linux bridge and vde_switch take it for the untagged tree.
    if (result.ok && vid !== 0) result.value.vlan = vid;
    return result;
  }
  return parseUntagged(frame);
}

function parseUntagged(frame: Uint8Array): Parsed<Bpdu> {
  if (frame.length < ETH_HLEN + LLC_LEN + TCN_LEN) return fail("frame too short for a BPDU");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = view.getUint16(12);
  if (length > 1500) return fail(`type/length field 0x${length.toString(16)} is not an 802.3 length`);
  if (length > frame.length - ETH_HLEN) return fail(`802.3 length ${length} exceeds the frame`);
  if (length < LLC_LEN + TCN_LEN) return fail(`802.3 length ${length} too short for a BPDU`);
  if (frame[14] !== 0x42 || frame[15] !== 0x42 || frame[16] !== 0x03) {
    return fail("LLC header is not 42 42 03");
  }
  const size = length - LLC_LEN;
  const at = ETH_HLEN + LLC_LEN;
  if (view.getUint16(at) !== 0) return fail("protocol identifier is not 0");
  const version = frame[at + 2]!;
  const type = frame[at + 3]!;
  if (type === 0x80) {
    return parsed({ ...EMPTY_TCN, version });
  }
  let kind: "config" | "rst";
  if (type === 0x00) {
    if (size < CONFIG_LEN) return fail(`config BPDU of ${size} bytes (needs ${CONFIG_LEN})`);
    kind = "config";
  } else if (type === 0x02) {
    if (version < 2) return fail(`RST BPDU with version ${version}`);
    if (size < RST_LEN) return fail(`RST BPDU of ${size} bytes (needs ${RST_LEN})`);
    kind = "rst";
  } else {
    return fail(`unknown BPDU type 0x${type.toString(16)}`);
  }
  const flags = frame[at + 4]!;
  // FSTP's mark: a zero forward delay, its timers in seconds, little-endian (see the header).
  const fstp = kind === "rst" && view.getUint16(at + 33) === 0;
  const time = (offset: number) =>
    fstp ? view.getUint16(at + offset, true) * 256 : view.getUint16(at + offset);
  const bpdu: Bpdu = {
    kind,
    version,
    flags: kind === "config" ? flags & (BpduFlag.TopologyChange | BpduFlag.TopologyChangeAck) : flags,
    rootId: readBridgeId(frame, at + 5),
    rootPathCost: view.getUint32(at + 13),
    bridgeId: readBridgeId(frame, at + 17),
    portId: view.getUint16(at + 25),
    messageAge: time(27),
    maxAge: time(29),
    helloTime: time(31),
    forwardDelay: time(33),
  };
  if (fstp) bpdu.fstp = true;
  if (bpdu.maxAge === 0 || bpdu.helloTime === 0 || (bpdu.forwardDelay === 0 && !fstp)) {
    return fail("zero timer in BPDU");
  }
  // The standard's field holds under 256 s; FSTP's seconds hold 65535 (vde_switch sends 4 and 40).
  // Taking more would keep a quiet sender's claim 3 hellos, up to 54 hours, and pass on times that
  // do not fit our own BPDUs: refused, as the standard's form cannot even say it.
  if (fstp && (bpdu.maxAge > 0xffff || bpdu.helloTime > 0xffff)) return fail("FSTP timer of 256 s or more");
  if (bpdu.messageAge >= bpdu.maxAge) return fail("message age not below max age");
  return parsed(bpdu);
}

const EMPTY_TCN: Bpdu = {
  kind: "tcn",
  version: 0,
  flags: 0,
  rootId: "",
  rootPathCost: 0,
  bridgeId: "",
  portId: 0,
  messageAge: 0,
  maxAge: 0,
  helloTime: 0,
  forwardDelay: 0,
};

/**
 * Builds the 60-byte frame carrying `bpdu` from `srcMac` (6 bytes). A config
 * BPDU is sent as version 0, an RST BPDU as version 2, a TCN as 4 bytes.
 */
export function buildBpdu(bpdu: Bpdu, srcMac: Uint8Array): Uint8Array {
  const size = bpdu.kind === "tcn" ? TCN_LEN : bpdu.kind === "config" ? CONFIG_LEN : RST_LEN;
  const frame = new Uint8Array(FRAME_MIN);
  const view = new DataView(frame.buffer);
  frame.set([0x01, 0x80, 0xc2, 0, 0, 0]);
  frame.set(srcMac.subarray(0, 6), 6);
  view.setUint16(12, LLC_LEN + size);
  frame.set([0x42, 0x42, 0x03], 14);
  const at = ETH_HLEN + LLC_LEN;
  frame[at + 2] = bpdu.kind === "rst" ? 2 : 0;
  frame[at + 3] = bpdu.kind === "tcn" ? 0x80 : bpdu.kind === "config" ? 0x00 : 0x02;
  if (bpdu.kind === "tcn") return frame;
  frame[at + 4] = bpdu.flags;
  writeBridgeId(frame, at + 5, bpdu.rootId);
  view.setUint32(at + 13, bpdu.rootPathCost >>> 0);
  writeBridgeId(frame, at + 17, bpdu.bridgeId);
  view.setUint16(at + 25, bpdu.portId);
  view.setUint16(at + 27, bpdu.messageAge);
  view.setUint16(at + 29, bpdu.maxAge);
  view.setUint16(at + 31, bpdu.helloTime);
  view.setUint16(at + 33, bpdu.forwardDelay);
  // Version 1 length (0) at at + 35 is already zero for an RST BPDU.
  return frame;
}

function readBridgeId(frame: Uint8Array, at: number): string {
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === 2) text += ".";
    text += frame[at + i]!.toString(16).padStart(2, "0");
  }
  return text;
}

function writeBridgeId(frame: Uint8Array, at: number, id: string): void {
  const hex = id.replace(".", "");
  for (let i = 0; i < 8; i++) frame[at + i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16) || 0;
}

/** The bridge id `pppp.mmmmmmmmmmmm` of a priority (0..65535) and a MAC (6 bytes). */
export function bridgeId(priority: number, mac: Uint8Array): string {
  const hex = (b: number) => b.toString(16).padStart(2, "0");
  return `${hex(priority >> 8)}${hex(priority & 0xff)}.${Array.from(mac.subarray(0, 6), hex).join("")}`;
}
