/**
 * The VXLAN header of vxlan:// and vxvde:// (spec 3.7, 3.8), checked
 * against the bytes captured from Debian's vde_plug.
 */
import assert from "node:assert/strict";
import { hasExactHeader, vxlanHeader, vxlanVni, writeVxlanHeader } from "../../src/wire/vxlan.ts";

Deno.test("vxlanHeader matches the captured bytes of vdeplug4", () => {
  assert.deepEqual([...vxlanHeader(4660)], [0x08, 0, 0, 0, 0x00, 0x12, 0x34, 0]);
  assert.deepEqual([...vxlanHeader(1)], [0x08, 0, 0, 0, 0, 0, 1, 0]);
  const b = new Uint8Array(10).fill(0xee);
  writeVxlanHeader(b, 0xffffff, 2);
  assert.deepEqual([...b], [0xee, 0xee, 0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0]);
});

Deno.test("vxlanVni reads the VNI only when the flags byte is exactly 0x08", () => {
  assert.equal(vxlanVni(vxlanHeader(42)), 42);
  const other = vxlanHeader(42);
  other[0] = 0x88; // a GBP-style extension vdeplug4 does not accept
  assert.equal(vxlanVni(other), -1);
  assert.equal(vxlanVni(new Uint8Array(7)), -1);
});

Deno.test("hasExactHeader compares all eight bytes, as vxvde does", () => {
  const h = vxlanHeader(7);
  const d = new Uint8Array(20);
  d.set(h);
  assert.ok(hasExactHeader(d, h));
  d[7] = 1; // reserved byte set: vxvde ignores the datagram
  assert.ok(!hasExactHeader(d, h));
  assert.ok(!hasExactHeader(h.subarray(0, 7), h));
});
