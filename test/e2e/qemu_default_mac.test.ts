/**
 * End to end: two QEMU VMs started alike, without mac=, on our switch. Both
 * NICs are QEMU's default 52:54:00:12:34:56; Debian's iPXE ROM on each asks
 * DHCP, so the switch sees that MAC on two ports that are up, and its log
 * says so, naming QEMU's default and the mac= that fixes it, where a storm
 * of it would have read as a loop. Needs QEMU and Debian's ipxe-qemu.
 */
import assert from "node:assert/strict";
import { skipUnless, waitFor } from "../helpers/processes.ts";
import { ipxeVm, ipxeVmMissing } from "../helpers/qemu.ts";
import { withSwitch } from "../helpers/vde_clients.ts";

Deno.test("two QEMU VMs without mac= on one switch: the switch says they share QEMU's default MAC and what mac= to give", async (t) => {
  if (skipUnless(t, await ipxeVmMissing())) return;
  await withSwitch("ours", {}, async ({ sw, dir }) => {
    // No mac= on either NIC: both are QEMU's default.
    const one = ipxeVm(dir);
    const two = ipxeVm(dir);
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
