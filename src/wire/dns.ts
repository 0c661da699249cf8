/**
 * DNS messages (RFC 1035): the header, names with compression, questions
 * and resource records. The slirp stack forwards queries as bytes and only
 * reads a few fields (id, the TC bit, the EDNS payload size); the full
 * parser serves tests, tools and the DHCP/NDP search-list encoders.
 *
 * Names are hostile input: a compression pointer must point strictly
 * backwards (so it cannot loop), a name may follow at most
 * {@link MAX_POINTERS} pointers, and its text is at most 255 bytes long.
 * Within one message each label is decoded once (see {@link DnsNameCache}),
 * so nested pointers cost no more than the bytes they point to.
 */
import { readU16, readU32 } from "./bytes.ts";
import { fail, type Parsed, parsed } from "./parse.ts";

/** Length of the DNS header. */
export const DNS_HLEN = 12;
/** Compression pointers followed in one name before it is called a loop. */
export const MAX_POINTERS = 32;
/** Record types used here. */
export const DNS_TYPE = { A: 1, NS: 2, CNAME: 5, PTR: 12, AAAA: 28, OPT: 41 } as const;

/** The header fields. */
export interface DnsHeader {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  /** Truncated: the answer did not fit. */
  tc: boolean;
  rd: boolean;
  ra: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

/** A question. */
export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

/** A resource record; `data` is a copy of its RDATA. */
export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: Uint8Array;
}

/** A parsed message. */
export interface DnsMessage {
  header: DnsHeader;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

/** Reads the header. */
export function parseDnsHeader(b: Uint8Array, off = 0, len = b.length - off): Parsed<DnsHeader> {
  if (off < 0 || len < DNS_HLEN || off + len > b.length) return fail("shorter than a DNS header");
  const f = (b[off + 2]! << 8) | b[off + 3]!;
  const u16 = (o: number) => (b[off + o]! << 8) | b[off + o + 1]!;
  return parsed({
    id: u16(0),
    qr: (f & 0x8000) !== 0,
    opcode: (f >> 11) & 0xf,
    aa: (f & 0x0400) !== 0,
    tc: (f & 0x0200) !== 0,
    rd: (f & 0x0100) !== 0,
    ra: (f & 0x0080) !== 0,
    rcode: f & 0xf,
    qdcount: u16(4),
    ancount: u16(6),
    nscount: u16(8),
    arcount: u16(10),
  });
}

/** A decoded name suffix: its dotted text, its wire text length (labels plus length bytes), its pointers. */
export interface DnsNameSuffix {
  name: string;
  text: number;
  pointers: number;
}

/**
 * Names already decoded in one message, by the offset where they start. With
 * it, every label of a message is decoded at most once, however many
 * compression pointers lead to it: parsing a message costs time linear in
 * its length, not in the length of the names its pointers spell.
 */
export type DnsNameCache = Map<number, DnsNameSuffix>;

/**
 * Reads the name at `b[at]` of the message that starts at `b[start]` and ends at `end`.
 * `cache` (one per message) shares the work of names that point into each other.
 *
 * @returns the dotted name ("" for the root) and the offset just after it in
 *   the record, or why it is not one
 */
export function readDnsName(
  b: Uint8Array,
  start: number,
  at: number,
  end: number,
  cache?: DnsNameCache,
): Parsed<{ name: string; next: number }> {
  const labels: string[] = [];
  const starts: number[] = [];
  const pointersAt: number[] = [];
  let textLength = 0;
  let pointers = 0;
  let next = -1;
  let pos = at;
  let suffix: DnsNameSuffix | undefined;
  // Pointers must go strictly backwards: to before the label that holds them.
  let limit = pos;
  for (;;) {
    if (pos >= end || pos < start) return fail("name runs past the end of the message");
    // Only past a pointer: the name's own bytes in its record are new.
    if (next >= 0) {
      suffix = cache?.get(pos);
      if (suffix !== undefined) break;
    }
    const l = b[pos]!;
    if (l === 0) {
      if (next < 0) next = pos + 1;
      break;
    }
    const kind = l & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) return fail("compression pointer cut short");
      const target = start + (((l & 0x3f) << 8) | b[pos + 1]!);
      if (++pointers > MAX_POINTERS) return fail("too many compression pointers");
      if (target >= limit) return fail("compression pointer does not point backwards");
      if (next < 0) next = pos + 2;
      pos = target;
      limit = target;
      continue;
    }
    if (kind !== 0) return fail("reserved label type");
    if (pos + 1 + l > end) return fail("label runs past the end of the message");
    textLength += l + 1;
    if (textLength > 255) return fail("name longer than 255 bytes");
    let label = "";
    for (let i = 0; i < l; i++) {
      const c = b[pos + 1 + i]!;
      label += c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e
        ? `\\${c.toString(10).padStart(3, "0")}`
        : String.fromCharCode(c);
    }
    labels.push(label);
    starts.push(pos);
    pointersAt.push(pointers);
    pos += 1 + l;
  }
  let name = suffix?.name ?? "";
  let text = suffix?.text ?? 0;
  const total = pointers + (suffix?.pointers ?? 0);
  if (textLength + text > 255) return fail("name longer than 255 bytes");
  if (total > MAX_POINTERS) return fail("too many compression pointers");
  // From the last label back, so each suffix is one concatenation.
  for (let i = labels.length - 1; i >= 0; i--) {
    const l = b[starts[i]!]!;
    name = name === "" ? labels[i]! : `${labels[i]!}.${name}`;
    text += l + 1;
    cache?.set(starts[i]!, { name, text, pointers: total - pointersAt[i]! });
  }
  return parsed({ name, next });
}

/** Most records of each section parsed (a message claiming more is hostile). */
const MAX_RECORDS = 256;

/**
 * Parses a whole message at `b[off, off+len)`.
 *
 * @returns the message, or why it is not one (parse.ts)
 */
export function parseDnsMessage(b: Uint8Array, off = 0, len = b.length - off): Parsed<DnsMessage> {
  const h = parseDnsHeader(b, off, len);
  if (!h.ok) return h;
  const header = h.value;
  const end = off + len;
  let at = off + DNS_HLEN;
  const cache: DnsNameCache = new Map();
  const questions: DnsQuestion[] = [];
  if (header.qdcount > MAX_RECORDS) return fail("too many questions");
  for (let i = 0; i < header.qdcount; i++) {
    const r = readDnsName(b, off, at, end, cache);
    if (!r.ok) return fail(`question ${i + 1}: ${r.reason}`);
    const n = r.value;
    if (n.next + 4 > end) return fail(`question ${i + 1} cut short`);
    questions.push({ name: n.name, type: readU16(b, n.next), class: readU16(b, n.next + 2) });
    at = n.next + 4;
  }
  const sections: DnsRecord[][] = [[], [], []];
  const counts = [header.ancount, header.nscount, header.arcount];
  for (let s = 0; s < 3; s++) {
    if (counts[s]! > MAX_RECORDS) return fail("too many records");
    for (let i = 0; i < counts[s]!; i++) {
      const r = readDnsName(b, off, at, end, cache);
      if (!r.ok) return fail(`record: ${r.reason}`);
      const n = r.value;
      if (n.next + 10 > end) return fail("record header cut short");
      const rdlen = readU16(b, n.next + 8);
      const dataAt = n.next + 10;
      if (dataAt + rdlen > end) return fail("record data past the end of the message");
      sections[s]!.push({
        name: n.name,
        type: readU16(b, n.next),
        class: readU16(b, n.next + 2),
        ttl: readU32(b, n.next + 4),
        data: b.slice(dataAt, dataAt + rdlen),
      });
      at = dataAt + rdlen;
    }
  }
  return parsed({
    header,
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
  });
}

/**
 * A name in DNS wire form, uncompressed.
 *
 * @throws Error for a label longer than 63 bytes or a name longer than 255
 */
export function encodeDnsName(name: string): Uint8Array {
  const labels = name.split(".").filter((l) => l !== "");
  const enc = new TextEncoder();
  const parts: number[] = [];
  for (const label of labels) {
    const bytes = enc.encode(label);
    if (bytes.length > 63) throw new Error(`DNS label longer than 63 bytes: "${label}"`);
    parts.push(bytes.length, ...bytes);
  }
  parts.push(0);
  if (parts.length > 255) throw new Error(`DNS name longer than 255 bytes: "${name}"`);
  return new Uint8Array(parts);
}

/** A record to put in a built message; `data` is the RDATA. */
export interface DnsRecordSpec {
  name: string;
  type: number;
  ttl?: number;
  data: Uint8Array;
}

/** What `buildDnsMessage` builds. */
export interface DnsMessageSpec {
  id: number;
  response?: boolean;
  rd?: boolean;
  ra?: boolean;
  tc?: boolean;
  aa?: boolean;
  rcode?: number;
  questions?: { name: string; type: number }[];
  answers?: DnsRecordSpec[];
}

/** Builds a message (class IN throughout, no compression). */
export function buildDnsMessage(spec: DnsMessageSpec): Uint8Array {
  const out: number[] = [];
  const push16 = (v: number) => out.push((v >>> 8) & 0xff, v & 0xff);
  push16(spec.id);
  push16(
    (spec.response ? 0x8000 : 0) | (spec.aa ? 0x0400 : 0) | (spec.tc ? 0x0200 : 0) |
      (spec.rd ?? true ? 0x0100 : 0) | (spec.ra ? 0x0080 : 0) | ((spec.rcode ?? 0) & 0xf),
  );
  const qs = spec.questions ?? [];
  const ans = spec.answers ?? [];
  push16(qs.length);
  push16(ans.length);
  push16(0);
  push16(0);
  for (const q of qs) {
    out.push(...encodeDnsName(q.name));
    push16(q.type);
    push16(1);
  }
  for (const r of ans) {
    out.push(...encodeDnsName(r.name));
    push16(r.type);
    push16(1);
    const ttl = r.ttl ?? 60;
    push16(ttl >>> 16);
    push16(ttl & 0xffff);
    push16(r.data.length);
    out.push(...r.data);
  }
  return new Uint8Array(out);
}

/**
 * The UDP payload size the sender of a query accepts: the EDNS OPT record's
 * class, or 512 without one (or when the message does not parse).
 */
export function dnsUdpPayloadSize(b: Uint8Array, off = 0, len = b.length - off): number {
  const m = parseDnsMessage(b, off, len);
  if (!m.ok) return 512;
  for (const r of m.value.additionals) if (r.type === DNS_TYPE.OPT) return Math.max(512, r.class);
  return 512;
}
