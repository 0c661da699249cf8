import assert from "node:assert/strict";
import {
  formatIpv4,
  IPV4_HLEN,
  newIpv4Header,
  parseIpv4,
  prefixMask,
  writeIpv4Header,
} from "../../src/wire/ipv4.ts";
import { internetChecksum } from "../../src/wire/checksum.ts";
import { ipv4ToU32, parseIpv4Text } from "../../src/wire/ip_address.ts";
import { valueOf } from "../helpers/parsed.ts";

function packet(payload = 8, extra = 0): Uint8Array {
  const p = new Uint8Array(IPV4_HLEN + payload + extra);
  writeIpv4Header(p, 0, {
    totalLength: IPV4_HLEN + payload,
    protocol: 17,
    src: 0x0a00020f,
    dst: 0x0a000202,
    id: 7,
    ttl: 9,
  });
  return p;
}

Deno.test("parseIpv4 reads a header written by writeIpv4Header", () => {
  const h = newIpv4Header();
  const p = packet(8, 6); // Ethernet padding after the packet is allowed
  assert.equal(parseIpv4(p, 0, p.length, h), null);
  assert.equal(h.totalLength, 28);
  assert.equal(h.payloadLength, 8);
  assert.equal(h.protocol, 17);
  assert.equal(h.ttl, 9);
  assert.equal(h.id, 7);
  assert.equal(formatIpv4(h.src), "10.0.2.15");
  assert.equal(formatIpv4(h.dst), "10.0.2.2");
  assert.equal(internetChecksum(p, 0, 20), 0);
});

Deno.test("parseIpv4 refuses hostile headers with a reason", () => {
  const h = newIpv4Header();
  const cases: [string, (p: Uint8Array) => void, RegExp][] = [
    ["total length past the data", (p) => (p[3] = 200), /total length past/],
    ["total length below the header", (p) => (p[3] = 10), /shorter than the header/],
    ["IHL below 5", (p) => (p[0] = 0x44), /IHL below 5/],
    ["IHL past the packet", (p) => (p[0] = 0x4f), /IHL past/],
    ["version 6", (p) => (p[0] = 0x65), /version 4/],
    ["bad checksum", (p) => (p[10]! ^= 1), /checksum/],
  ];
  for (const [what, mutate, re] of cases) {
    const p = packet();
    mutate(p);
    const r = parseIpv4(p, 0, p.length, h);
    assert.ok(r !== null && re.test(r), `${what}: ${r}`);
  }
  assert.match(parseIpv4(new Uint8Array(19), 0, 19, h)!, /shorter/);
  assert.match(parseIpv4(packet(), 10, 40, h)!, /shorter/);
});

Deno.test("parseIpv4 reads fragment fields", () => {
  const p = new Uint8Array(40);
  writeIpv4Header(p, 0, { totalLength: 40, protocol: 17, src: 1, dst: 2, mf: true, fragmentOffset: 1480 });
  const h = newIpv4Header();
  assert.equal(parseIpv4(p, 0, 40, h), null);
  assert.equal(h.mf, true);
  assert.equal(h.fragmentOffset, 1480);
});

Deno.test("IPv4 address text round-trips and rejects junk", () => {
  assert.equal(ipv4ToU32(valueOf(parseIpv4Text("10.0.2.15"))), 0x0a00020f);
  assert.equal(formatIpv4(0xc0a80101), "192.168.1.1");
  for (const bad of ["256.0.0.1", "1.2.3", "a.b.c.d", "1.2.3.4.5", ""]) {
    assert.equal(parseIpv4Text(bad).ok, false, bad);
  }
  assert.equal(prefixMask(24), 0xffffff00);
  assert.equal(prefixMask(0), 0);
  assert.equal(prefixMask(32), 0xffffffff);
});
