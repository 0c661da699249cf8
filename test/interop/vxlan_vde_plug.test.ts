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
 *
 * One port, several VNIs: the kernel's vxlan devices share one socket per
 * port and so do the links of one of our processes; two processes cannot
 * (Debian's vde_plug binds without SO_REUSEADDR, and a second VTEP on the
 * port would take the first one's unicast), which ours says in one line.
 */
import assert from "node:assert/strict";
import { ping, waitForPing, withNetns } from "../helpers/netns.ts";
import { run, skipUnless, waitFor } from "../helpers/processes.ts";
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

Deno.test("vxlan:// two VNIs on one port in one process: vde plug A B joins a kernel VTEP's two VNIs, ping crosses", async (t) => {
  if (skipUnless(t, await missing(false))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    // b: the kernel's VTEP with VNIs 1 and 2 on port 4789, each device moved to a namespace of its own.
    const ends: [string, string, string][] = [["c", "vx1", "1"], ["d", "vx2", "2"]];
    const hosts = [];
    for (const [i, [short, dev, id]] of ends.entries()) {
      const ns = await lab.namespace(short);
      const add = ["ip", "link", "add", dev, "type", "vxlan", "id", id, "group", "239.199.0.3", "dev", "v0"];
      await p.b.run([...add, "dstport", "4789", "ttl", "1"]);
      await p.b.run(["ip", "link", "set", dev, "netns", ns.name]);
      await ns.addr(dev, `10.199.43.${i + 1}/24`);
      hosts.push(ns);
    }
    const [c, d] = hosts as [typeof p.a, typeof p.a];
    // a: ours, bridging VNI 1 and VNI 2, both on port 4789.
    const plug = p.a.spawn(
      [...ourCli(), "plug", "vxlan://239.199.0.3/vni=1", "vxlan://239.199.0.3/vni=2"],
      { name: "vde plug" },
    );
    await waitForPing(c, "10.199.43.2", 20_000);
    const there = await ping(c, "10.199.43.2", 5, 0.1);
    assert.equal(there.received, 5, there.output);
    const back = await ping(d, "10.199.43.1", 5, 0.1);
    assert.equal(back.received, 5, back.output);
    assert.equal(plug.exitStatus, null, plug.stderr);
  });
});

Deno.test("vxlan:// a port Debian's vde_plug holds is refused in one line, as Debian's own second vde_plug fails there", async (t) => {
  if (skipUnless(t, await missing(true))) return;
  await withNetns(async (lab) => {
    const p = await vethPair(lab);
    const url = "vxlan://239.199.0.4/vni=7";
    const bound = () =>
      waitFor(async () => (await p.a.run(["ss", "-Hunl", "sport = :4789"])).stdout.includes(":4789"), {
        timeoutMs: 20_000,
        what: "port 4789 bound",
      });
    const debian = p.a.spawn(["vde_plug", url, "null://"], { name: "Debian vde_plug" });
    await bound();
    const ours = await run(p.a.exec([...ourCli(), "plug", `${url.replace("7", "8")}`, "null://"]), {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(ours.code, 1, ours.stderr);
    assert.match(ours.stderr, /^vde: .*UDP port 4789 is taken on this host .*another port=.*\n$/);
    const second = await run(p.a.exec(["vde_plug", url, "null://"]), { check: false, timeoutMs: 10_000 });
    assert.notEqual(second.code, 0, "Debian's second vde_plug on the port fails too");
    assert.equal(debian.exitStatus, null, debian.stderr);
  });
});
