/** QEMU's default MACs: 52:54:00:12:34:56 and the NICs after it (engine_loop.test.ts: what the switch says of them). */
import assert from "node:assert/strict";
import { isQemuDefaultMac } from "../../src/switch/qemu_default_mac.ts";

Deno.test("QEMU's default MACs are 52:54:00:12:34:56 and the NICs after it, no other", () => {
  assert.equal(isQemuDefaultMac(0x5254, 0x00123456), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123457), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123455), false);
  assert.equal(isQemuDefaultMac(0x5254, 0x00000001), false);
  assert.equal(isQemuDefaultMac(0x0200, 0x00123456), false);
});
