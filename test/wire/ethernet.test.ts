import assert from "node:assert/strict";
import {
  buildFrame,
  dstMacHi,
  dstMacLo,
  etherType,
  formatMac,
  formatMacNumbers,
  isMulticast,
  macHi,
  macLo,
  parseMacText,
  srcMacHi,
  srcMacLo,
  vlanId,
} from "../../src/wire/ethernet.ts";
import { reasonOf, valueOf } from "../helpers/parsed.ts";

Deno.test("formatMac prints six lower-case hex pairs joined by colons", () => {
  assert.equal(formatMac(new Uint8Array([0x02, 0, 0, 0, 0, 1])), "02:00:00:00:00:01");
  assert.equal(formatMac(new Uint8Array([9, 0xab, 0xcd, 0xef, 0x10, 0xff, 0xee]), 1), "ab:cd:ef:10:ff:ee");
});

Deno.test("formatMac answers an empty string when six bytes are not there", () => {
  assert.equal(formatMac(new Uint8Array(5)), "");
  assert.equal(formatMac(new Uint8Array(8), 3), "");
  assert.equal(formatMac(new Uint8Array(8), -1), "");
});

Deno.test("parseMacText accepts colon and dot forms with one or two digits per byte", () => {
  const cases: [string, number[]][] = [
    ["02:00:00:00:00:01", [2, 0, 0, 0, 0, 1]],
    ["2:0:0:0:0:1", [2, 0, 0, 0, 0, 1]],
    ["2.0.0.0.a.B", [2, 0, 0, 0, 10, 11]],
    ["FF:ff:Ff:fF:00:0", [255, 255, 255, 255, 0, 0]],
    [" 02:00:00:00:00:01\n", [2, 0, 0, 0, 0, 1]],
  ];
  for (const [text, bytes] of cases) {
    assert.deepEqual(valueOf(parseMacText(text)), new Uint8Array(bytes), text);
  }
});

Deno.test("parseMacText rejects text that is not a MAC", () => {
  for (
    const text of [
      "",
      "02:00:00:00:00",
      "02:00:00:00:00:01:02",
      "02:00:00.00:00:01",
      "002:00:00:00:00:01",
      "0g:00:00:00:00:01",
      "02-00-00-00-00-01",
      "02::00:00:00:01",
      "020000000001",
    ]
  ) {
    assert.match(reasonOf(parseMacText(text)), /Expected a MAC/, text);
  }
});

Deno.test("formatMac and parseMacText round-trip", () => {
  const text = "de:ad:be:ef:00:42";
  assert.equal(formatMac(valueOf(parseMacText(text))), text);
});

Deno.test("isMulticast reads bit 0 of the first byte of the MAC", () => {
  const frame = buildFrame({ dst: "01:00:5e:00:00:01", src: "02:00:00:00:00:01" });
  assert.equal(isMulticast(frame, 0), true);
  assert.equal(isMulticast(frame, 6), false);
  assert.equal(isMulticast(buildFrame({ dst: "ff:ff:ff:ff:ff:ff" })), true);
  assert.equal(isMulticast(buildFrame({ dst: "33:33:00:00:00:01" })), true);
  assert.equal(isMulticast(buildFrame({ dst: "02:00:00:00:00:01" })), false);
});

Deno.test("isMulticast is false for a buffer too short to hold the MAC", () => {
  assert.equal(isMulticast(new Uint8Array([1, 0, 0, 0, 0]), 0), false);
  assert.equal(isMulticast(new Uint8Array(11).fill(1), 6), false);
});

Deno.test("MAC readers split a MAC into a 16-bit and an unsigned 32-bit number", () => {
  const frame = buildFrame({ dst: "ff:fe:fd:fc:fb:fa", src: "02:01:80:00:00:09" });
  assert.equal(dstMacHi(frame), 0xfffe);
  assert.equal(dstMacLo(frame), 0xfdfcfbfa);
  assert.equal(srcMacHi(frame), 0x0201);
  assert.equal(srcMacLo(frame), 0x80000009);
  assert.equal(formatMacNumbers(dstMacHi(frame), dstMacLo(frame)), "ff:fe:fd:fc:fb:fa");
  assert.equal(formatMacNumbers(srcMacHi(frame), srcMacLo(frame)), "02:01:80:00:00:09");
});

Deno.test("MAC readers answer -1 when the frame is too short", () => {
  const frame = new Uint8Array(11);
  assert.equal(dstMacHi(frame), 0);
  assert.equal(srcMacHi(frame), -1);
  assert.equal(srcMacLo(frame), -1);
  assert.equal(macHi(new Uint8Array(5), 0), -1);
  assert.equal(macLo(new Uint8Array(5), 0), -1);
  assert.equal(macLo(new Uint8Array(8), -1), -1);
});

Deno.test("etherType reads bytes 12-13 and answers -1 for a short frame", () => {
  assert.equal(etherType(buildFrame({ type: 0x86dd })), 0x86dd);
  assert.equal(etherType(buildFrame({ vlan: 5, type: 0x0806 })), 0x8100);
  assert.equal(etherType(new Uint8Array(13)), -1);
});

Deno.test("vlanId reads the low 12 bits of the tag and ignores priority and DEI", () => {
  const frame = buildFrame({ vlan: 10, type: 0x0806 });
  assert.equal(frame.length, 18);
  assert.equal(vlanId(frame), 10);
  frame[14]! |= 0xf0; // PCP 7, DEI 1
  assert.equal(vlanId(frame), 10);
  assert.equal(vlanId(buildFrame({ vlan: 4095 })), 4095);
});

Deno.test("vlanId answers -1 for an untagged frame and -2 for a truncated tag", () => {
  assert.equal(vlanId(buildFrame({})), -1);
  assert.equal(vlanId(new Uint8Array(10)), -1);
  const truncated = buildFrame({ vlan: 3 }).subarray(0, 17);
  assert.equal(vlanId(truncated), -2);
});

Deno.test("buildFrame lays out dst, src, tag, type and payload", () => {
  const frame = buildFrame({
    dst: "02:00:00:00:00:02",
    src: "02:00:00:00:00:01",
    vlan: 0x123,
    type: 0x0800,
    payload: new Uint8Array([0xaa, 0xbb]),
  });
  assert.deepEqual(
    Array.from(frame),
    [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x01, 0x23, 0x08, 0x00, 0xaa, 0xbb],
  );
  assert.equal(buildFrame({ payload: 100 }).length, 114);
  assert.throws(() => buildFrame({ dst: "nope" }), /Expected a MAC/);
});
