/**
 * End to end: two QEMU VMs started alike, without mac=, on our switch. Both
 * NICs are QEMU's default 52:54:00:12:34:56; Debian's iPXE ROM on each asks
 * DHCP, so the switch sees that MAC on two ports that are up, and its log
 * says so, naming QEMU's default and the mac= that fixes it, where a storm
 * of it would have read as a loop. Needs QEMU and Debian's ipxe-qemu.
 */
import assert from "node:assert/strict";
import { hasCommand, pathExists, skipUnless, spawnManaged, waitFor } from "../helpers/processes.ts";
import { withSwitch } from "../helpers/vde_clients.ts";

/** QEMU's default ROM for virtio-net-pci, from Debian's ipxe-qemu. */
const IPXE_ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";

function vm(dir: string) {
  return spawnManaged([
    "qemu-system-x86_64",
    // TCG: iPXE hangs under nested KVM on some hosts, and TCG boots it in seconds anyway.
    "-machine",
    "accel=tcg",
    "-m",
    "128",
    "-net",
    "none",
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "none",
    "-netdev",
    `vde,id=n0,sock=${dir}`,
    "-device",
    "virtio-net-pci,netdev=n0", // no mac=: QEMU's default
    "-boot",
    "n",
  ], { name: "qemu" });
}

Deno.test("two QEMU VMs without mac= on one switch: the switch says they share QEMU's default MAC and what mac= to give", async (t) => {
  if (
    skipUnless(t, (await hasCommand("qemu-system-x86_64")) ? null : "qemu-system-x86_64 is not installed")
  ) {
    return;
  }
  if (skipUnless(t, (await pathExists(IPXE_ROM)) ? null : "Debian's ipxe-qemu is not installed")) return;
  await withSwitch("ours", {}, async ({ sw, dir }) => {
    const one = vm(dir);
    const two = vm(dir);
    try {
      await waitFor(() => /QEMU's default/.test(sw.stderr()), {
        timeoutMs: 90_000,
        what: "the switch's line about QEMU's default MAC",
      }).catch((err) => {
        throw new Error(`${err.message}\nswitch log:\n${sw.stderr()}`);
      });
      assert.match(
        sw.stderr(),
        /MAC 52:54:00:12:34:56 VLAN 0, QEMU's default, is on ports [12] and [12]: two VMs started without mac= share it and each loses frames; give each its own, e\.g\. -device virtio-net-pci,netdev=n0,mac=52:54:00:00:00:0[12]/,
      );
      assert.doesNotMatch(sw.stderr(), /--stp/);
    } finally {
      await one.stop({ timeoutMs: 3000 });
      await two.stop({ timeoutMs: 3000 });
    }
  });
});
