import assert from "node:assert/strict";
import {
  ARP_REPLY,
  ARP_REQUEST,
  newArpPacket,
  parseArp,
  writeArp,
  writeArpRequestFrame,
} from "../../src/wire/arp.ts";

const MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);

Deno.test("writeArp and parseArp round-trip a request", () => {
  const b = new Uint8Array(28);
  writeArp(b, 0, ARP_REQUEST, MAC, 0x0a00020f, new Uint8Array(6), 0x0a000202);
  const a = newArpPacket();
  assert.equal(parseArp(b, 0, 28, a), null);
  assert.equal(a.op, ARP_REQUEST);
  assert.equal(a.senderIp, 0x0a00020f);
  assert.equal(a.targetIp, 0x0a000202);
  assert.deepEqual(b.subarray(a.senderMacOffset, a.senderMacOffset + 6), MAC);
});

Deno.test("parseArp refuses short, foreign and unknown packets", () => {
  const a = newArpPacket();
  const good = new Uint8Array(28);
  writeArp(good, 0, ARP_REPLY, MAC, 1, MAC, 2);
  assert.match(parseArp(good, 0, 27, a)!, /shorter/);
  const cases: [number, number, RegExp][] = [[1, 6, /hardware/], [2, 0x86, /protocol/], [4, 8, /lengths/], [
    7,
    9,
    /opcode/,
  ]];
  for (const [at, v, re] of cases) {
    const b = good.slice();
    b[at] = v;
    assert.match(parseArp(b, 0, 28, a)!, re);
  }
});

Deno.test("an ARP request frame is broadcast from the sender's MAC; sender 0.0.0.0 makes it a probe", () => {
  const mac = new Uint8Array([2, 0, 0, 0, 0, 9]);
  const b = new Uint8Array(64);
  const len = writeArpRequestFrame(b, mac, 0, 0x0a000202);
  assert.equal(len, 42);
  assert.deepEqual([...b.subarray(0, 14)], [255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 9, 8, 6]);
  const a = newArpPacket();
  assert.equal(parseArp(b, 14, len - 14, a), null);
  assert.equal(a.op, ARP_REQUEST);
  assert.equal(a.senderIp, 0);
  assert.equal(a.targetIp, 0x0a000202);
  assert.deepEqual(b.subarray(a.senderMacOffset, a.senderMacOffset + 6), mac);
});
