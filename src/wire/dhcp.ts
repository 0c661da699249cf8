/**
 * DHCP (RFC 2131/2132) messages: the BOOTP fixed part, the magic cookie and
 * the options. `parseDhcp` checks every option's length against the bytes
 * there (an option that runs past the end refuses the whole message) and
 * keeps the options as copies keyed by code, the pieces of a repeated code
 * joined; its cost is linear in the message with a small constant (at most
 * {@link MAX_DHCP_OPTIONS} options). `buildDhcp` encodes a reply.
 */
import { concatBytes, readU32, writeU32 } from "./bytes.ts";
import { fail, type Parsed, parsed } from "./parse.ts";
import { encodeDnsName } from "./dns.ts";

/** Length of the BOOTP fixed part. */
export const BOOTP_FIXED = 236;
/** The magic cookie that starts the options (99.130.83.99). */
export const DHCP_MAGIC = 0x63825363;
/** Server and client UDP ports. */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/**
 * Options (not counting pads) in one message before it is refused (as many as there are codes): real
 * clients send a dozen or two; the bound keeps the cost of a message full of
 * tiny repeated options near that of an ordinary one.
 */
export const MAX_DHCP_OPTIONS = 255;
/** DHCP message types (option 53). */
export const DHCP_MSG = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
/** Option codes used here. */
export const DHCP_OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  MTU: 26,
  BROADCAST: 28,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  DOMAIN_SEARCH: 119,
  END: 255,
} as const;

/** A checked DHCP message. */
export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** The 16-byte client hardware address field (the MAC is its first `hlen` bytes). */
  chaddr: Uint8Array;
  /** Options by code; a code given twice has its parts concatenated (RFC 3396). */
  options: Map<number, Uint8Array>;
  /** Option 53, or 0 for plain BOOTP. */
  messageType: number;
}

/**
 * Parses the DHCP message at `b[off, off+len)` (a UDP payload).
 *
 * @returns the message, or why it is not one (parse.ts)
 */
export function parseDhcp(b: Uint8Array, off = 0, len = b.length - off): Parsed<DhcpMessage> {
  if (off < 0 || len < BOOTP_FIXED || off + len > b.length) return fail("shorter than a BOOTP message");
  const hlen = b[off + 2]!;
  if (hlen > 16) return fail("hardware address length over 16");
  const m: DhcpMessage = {
    op: b[off]!,
    htype: b[off + 1]!,
    hlen,
    hops: b[off + 3]!,
    xid: readU32(b, off + 4),
    secs: (b[off + 8]! << 8) | b[off + 9]!,
    flags: (b[off + 10]! << 8) | b[off + 11]!,
    ciaddr: readU32(b, off + 12),
    yiaddr: readU32(b, off + 16),
    siaddr: readU32(b, off + 20),
    giaddr: readU32(b, off + 24),
    chaddr: b.slice(off + 28, off + 44),
    options: new Map(),
    messageType: 0,
  };
  const end = off + len;
  let at = off + BOOTP_FIXED;
  if (at + 4 > end) return parsed(m);
  if (readU32(b, at) !== DHCP_MAGIC) return fail("bad magic cookie");
  at += 4;
  // Two walks, so that a code repeated many times (RFC 3396 splits one long
  // value into pieces) costs one copy of its bytes, not one per piece: the
  // first checks every length and adds up each code's bytes, the second
  // copies each piece once into its code's buffer.
  const total = new Int32Array(256).fill(-1);
  let count = 0;
  let ended = false;
  while (at < end) {
    const code = b[at]!;
    if (code === DHCP_OPT.PAD) {
      at++;
      continue;
    }
    if (code === DHCP_OPT.END) {
      ended = true;
      break;
    }
    if (at + 2 > end) return fail(`option ${code} cut short`);
    const l = b[at + 1]!;
    if (at + 2 + l > end) return fail(`option ${code} length ${l} runs past the end`);
    if (++count > MAX_DHCP_OPTIONS) return fail(`more than ${MAX_DHCP_OPTIONS} options`);
    total[code] = Math.max(total[code]!, 0) + l;
    at += 2 + l;
  }
  if (!ended && count > 0) return fail("options without an end marker");
  // One buffer for all values (one allocation, however many codes), each code a view of its part.
  const fill = new Int32Array(256);
  let bytes = 0;
  for (let code = 0; code < 256; code++) {
    if (total[code]! < 0) continue;
    fill[code] = bytes;
    bytes += total[code]!;
  }
  const all = new Uint8Array(bytes);
  for (let p = off + BOOTP_FIXED + 4; p < at;) {
    const code = b[p]!;
    if (code === DHCP_OPT.PAD) {
      p++;
      continue;
    }
    const l = b[p + 1]!;
    if (!m.options.has(code)) m.options.set(code, all.subarray(fill[code]!, fill[code]! + total[code]!));
    const f = fill[code]!;
    // Short pieces by hand: a view per piece would cost more than the copy.
    if (l < 32) { for (let i = 0; i < l; i++) all[f + i] = b[p + 2 + i]!; }
    else all.set(b.subarray(p + 2, p + 2 + l), f);
    fill[code] = f + l;
    p += 2 + l;
  }
  const type = m.options.get(DHCP_OPT.MESSAGE_TYPE);
  if (type !== undefined) {
    if (type.length !== 1) return fail("message type option is not one byte");
    m.messageType = type[0]!;
  }
  return parsed(m);
}

/** A 4-byte option value read as an address or number; null when the option is absent or not 4 bytes. */
export function dhcpU32(m: DhcpMessage, code: number): number | null {
  const v = m.options.get(code);
  return v === undefined || v.length !== 4 ? null : readU32(v, 0);
}

/** What `buildDhcp` encodes. */
export interface DhcpReplySpec {
  op?: number;
  xid: number;
  flags?: number;
  ciaddr?: number;
  yiaddr?: number;
  siaddr?: number;
  giaddr?: number;
  /** Client hardware address (6 bytes for Ethernet). */
  chaddr: Uint8Array;
  /** Boot file name (BOOTP `file`, at most 127 bytes). */
  file?: string;
  /** Options in order; values longer than 255 bytes are split (RFC 3396). */
  options: [number, Uint8Array][];
}

/** Encodes a message (BOOTREPLY unless `op` says otherwise), padded to the 300-byte BOOTP minimum. */
export function buildDhcp(spec: DhcpReplySpec): Uint8Array {
  let optLen = 4 + 1;
  for (const [, v] of spec.options) optLen += v.length + 2 * Math.max(1, Math.ceil(v.length / 255));
  const total = Math.max(300, BOOTP_FIXED + optLen);
  const b = new Uint8Array(total);
  b[0] = spec.op ?? 2;
  b[1] = 1;
  b[2] = Math.min(16, spec.chaddr.length);
  writeU32(b, 4, spec.xid);
  b[10] = ((spec.flags ?? 0) >>> 8) & 0xff;
  b[11] = (spec.flags ?? 0) & 0xff;
  writeU32(b, 12, spec.ciaddr ?? 0);
  writeU32(b, 16, spec.yiaddr ?? 0);
  writeU32(b, 20, spec.siaddr ?? 0);
  writeU32(b, 24, spec.giaddr ?? 0);
  b.set(spec.chaddr.subarray(0, 16), 28);
  if (spec.file !== undefined) b.set(new TextEncoder().encode(spec.file).subarray(0, 127), 108);
  let at = BOOTP_FIXED;
  writeU32(b, at, DHCP_MAGIC);
  at += 4;
  for (const [code, v] of spec.options) {
    let p = 0;
    do {
      const n = Math.min(255, v.length - p);
      b[at] = code;
      b[at + 1] = n;
      b.set(v.subarray(p, p + n), at + 2);
      at += 2 + n;
      p += n;
    } while (p < v.length);
  }
  b[at] = DHCP_OPT.END;
  return b;
}

/** A 4-byte big-endian option value. */
export function u32Option(v: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, v);
  return b;
}

/** The domain-search option value (RFC 3397): the names in DNS wire form, uncompressed. */
export function domainSearchOption(names: string[]): Uint8Array {
  return concatBytes(names.map((n) => encodeDnsName(n)));
}
