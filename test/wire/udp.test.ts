import assert from "node:assert/strict";
import { newUdpHeader, parseUdp, udpChecksumOk, writeUdp } from "../../src/wire/udp.ts";
import { writeIpv4Header } from "../../src/wire/ipv4.ts";
import { writeIpv6Header } from "../../src/wire/ipv6.ts";
import { ipLiteral } from "../../src/wire/ip_address.ts";

function v4(payload: number[]): Uint8Array {
  const p = new Uint8Array(28 + payload.length);
  writeIpv4Header(p, 0, { totalLength: p.length, protocol: 17, src: 0x0a00020f, dst: 0x0a000202 });
  p.set(payload, 28);
  writeUdp(p, 20, 1234, 53, payload.length, 12, 16, 4);
  return p;
}

Deno.test("writeUdp and parseUdp round-trip with a good checksum (IPv4 and IPv6)", () => {
  const p = v4([1, 2, 3]);
  const u = newUdpHeader();
  assert.equal(parseUdp(p, 20, 11, u), null);
  assert.equal(u.srcPort, 1234);
  assert.equal(u.dstPort, 53);
  assert.equal(u.payloadLength, 3);
  assert.ok(udpChecksumOk(p, 12, 16, 4, 20, u.length));
  p[29]! ^= 0xff;
  assert.ok(!udpChecksumOk(p, 12, 16, 4, 20, u.length));
  const q = new Uint8Array(40 + 8 + 5);
  writeIpv6Header(q, 0, 13, 17, 64, ipLiteral("fd00::15"), ipLiteral("fd00::2"));
  writeUdp(q, 40, 1, 2, 5, 8, 24, 16);
  assert.ok(udpChecksumOk(q, 8, 24, 16, 40, 13));
});

Deno.test("a zero UDP checksum means none over IPv4 and is an error over IPv6", () => {
  const p = v4([9]);
  p[26] = 0;
  p[27] = 0;
  assert.ok(udpChecksumOk(p, 12, 16, 4, 20, 9));
  const q = new Uint8Array(48);
  writeIpv6Header(q, 0, 8, 17, 64, new Uint8Array(16), new Uint8Array(16));
  q[44] = 0;
  q[45] = 8;
  assert.ok(!udpChecksumOk(q, 8, 24, 16, 40, 8));
});

Deno.test("parseUdp refuses a UDP length that lies either way", () => {
  const u = newUdpHeader();
  const p = v4([1, 2, 3, 4]);
  p[24] = 0;
  p[25] = 40; // longer than the IP payload
  assert.match(parseUdp(p, 20, 12, u)!, /past the end/);
  p[25] = 4; // shorter than the header
  assert.match(parseUdp(p, 20, 12, u)!, /shorter than the header/);
  assert.match(parseUdp(p, 20, 7, u)!, /shorter/);
});
