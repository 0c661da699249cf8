/**
 * Every parser that walks a variable number of items (options, labels,
 * extension headers) costs time linear in its input with a small constant:
 * for each, the worst member of an adversarial family costs at most 20x a
 * typical input of the same size. Times are medians of alternating rounds
 * (test/helpers/cost_ratio.ts), so only the ratio matters, not the machine.
 */
import assert from "node:assert/strict";
import { assertCostRatio as check, use } from "../helpers/cost_ratio.ts";
import { DHCP_OPT, MAX_DHCP_OPTIONS, parseDhcp } from "../../src/wire/dhcp.ts";
import { parseDnsMessage } from "../../src/wire/dns.ts";
import { MAX_EXTENSION_HEADERS, newIpv6Header, parseIpv6, writeIpv6Header } from "../../src/wire/ipv6.ts";
import { newNdpMessage, parseNdp } from "../../src/wire/ndp.ts";
import { ICMPV6 } from "../../src/wire/icmpv6.ts";
import { newTcpRepr, parseTcp } from "../../src/wire/tcp.ts";
import { dhcpFamily, dnsFamily } from "../helpers/adversarial.ts";
import { reasonOf, valueOf } from "../helpers/parsed.ts";

Deno.test("parseDhcp: repeated and tiny options cost at most 20x a typical message of the same size", () => {
  const f = dhcpFamily(8000);
  valueOf(parseDhcp(f.typical));
  assert.match(reasonOf(parseDhcp(f.bomb)), /more than/);
  const parsedMost = valueOf(parseDhcp(f.most));
  assert.equal(parsedMost.options.get(DHCP_OPT.HOSTNAME)!.length, MAX_DHCP_OPTIONS - 2);
  check("parseDhcp", [
    ["option 12 repeated 2,600 times", () => use(parseDhcp(f.bomb))],
    [`${MAX_DHCP_OPTIONS} one-byte pieces`, () => use(parseDhcp(f.most))],
    ["every code once", () => use(parseDhcp(f.codes))],
  ], () => use(parseDhcp(f.typical)));
});

Deno.test("parseDnsMessage: nested compression pointers cost at most 20x a typical message of the same size", () => {
  const f = dnsFamily(1500);
  valueOf(parseDnsMessage(f.typical, 0, f.typicalLength));
  const parsedChain = valueOf(parseDnsMessage(f.chain));
  assert.equal(parsedChain.questions.at(-1)!.name.length, 253);
  check("parseDnsMessage", [
    ["pointers to every label of a 127-label name", () => use(parseDnsMessage(f.spread))],
    ["questions through a chain of 32 pointers", () => use(parseDnsMessage(f.chain))],
  ], () => use(parseDnsMessage(f.typical, 0, f.typicalLength)));
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
  for (const s of [plain, nops, unknown, usual]) assert.equal(parseTcp(s, out), null);
  check("parseTcp", [
    ["40 NOPs", () => use(parseTcp(nops, out))],
    ["20 unknown 2-byte options", () => use(parseTcp(unknown, out))],
    ["MSS, window scale, SACK-permitted, timestamps", () => use(parseTcp(usual, out))],
  ], () => use(parseTcp(plain, out)));
});
