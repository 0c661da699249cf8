import assert from "node:assert/strict";
import {
  formatIpv6,
  IPV6_HLEN,
  ipv6PrefixMatch,
  linkLocalFromMac,
  newIpv6Header,
  parseIpv6,
  solicitedNode,
  writeIpv6FragmentHeader,
  writeIpv6Header,
} from "../../src/wire/ipv6.ts";
import { ipLiteral, parseIpv6Text } from "../../src/wire/ip_address.ts";

const A = ipLiteral("fd00::15");
const B = ipLiteral("fd00::2");

Deno.test("parseIpv6 reads the fixed header and the protocol", () => {
  const p = new Uint8Array(IPV6_HLEN + 8 + 4);
  writeIpv6Header(p, 0, 8, 17, 64, A, B);
  const h = newIpv6Header();
  assert.equal(parseIpv6(p, 0, p.length, h), null);
  assert.equal(h.protocol, 17);
  assert.equal(h.dataOffset, 40);
  assert.equal(h.dataLength, 8);
  assert.equal(formatIpv6(p, h.srcOffset), "fd00::15");
  assert.equal(h.fragmented, false);
});

Deno.test("parseIpv6 walks extension headers to a fragment header", () => {
  const p = new Uint8Array(IPV6_HLEN + 8 + 8 + 16);
  writeIpv6Header(p, 0, 32, 0, 64, A, B); // hop-by-hop first
  p[40] = 44; // next: fragment
  p[41] = 0; // 8 bytes
  writeIpv6FragmentHeader(p, 48, 17, 8, true, 0x1234);
  const h = newIpv6Header();
  assert.equal(parseIpv6(p, 0, p.length, h), null);
  assert.equal(h.fragmented, true);
  assert.equal(h.fragmentOffset, 8);
  assert.equal(h.mf, true);
  assert.equal(h.fragmentId, 0x1234);
  assert.equal(h.protocol, 17);
  assert.equal(h.dataOffset, 56);
  assert.equal(h.dataLength, 16);
});

Deno.test("parseIpv6 refuses lying lengths and hostile chains", () => {
  const h = newIpv6Header();
  const p = new Uint8Array(IPV6_HLEN + 16);
  writeIpv6Header(p, 0, 200, 17, 64, A, B);
  assert.match(parseIpv6(p, 0, p.length, h)!, /payload length past/);
  // An extension header whose length runs past the packet.
  writeIpv6Header(p, 0, 16, 60, 64, A, B);
  p[40] = 17;
  p[41] = 5;
  assert.match(parseIpv6(p, 0, p.length, h)!, /past the end/);
  // A chain of destination options longer than the limit.
  const q = new Uint8Array(IPV6_HLEN + 8 * 10);
  writeIpv6Header(q, 0, 80, 60, 64, A, B);
  for (let i = 0; i < 10; i++) q[40 + i * 8] = 60;
  assert.match(parseIpv6(q, 0, q.length, h)!, /too many/);
  // Hop-by-hop anywhere but first.
  writeIpv6Header(q, 0, 80, 60, 64, A, B);
  q[40] = 0;
  q[48] = 17;
  assert.match(parseIpv6(q, 0, q.length, h)!, /hop-by-hop/);
  assert.match(parseIpv6(new Uint8Array(39), 0, 39, h)!, /shorter/);
  p[0] = 0x40;
  assert.match(parseIpv6(p, 0, p.length, h)!, /version 6/);
});

Deno.test("IPv6 address text: parse, format (RFC 5952), prefixes, derived addresses", () => {
  assert.equal(formatIpv6(ipLiteral("fd00:0:0:0:0:0:0:2")), "fd00::2");
  assert.equal(formatIpv6(ipLiteral("::")), "::");
  assert.equal(formatIpv6(ipLiteral("::1")), "::1");
  assert.equal(formatIpv6(ipLiteral("[2001:db8::1:0:0:1]")), "2001:db8::1:0:0:1");
  assert.equal(formatIpv6(ipLiteral("::ffff:10.0.2.15")), "::ffff:a00:20f");
  for (const bad of ["1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "g::1", "", "1:2:3"]) {
    assert.equal(parseIpv6Text(bad).ok, false, bad);
  }
  assert.ok(ipv6PrefixMatch(A, 0, ipLiteral("fd00::"), 0, 64));
  assert.ok(!ipv6PrefixMatch(A, 0, ipLiteral("fd01::"), 0, 64));
  assert.ok(ipv6PrefixMatch(A, 0, ipLiteral("fd00::"), 0, 7));
  assert.equal(
    formatIpv6(linkLocalFromMac(new Uint8Array([0x52, 0x55, 10, 0, 2, 2]))),
    "fe80::5055:aff:fe00:202",
  );
  assert.equal(formatIpv6(solicitedNode(A)), "ff02::1:ff00:15");
});
