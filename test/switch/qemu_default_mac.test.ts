/**
 * Two VMs started without mac= share QEMU's default MAC: the engine says so (not "loop? run with --stp"),
 * once a minute, naming the ports and the mac= that fixes it; a VM that quit and came back on another port
 * is no duplicate, and other MACs keep the loop warning.
 */
import assert from "node:assert/strict";
import { type LoopWarning, SwitchEngine } from "../../src/switch/engine.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import { isQemuDefaultMac } from "../../src/switch/qemu_default_mac.ts";

const QEMU = "52:54:00:12:34:56";
const BROADCAST = "ff:ff:ff:ff:ff:ff";

function rig() {
  const warnings: LoopWarning[] = [];
  const engine = new SwitchEngine({ numPorts: 5, onLoopSuspected: (w) => warnings.push(w) }, () => {});
  for (const p of [1, 2, 3]) engine.activatePort(p);
  return { engine, warnings };
}

Deno.test("QEMU's default MAC from two VMs on ports 2 and 3 is said once a minute with the mac= to give each", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  // Two iPXE ROMs asking DHCP in turn, a frame every 500 ms each, for 90 s.
  for (let ms = 1; ms < 90_000; ms += 250) {
    engine.tick(ms);
    engine.input(ms % 500 === 1 ? 2 : 3, frame);
  }
  assert.equal(warnings.length, 2, warnings.map((w) => w.message).join("\n"));
  assert.equal(
    warnings[0]!.message,
    `MAC ${QEMU} VLAN 0, QEMU's default, is on ports 2 and 3: two VMs started without mac= share it and ` +
      "each loses frames; give each its own, e.g. -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:03",
  );
  assert.doesNotMatch(warnings.map((w) => w.message).join("\n"), /--stp/);
});

Deno.test("a VM with QEMU's default MAC that quit and came back on another port is not told of", () => {
  const { engine, warnings } = rig();
  const frame = buildFrame({ dst: BROADCAST, src: QEMU });
  engine.tick(1);
  engine.input(2, frame);
  engine.deactivatePort(2);
  engine.tick(2);
  engine.input(3, frame);
  assert.deepEqual(warnings, []);
});

Deno.test("QEMU's default MACs are 52:54:00:12:34:56 and the NICs after it, no other", () => {
  assert.equal(isQemuDefaultMac(0x5254, 0x00123456), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123457), true);
  assert.equal(isQemuDefaultMac(0x5254, 0x00123455), false);
  assert.equal(isQemuDefaultMac(0x5254, 0x00000001), false);
  assert.equal(isQemuDefaultMac(0x0200, 0x00123456), false);
});
