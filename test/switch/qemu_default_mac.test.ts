/** QEMU's default MACs: 52:54:00:12:34:56 and the NICs after it (engine_loop.test.ts: what the switch says of them). */
import assert from "node:assert/strict";
import { isQemuDefaultMac, qemuDuplicateMessage } from "../../src/switch/qemu_default_mac.ts";

Deno.test("QEMU's default MACs are 52:54:00:12:34:56 and the NICs after it, no other", () => {
  assert.equal(isQemuDefaultMac(0x5254, 0x00123456), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123457), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123455), false);
  assert.equal(isQemuDefaultMac(0x5254, 0x00000001), false);
  assert.equal(isQemuDefaultMac(0x0200, 0x00123456), false);
});

Deno.test("the mac= the line gives a VM on a port past 255 is still six bytes (the port's two last)", () => {
  assert.match(qemuDuplicateMessage("52:54:00:12:34:56", 0, 2, 3), /mac=52:54:00:00:00:03$/);
  assert.match(qemuDuplicateMessage("52:54:00:12:34:56", 0, 2, 300), /mac=52:54:00:00:01:2c$/);
  assert.match(qemuDuplicateMessage("52:54:00:12:34:56", 0, 2, 65535), /mac=52:54:00:00:ff:ff$/);
});
