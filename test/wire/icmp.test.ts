import assert from "node:assert/strict";
import { ICMP, newIcmpMessage, parseIcmpv4, writeIcmpv4 } from "../../src/wire/icmpv4.ts";
import { finishIcmpv6, ICMPV6, newIcmpv6Message, parseIcmpv6 } from "../../src/wire/icmpv6.ts";
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
