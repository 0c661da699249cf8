/**
 * Every parser that walks a variable number of items (options, labels,
 * extension headers) costs time linear in its input with a small constant:
 * for each, the worst member of an adversarial family costs at most 20x a
 * typical input of the same size. Times are medians of alternating rounds
 * (test/helpers/cost_ratio.ts), so only the ratio matters, not the machine.
 */
import assert from "node:assert/strict";
import { costRatio, describeCost } from "../helpers/cost_ratio.ts";
import {
  BOOTP_FIXED,
  buildDhcp,
  DHCP_MSG,
  DHCP_OPT,
  MAX_DHCP_OPTIONS,
  parseDhcp,
} from "../../src/wire/dhcp.ts";
import { buildDnsMessage, DNS_HLEN, parseDnsMessage } from "../../src/wire/dns.ts";
import { MAX_EXTENSION_HEADERS, newIpv6Header, parseIpv6, writeIpv6Header } from "../../src/wire/ipv6.ts";
import { newNdpMessage, parseNdp } from "../../src/wire/ndp.ts";
import { ICMPV6 } from "../../src/wire/icmpv6.ts";
import { newTcpRepr, parseTcp } from "../../src/wire/tcp.ts";

const LIMIT = 20;
let sink = 0;
/** Keeps a result alive so the call cannot be optimised away. */
const use = (x: unknown): void => {
  if (x !== undefined) sink++;
};

/** The worst ratio over a family against one typical input, logged; asserts the limit. */
function check(name: string, family: [string, () => void][], typical: () => void): void {
  let worst = 0;
  for (const [member, fn] of family) {
    const c = costRatio(fn, typical);
    console.log(describeCost(`${name} / ${member}`, c));
    worst = Math.max(worst, c.ratio);
  }
  assert.ok(worst <= LIMIT, `${name}: the worst input costs ${worst.toFixed(1)}x a typical one`);
}

const MAC = new Uint8Array([2, 0, 0, 0, 0, 9]);

/** A DHCP request of exactly `size` bytes: the fixed part, then `options` raw bytes, END, then pads. */
function dhcpOf(size: number, options: number[]): Uint8Array {
  const b = buildDhcp({ op: 1, xid: 1, chaddr: MAC, options: [] }).slice(0, BOOTP_FIXED + 4);
  const out = new Uint8Array(size);
  out.set(b);
  out.set(options.slice(0, size - b.length - 1), b.length);
  out[Math.min(b.length + options.length, size - 1)] = DHCP_OPT.END;
  return out;
}

Deno.test("parseDhcp: repeated and tiny options cost at most 20x a typical message of the same size", () => {
  const size = 8000;
  const room = size - BOOTP_FIXED - 4 - 1;
  const common = [DHCP_OPT.MESSAGE_TYPE, 1, DHCP_MSG.DISCOVER, DHCP_OPT.PARAM_REQUEST, 4, 1, 3, 6, 15];
  // Typical: the usual options, then a long vendor value split in 255-byte pieces (RFC 3396).
  const typical: number[] = [...common];
  while (typical.length + 257 <= room) typical.push(43, 255, ...new Array(255).fill(7));
  const typicalMsg = dhcpOf(size, typical);
  assert.ok(typeof parseDhcp(typicalMsg) !== "string");
  // The bomb of the issue: option 12 repeated until the message is full.
  const bomb: number[] = [...common];
  while (bomb.length + 3 <= room) bomb.push(DHCP_OPT.HOSTNAME, 1, 0x41);
  // The most options accepted, each a one-byte piece of the same code, the rest pads.
  const most: number[] = [...common];
  while ((most.length - common.length) / 3 < MAX_DHCP_OPTIONS - 2) most.push(DHCP_OPT.HOSTNAME, 1, 0x41);
  const mostMsg = dhcpOf(size, most);
  const parsedMost = parseDhcp(mostMsg);
  assert.ok(typeof parsedMost !== "string", String(parsedMost));
  assert.equal(parsedMost.options.get(DHCP_OPT.HOSTNAME)!.length, MAX_DHCP_OPTIONS - 2);
  // Every code once, with empty values.
  const codes: number[] = [...common];
  for (let c = 1; c < 255; c++) if (c !== 53 && c !== 55) codes.push(c, 0);
  const bombMsg = dhcpOf(size, bomb);
  assert.match(parseDhcp(bombMsg) as string, /more than/);
  const codesMsg = dhcpOf(size, codes);
  check("parseDhcp", [
    ["option 12 repeated 2,600 times", () => use(parseDhcp(bombMsg))],
    [
      `${MAX_DHCP_OPTIONS} one-byte pieces`,
      () => use(parseDhcp(mostMsg)),
    ],
    ["every code once", () => use(parseDhcp(codesMsg))],
  ], () => use(parseDhcp(typicalMsg)));
});

/** A DNS message of `size` bytes from a header, `body` and trailing zero bytes (the count fields say how much is read). */
function dnsOf(size: number, qdcount: number, body: number[]): Uint8Array {
  const b = new Uint8Array(size);
  b[5] = qdcount & 0xff;
  b[4] = qdcount >> 8;
  b.set(body.slice(0, size - DNS_HLEN), DNS_HLEN);
  return b;
}

Deno.test("parseDnsMessage: nested compression pointers cost at most 20x a typical message of the same size", () => {
  const size = 1500;
  // Typical: questions for ordinary names, uncompressed.
  const names = ["www.example.org", "mail.example.com", "a-longer-host-name.department.example.net"];
  const questions: { name: string; type: number }[] = [];
  let used = DNS_HLEN;
  for (let i = 0; used + 60 < size; i++) {
    const name = `${i}.${names[i % names.length]!}`;
    questions.push({ name, type: 1 });
    used += name.length + 2 + 4;
  }
  const typicalMsg = new Uint8Array(size);
  const built = buildDnsMessage({ id: 1, questions });
  typicalMsg.set(built);
  assert.ok(typeof parseDnsMessage(typicalMsg, 0, built.length) !== "string");
  // Adversarial 1: one name of 127 one-byte labels, then questions that point to every label of it in turn.
  const longName: number[] = [];
  for (let i = 0; i < 127; i++) longName.push(1, 0x61);
  longName.push(0);
  const body1: number[] = [...longName, 0, 1, 0, 1];
  let q1 = 1;
  for (let i = 0; body1.length + 6 <= size - DNS_HLEN; i++, q1++) {
    const target = DNS_HLEN + 2 * (i % 127);
    body1.push(0xc0 | (target >> 8), target & 0xff, 0, 1, 0, 1);
  }
  const spread = dnsOf(size, Math.min(q1, 256), body1);
  // Adversarial 2: a chain of 32 pointers, each to the one before, ending in the long name; questions point to the chain's end.
  const body2: number[] = [...longName, 0, 1, 0, 1];
  let prev = DNS_HLEN;
  for (let i = 0; i < 31; i++) {
    const here = DNS_HLEN + body2.length;
    body2.push(0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1);
    prev = here;
  }
  let q2 = 32;
  while (body2.length + 6 <= size - DNS_HLEN && q2 < 256) {
    body2.push(0xc0 | (prev >> 8), prev & 0xff, 0, 1, 0, 1);
    q2++;
  }
  const chain = dnsOf(size, q2, body2);
  const parsedChain = parseDnsMessage(chain);
  assert.ok(typeof parsedChain !== "string", String(parsedChain));
  assert.equal(parsedChain.questions.at(-1)!.name.length, 253);
  check("parseDnsMessage", [
    ["pointers to every label of a 127-label name", () => use(parseDnsMessage(spread))],
    ["questions through a chain of 32 pointers", () => use(parseDnsMessage(chain))],
  ], () => use(parseDnsMessage(typicalMsg, 0, built.length)));
});

Deno.test("parseIpv6: a chain of extension headers costs at most 20x a plain packet of the same size", () => {
  const size = 1280;
  const a = new Uint8Array(16);
  const plain = new Uint8Array(size);
  writeIpv6Header(plain, 0, size - 40, 17, 64, a, a);
  // The most headers walked: 8 minimal destination-options headers, then a refused ninth.
  const chain = new Uint8Array(size);
  writeIpv6Header(chain, 0, size - 40, 60, 64, a, a);
  for (let i = 0; i < MAX_EXTENSION_HEADERS + 1; i++) {
    chain[40 + 8 * i] = i < MAX_EXTENSION_HEADERS - 1 ? 60 : 17;
  }
  const over = chain.slice();
  over[40 + 8 * (MAX_EXTENSION_HEADERS - 1)] = 60;
  const h = newIpv6Header();
  assert.equal(parseIpv6(chain, 0, size, h), null);
  assert.equal(h.protocol, 17);
  assert.match(parseIpv6(over, 0, size, h) ?? "", /too many/);
  check("parseIpv6", [
    ["8 extension headers", () => use(parseIpv6(chain, 0, size, h))],
    ["9 extension headers (refused)", () => use(parseIpv6(over, 0, size, h))],
  ], () => use(parseIpv6(plain, 0, size, h)));
});

Deno.test("parseNdp: a router advertisement full of options costs at most 20x a typical one of the same size", () => {
  const size = 1024;
  const ra = (fill: (b: Uint8Array, at: number) => number) => {
    const b = new Uint8Array(size);
    b[0] = ICMPV6.ROUTER_ADVERT;
    let at = 16;
    while (at < size) at = fill(b, at);
    return b;
  };
  // Typical: a source link-layer option, a prefix, then one long unknown option per 1 KiB block.
  const typical = ra((b, at) => {
    if (at === 16) {
      b.set([1, 1, 2, 0, 0, 0, 0, 1], at);
      return at + 8;
    }
    const l = Math.min(size - at, 2040) / 8;
    b[at] = 200;
    b[at + 1] = l;
    return at + l * 8;
  });
  // Adversarial: 8-byte options all the way (the smallest there are), alternating kinds.
  let k = 0;
  const flood = ra((b, at) => {
    b.set([k++ % 2 === 0 ? 1 : 201, 1, 2, 0, 0, 0, 0, 1], at);
    return at + 8;
  });
  const m = newNdpMessage();
  assert.equal(parseNdp(typical, 0, size, m), null);
  assert.equal(parseNdp(flood, 0, size, m), null);
  check("parseNdp", [[
    "126 eight-byte options",
    () => use(parseNdp(flood, 0, size, m)),
  ]], () => use(parseNdp(typical, 0, size, m)));
});

Deno.test("parseTcp: a header of 40 option bytes costs at most 20x a plain segment of the same size", () => {
  const size = 1460;
  const seg = (options: number[]) => {
    const b = new Uint8Array(size);
    b[12] = ((20 + options.length) / 4) << 4;
    b[13] = 0x10;
    b.set(options, 20);
    return b;
  };
  const plain = seg([]);
  const nops = seg(new Array(40).fill(1));
  const tiny: number[] = [];
  while (tiny.length < 40) tiny.push(254, 2);
  const unknown = seg(tiny);
  const usual = seg([2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
  const out = newTcpRepr();
  for (const s of [plain, nops, unknown, usual]) assert.ok(typeof parseTcp(s, out) !== "string");
  check("parseTcp", [
    ["40 NOPs", () => use(parseTcp(nops, out))],
    ["20 unknown 2-byte options", () => use(parseTcp(unknown, out))],
    ["MSS, window scale, SACK-permitted, timestamps", () => use(parseTcp(usual, out))],
  ], () => use(parseTcp(plain, out)));
  assert.ok(sink > 0);
});
