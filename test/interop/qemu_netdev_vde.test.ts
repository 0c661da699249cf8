/**
 * QEMU's `-netdev vde` (libvdeplug inside QEMU) against our switch. No guest
 * is booted: QEMU's own network hub joins two vde netdevs, one on each of
 * two of our switches, so frames from a vde_plug client on one switch must
 * cross QEMU to a client on the other, both ways. That exercises QEMU's
 * handshake and data path exactly as a VM's NIC would use them.
 */
import assert from "node:assert/strict";
import { hasCommand, skipUnless, spawnManaged } from "../helpers/processes.ts";
import { QEMU_HEADLESS } from "../helpers/qemu.ts";
import { BROADCAST, ethFrame, mac, sameBytes, waitForPortFiles, withSwitch } from "../helpers/vde_clients.ts";

Deno.test("QEMU's -netdev vde plugs into our switch and carries frames both ways", async (t) => {
  if (
    skipUnless(t, (await hasCommand("qemu-system-x86_64")) ? null : "qemu-system-x86_64 is not installed")
  ) {
    return;
  }
  await withSwitch("ours", {}, async (one) => {
    await withSwitch("ours", {}, async (two) => {
      const qemu = spawnManaged([
        "qemu-system-x86_64",
        "-machine",
        "none",
        "-nodefaults",
        ...QEMU_HEADLESS,
        "-netdev",
        `vde,id=v1,sock=${one.dir}`,
        "-netdev",
        `vde,id=v2,sock=${two.dir}`,
        "-netdev",
        "hubport,id=h1,hubid=0,netdev=v1",
        "-netdev",
        "hubport,id=h2,hubid=0,netdev=v2",
      ], { name: "qemu" });
      try {
        // QEMU holds one port on each switch.
        await waitForPortFiles(one.dir, 1, 15_000);
        await waitForPortFiles(two.dir, 1, 15_000);
        const a = one.clients.vdePlug(one.dir);
        const b = two.clients.vdePlug(two.dir);
        await waitForPortFiles(one.dir, 2);
        await waitForPortFiles(two.dir, 2);
        const ab = ethFrame(BROADCAST, mac(0x51), 51);
        await a.send(ab);
        assert.ok(sameBytes(await b.waitTag(51), ab), "a frame from switch one crossed QEMU to switch two");
        const ba = ethFrame(mac(0x51), mac(0x52), 52);
        await b.send(ba);
        assert.ok(sameBytes(await a.waitTag(52), ba), "a unicast from switch two crossed QEMU back");
        assert.equal(qemu.exitStatus, null, `qemu exited: ${qemu.stderr}`);
      } finally {
        await qemu.stop({ timeoutMs: 3000 });
      }
    });
  });
});
