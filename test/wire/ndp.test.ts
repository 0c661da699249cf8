import assert from "node:assert/strict";
import { ICMPV6, newIcmpv6Message, parseIcmpv6 } from "../../src/wire/icmpv6.ts";
import { formatMac } from "../../src/wire/ethernet.ts";
import {
  newNdpMessage,
  parseNdp,
  writeNeighborAdvert,
  writeNeighborSolicit,
  writeRouterAdvert,
  writeSolicitFrame,
} from "../../src/wire/ndp.ts";
import { formatIpv6, newIpv6Header, parseIpv6 } from "../../src/wire/ipv6.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";

const MAC = new Uint8Array([0x52, 0x55, 10, 0, 2, 2]);

Deno.test("router advertisement carries prefix, MTU, RDNSS and DNSSL", () => {
  const b = new Uint8Array(512);
  const len = writeRouterAdvert(b, 0, {
    mac: MAC,
    prefix: ipLiteral("fd00::"),
    prefixLength: 64,
    routerLifetime: 1800,
    validLifetime: 86400,
    preferredLifetime: 14400,
    mtu: 1500,
    dns: [ipLiteral("fd00::3")],
    dnsLifetime: 600,
    search: ["lan"],
  });
  const m = newNdpMessage();
  assert.equal(parseNdp(b, 0, len, m), null);
  assert.equal(m.type, ICMPV6.ROUTER_ADVERT);
  assert.equal(m.routerLifetime, 1800);
  assert.equal(m.mtu, 1500);
  assert.equal(m.prefixes.length, 1);
  assert.equal(m.prefixes[0]!.length, 64);
  assert.equal(m.prefixes[0]!.autonomous, true);
  assert.equal(formatIpv6(b, m.prefixes[0]!.offset), "fd00::");
  assert.equal(formatIpv6(b, m.dnsOffsets[0]!), "fd00::3");
  assert.deepEqual(b.subarray(m.sourceMacOffset, m.sourceMacOffset + 6), MAC);
});

Deno.test("neighbour solicitation and advertisement round-trip", () => {
  const b = new Uint8Array(64);
  const target = ipLiteral("fd00::2");
  let len = writeNeighborSolicit(b, 0, target, MAC);
  const m = newNdpMessage();
  assert.equal(parseNdp(b, 0, len, m), null);
  assert.equal(formatIpv6(b, m.targetOffset), "fd00::2");
  assert.ok(m.sourceMacOffset > 0);
  len = writeNeighborAdvert(b, 0, target, MAC, { router: true, solicited: true, override: false });
  assert.equal(parseNdp(b, 0, len, m), null);
  assert.equal(m.router && m.solicited && !m.override, true);
  assert.ok(m.targetMacOffset > 0);
});

Deno.test("parseNdp refuses options with a zero or lying length", () => {
  const b = new Uint8Array(64);
  const len = writeNeighborSolicit(b, 0, ipLiteral("fd00::2"), MAC);
  const m = newNdpMessage();
  const zero = b.slice();
  zero[25] = 0;
  assert.match(parseNdp(zero, 0, len, m)!, /length 0/);
  const long = b.slice();
  long[25] = 3;
  assert.match(parseNdp(long, 0, len, m)!, /past the end/);
  assert.match(parseNdp(b, 0, 20, m)!, /fixed part/);
  const code = b.slice();
  code[1] = 1;
  assert.match(parseNdp(code, 0, len, m)!, /code/);
  const echo = b.slice();
  echo[0] = 128;
  assert.match(parseNdp(echo, 0, len, m)!, /not neighbour discovery/);
});

Deno.test("a solicitation frame goes to the target's solicited-node group; a DAD one from :: without the source option", () => {
  const target = ipLiteral("fd00::2");
  const h = newIpv6Header();
  const icmp = newIcmpv6Message();
  const m = newNdpMessage();
  for (const src of [ipLiteral("fd00::1"), null]) {
    const b = new Uint8Array(86);
    const len = writeSolicitFrame(b, MAC, src, target);
    assert.equal(len, src === null ? 78 : 86);
    assert.equal(formatMac(b, 0), "33:33:ff:00:00:02");
    assert.equal(formatMac(b, 6), "52:55:0a:00:02:02");
    assert.equal(parseIpv6(b, 14, len - 14, h), null);
    assert.equal(h.hopLimit, 255);
    assert.equal(formatIpv6(b, h.srcOffset), src === null ? "::" : "fd00::1");
    assert.equal(formatIpv6(b, h.dstOffset), "ff02::1:ff00:2");
    assert.equal(
      parseIcmpv6(b, h.dataOffset, h.dataLength, h.srcOffset, h.dstOffset, icmp),
      null,
      "checksum",
    );
    assert.equal(parseNdp(b, h.dataOffset, h.dataLength, m), null);
    assert.equal(formatIpv6(b, m.targetOffset), "fd00::2");
    assert.equal(m.sourceMacOffset < 0, src === null);
  }
});
