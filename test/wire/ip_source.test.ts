import assert from "node:assert/strict";
import { type IpSource, ipSourceOf } from "../../src/wire/ip_source.ts";

const MACS = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
const V4 = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9];
const V6 = [0x60, 0, 0, 0, 0, 0, 17, 64, 0xfe, 0x80, ...Array(13).fill(0), 1, ...Array(16).fill(0)];

function frame(...parts: number[][]): Uint8Array {
  return new Uint8Array(parts.flat());
}

Deno.test("an IPv4 or IPv6 frame's source address is found, untagged (vlan 0) or behind an 802.1Q tag (its VLAN)", () => {
  const out: IpSource = { family: 4, offset: 0, vlan: 9 };
  assert.equal(ipSourceOf(frame(MACS, [0x08, 0x00], V4), out), true);
  assert.deepEqual(out, { family: 4, offset: 26, vlan: 0 });
  assert.equal(ipSourceOf(frame(MACS, [0x81, 0x00, 0x20, 0x05, 0x08, 0x00], V4), out), true);
  assert.deepEqual(out, { family: 4, offset: 30, vlan: 5 }, "the priority bits are not the VLAN");
  assert.equal(ipSourceOf(frame(MACS, [0x86, 0xdd], V6), out), true);
  assert.deepEqual(out, { family: 6, offset: 22, vlan: 0 });
});

Deno.test("a frame cut short, of another type, or whose IP version lies gives no source address and never throws", () => {
  const out: IpSource = { family: 4, offset: 0, vlan: 0 };
  const full = frame(MACS, [0x08, 0x00], V4);
  for (let n = 0; n < 30; n++) assert.equal(ipSourceOf(full.subarray(0, n), out), false, `cut at ${n}`);
  const v6 = frame(MACS, [0x86, 0xdd], V6);
  assert.equal(ipSourceOf(v6.subarray(0, v6.length - 17), out), false, "an IPv6 source cut short");
  assert.equal(ipSourceOf(frame(MACS, [0x81, 0x00, 0x00]), out), false, "a tag cut short");
  assert.equal(ipSourceOf(frame(MACS, [0x08, 0x06], V4), out), false, "ARP");
  assert.equal(
    ipSourceOf(frame(MACS, [0x08, 0x00], [0x65], V4.slice(1)), out),
    false,
    "version 6 in an IPv4 type",
  );
  assert.equal(
    ipSourceOf(frame(MACS, [0x86, 0xdd], [0x45], V6.slice(1)), out),
    false,
    "version 4 in an IPv6 type",
  );
});
