/**
 * vxlan:// against Debian's vde_plug with the same URL, both ways round,
 * and against a Linux kernel vxlan device (ping across).
 *
 * Debian's vdeplug4 4.0.1 vxlan plugin never learns where a MAC is (it
 * calls recvmsg with a zero-length address buffer, seen with strace) and
 * its sends to a "learnt" MAC go nowhere, so from Debian's side only
 * broadcast, multicast and not-yet-learnt unicast frames cross; that is
 * what is checked in that direction. Our side learns and sends unicast
 * straight to Debian's VTEP.
 */
import assert from "node:assert/strict";
import { ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { skipUnless } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { exchange, missing, plugIn, type Side, vethPair } from "../helpers/netns_pair.ts";

for (const [sideA, sideB] of [["debian", "ours"], ["ours", "debian"]] as [Side, Side][]) {
  Deno.test(`vxlan:// ${sideA} in a, ${sideB} in b: frames cross both ways`, async (t) => {
    if (skipUnless(t, await missing(true))) return;
    await withNetns(async (lab) => {
      const p = await vethPair(lab);
      const url = "vxlan://239.199.0.1/vni=4660";
      const x = plugIn(p.a, sideA, url);
      const y = plugIn(p.b, sideB, url);
      try {
        await exchange(x, y, { unicastFromX: sideA === "ours", unicastFromY: sideB === "ours" });
        await exchange(y, x, {
          tagBase: 5000,
          unicastFromX: sideB === "ours",
          unicastFromY: sideA === "ours",
        });
      } finally {
        await Promise.all([x.stop(), y.stop()]);
      }
    });
  });
}

Deno.test("vxlan:// pings a Linux kernel vxlan device across a veth", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    // b: the kernel's VTEP; a: our vxlan:// plugged into a tap.
    await p.b.run([
      "ip",
      "link",
      "add",
      "vx0",
      "type",
      "vxlan",
      "id",
      "42",
      "group",
      "239.199.0.2",
      "dev",
      "v0",
      "dstport",
      "4789",
      "ttl",
      "1",
    ]);
    await p.b.addr("vx0", "10.199.42.2/24");
    await p.a.tap("t0");
    await p.a.addr("t0", "10.199.42.1/24");
    const plug = p.a.spawn([...ourCli(), "plug", "vxlan://239.199.0.2/vni=42", "tap://t0"], {
      name: "vde plug",
    });
    await p.a.waitForCarrier("t0", 20_000);
    await waitForPing(p.a, "10.199.42.2", 20_000);
    const there = await ping(p.a, "10.199.42.2", 5, 0.1);
    assert.equal(there.received, 5, there.output);
    const back = await ping(p.b, "10.199.42.1", 5, 0.1);
    assert.equal(back.received, 5, back.output);
    // The kernel learnt our VTEP: its forwarding table names a's address.
    const fdb = await p.b.run(["bridge", "fdb", "show", "dev", "vx0"], { check: false });
    assert.match(fdb.stdout, new RegExp(`dst ${p.addrA.replaceAll(".", "\\.")}`), fdb.stdout);
    assert.equal(plug.exitStatus, null, plug.stderr);
  });
});
