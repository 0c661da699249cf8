import assert from "node:assert/strict";
import {
  ICMP,
  ICMP_UNREACH,
  newIcmpMessage,
  parseIcmpv4,
  writeIcmpv4,
  writeIcmpv4Error,
} from "../../src/wire/icmpv4.ts";
import {
  finishIcmpv6,
  ICMPV6,
  ICMPV6_ERROR_MAX,
  ICMPV6_UNREACH,
  newIcmpv6Message,
  parseIcmpv6,
  writeIcmpv6Error,
} from "../../src/wire/icmpv6.ts";
import { writeIpv4Header } from "../../src/wire/ipv4.ts";
import { writeIpv6Header } from "../../src/wire/ipv6.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";

Deno.test("ICMPv4 echo: written, parsed, checksum checked", () => {
  const b = new Uint8Array(12);
  b.set([1, 2, 3, 4], 8);
  writeIcmpv4(b, 0, 12, ICMP.ECHO_REQUEST, 0, (0x1234 << 16) | 7);
  const m = newIcmpMessage();
  assert.equal(parseIcmpv4(b, 0, 12, m), null);
  assert.equal(m.type, ICMP.ECHO_REQUEST);
  assert.equal(m.id, 0x1234);
  assert.equal(m.seq, 7);
  assert.equal(m.dataLength, 4);
  b[9]! ^= 1;
  assert.match(parseIcmpv4(b, 0, 12, m)!, /checksum/);
  assert.match(parseIcmpv4(b, 0, 7, m)!, /shorter/);
});

Deno.test("ICMPv6 echo: checksum over the pseudo-header", () => {
  const p = new Uint8Array(40 + 12);
  writeIpv6Header(p, 0, 12, 58, 64, ipLiteral("fd00::15"), ipLiteral("fd00::2"));
  p[40] = ICMPV6.ECHO_REQUEST;
  p[44] = 0;
  p[45] = 5;
  finishIcmpv6(p, 40, 12, 8, 24);
  const m = newIcmpv6Message();
  assert.equal(parseIcmpv6(p, 40, 12, 8, 24, m), null);
  assert.equal(m.id, 5);
  p[23]! ^= 1; // another source address: the checksum no longer holds
  assert.match(parseIcmpv6(p, 40, 12, 8, 24, m)!, /checksum/);
  assert.match(parseIcmpv6(p, 40, 3, 8, 24, m)!, /shorter/);
});

Deno.test("ICMPv4 error: quotes the IP header and 64 bits of data (RFC 792), MTU in the rest word", () => {
  const inv = new Uint8Array(20 + 100).fill(7);
  writeIpv4Header(inv, 0, { totalLength: 120, protocol: 17, src: 0x0a00020f, dst: 0x0a000202, df: true });
  const b = new Uint8Array(64);
  const n = writeIcmpv4Error(b, 0, ICMP.DEST_UNREACH, ICMP_UNREACH.FRAG_NEEDED, 1500, inv, 0, inv.length);
  assert.equal(n, 8 + 20 + 8);
  const m = newIcmpMessage();
  assert.equal(parseIcmpv4(b, 0, n, m), null);
  assert.equal(m.type, ICMP.DEST_UNREACH);
  assert.equal(m.code, ICMP_UNREACH.FRAG_NEEDED);
  assert.equal(m.seq, 1500);
  assert.deepEqual(b.subarray(8, n), inv.subarray(0, 28));
  // Not a whole IPv4 header: nothing written.
  assert.equal(writeIcmpv4Error(b, 0, 3, 1, 0, inv, 0, 19), 0);
});

Deno.test("ICMPv6 error: quotes as much as fits in the minimum MTU (RFC 4443)", () => {
  const inv = new Uint8Array(3000).fill(5);
  const b = new Uint8Array(40 + 1300);
  const n = writeIcmpv6Error(b, 40, ICMPV6.DEST_UNREACH, ICMPV6_UNREACH.PORT, 0, inv, 0, inv.length);
  assert.equal(n, ICMPV6_ERROR_MAX);
  writeIpv6Header(b, 0, n, 58, 64, ipLiteral("fd00::2"), ipLiteral("fd00::15"));
  finishIcmpv6(b, 40, n, 8, 24);
  const m = newIcmpv6Message();
  assert.equal(parseIcmpv6(b, 40, n, 8, 24, m), null);
  assert.equal(m.code, ICMPV6_UNREACH.PORT);
  assert.equal(writeIcmpv6Error(b, 40, ICMPV6.PACKET_TOO_BIG, 0, 1500, inv, 0, 10), 18);
  assert.equal((b[46]! << 8) | b[47]!, 1500);
});
