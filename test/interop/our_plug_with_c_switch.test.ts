/**
 * Our vde:// client (the library's openVdeLink and the `vde plug` command)
 * attached to Debian's C vde_switch, talking to a Debian vde_plug client.
 */
import assert from "node:assert/strict";
import { openVdeLink } from "../../src/link/vde_link.ts";
import {
  BROADCAST,
  ethFrame,
  listDir,
  mac,
  sameBytes,
  tagOf,
  until,
  waitForPortFiles,
  within,
  withSwitch,
} from "../helpers/vde_clients.ts";

const MAC_OURS = mac(0x51);
const MAC_DEBIAN = mac(0x52);

Deno.test("openVdeLink attaches to Debian's vde_switch and exchanges frames with vde_plug both ways", async () => {
  await withSwitch("c", {}, async ({ dir, clients }) => {
    const link = await within("openVdeLink to the C switch", 10_000, openVdeLink(dir));
    try {
      const got: Uint8Array[] = [];
      link.onFrame = (f) => got.push(f.slice()); // the view is borrowed: keep a copy
      // Our client unlinks its own socket after the handshake, as vdeplug4 does.
      assert.deepEqual((await listDir(dir)).filter((n) => n.startsWith(".")), []);
      const plug = clients.vdePlug(dir);
      await waitForPortFiles(dir, 2);

      const out = ethFrame(BROADCAST, MAC_OURS, 1, 100);
      link.send(out);
      assert.ok(sameBytes(await plug.waitTag(1), out), "vde_plug got our frame intact");
      const back = ethFrame(MAC_OURS, MAC_DEBIAN, 2, 1514);
      await plug.send(back);
      await until("vde_plug's unicast at our link", () => got.some((f) => tagOf(f) === 2));
      assert.ok(sameBytes(got.find((f) => tagOf(f) === 2)!, back));
      // Learned now: unicast back to vde_plug.
      link.send(ethFrame(MAC_DEBIAN, MAC_OURS, 3));
      await plug.waitTag(3);
      assert.equal(link.stats.framesOut, 2);
      // A burst to the switch waits in a 1 MiB kernel buffer (the kernel reports it doubled), not in our queue.
      if (Deno.uid() === 0) assert.ok(link.socket.sendBufferSize >= 2 << 20, `${link.socket.sendBufferSize}`);
    } finally {
      link.close();
    }
    assert.equal(await within("the link to close", 2000, link.closed), "closed");
    // Closing the control stream frees the port on the C switch.
    await waitForPortFiles(dir, 1);
  });
});

Deno.test("openVdeLink for a plug thread keeps the system's default send buffer and starts no receive thread", async () => {
  await withSwitch("c", {}, async ({ dir }) => {
    const link = await within("openVdeLink to the C switch", 10_000, openVdeLink(dir, { plugThread: true }));
    try {
      // The plug thread waits when the switch's queue is full: frames stay in the tap's queue, not ours.
      const wmem = Number((await Deno.readTextFile("/proc/sys/net/core/wmem_default")).trim());
      assert.equal(link.socket.sendBufferSize, wmem);
      assert.equal(link.hasReceiveThread, false);
    } finally {
      link.close();
    }
    assert.equal(await within("the link to close", 2000, link.closed), "closed");
  });
});

Deno.test("a closed C switch ends our link with a reason", async () => {
  await withSwitch("c", {}, async ({ sw, dir }) => {
    const link = await within("openVdeLink to the C switch", 10_000, openVdeLink(dir));
    try {
      await sw.stop();
      assert.equal(await within("the link to notice", 5000, link.closed), "the switch closed the connection");
    } finally {
      link.close();
    }
  });
});

Deno.test("vde plug on stdio attaches to Debian's vde_switch and exchanges frames with vde_plug both ways", async () => {
  await withSwitch("c", {}, async ({ dir, clients }) => {
    const ours = clients.ourPlug(dir);
    const theirs = clients.vdePlug(dir);
    await waitForPortFiles(dir, 2, 15_000);
    const a = ethFrame(BROADCAST, MAC_OURS, 1, 60);
    await ours.send(a);
    assert.ok(sameBytes(await theirs.waitTag(1, 10_000), a));
    const b = ethFrame(MAC_OURS, MAC_DEBIAN, 2, 1514);
    await theirs.send(b);
    assert.ok(sameBytes(await ours.waitTag(2, 10_000), b));
    // Small bursts both ways arrive complete and in order. The C switch drops
    // on a full receiver queue (net.unix.max_dgram_qlen, 10 by default), so
    // each burst stays below that.
    const rounds = 5;
    const per = 8;
    for (let r = 0; r < rounds; r++) {
      const base = r * per;
      await ours.send(
        ...Array.from({ length: per }, (_, i) => ethFrame(MAC_DEBIAN, MAC_OURS, 1000 + base + i, 300)),
      );
      await theirs.send(
        ...Array.from({ length: per }, (_, i) => ethFrame(MAC_OURS, MAC_DEBIAN, 5000 + base + i, 300)),
      );
      await theirs.waitTag(1000 + base + per - 1, 10_000);
      await ours.waitTag(5000 + base + per - 1, 10_000);
    }
    const n = rounds * per;
    assert.deepEqual(
      theirs.frames.map(tagOf).filter((t) => t >= 1000),
      Array.from({ length: n }, (_, i) => 1000 + i),
    );
    assert.deepEqual(
      ours.frames.map(tagOf).filter((t) => t >= 5000),
      Array.from({ length: n }, (_, i) => 5000 + i),
    );
  });
});

Deno.test("openVdeLink gives up on a C switch that never answers an out-of-range port request", async () => {
  // Debian's vde_switch neither replies to nor closes a request for a port it
  // does not have (spec 1.3): the client must time out, not hang.
  await withSwitch("c", { ports: 8 }, async ({ dir }) => {
    const started = Date.now();
    await assert.rejects(
      within("openVdeLink to give up", 15_000, openVdeLink(`${dir}[20]`)),
      (err: Error) => {
        assert.match(err.message, /switch/);
        assert.match(err.message, /port 20/);
        return true;
      },
    );
    const ms = Date.now() - started;
    assert.ok(ms >= 4000 && ms < 10_000, `gave up after ${ms} ms, expected about 5 s`);
    // Nothing of ours is left in the switch directory.
    assert.deepEqual(await listDir(dir), ["ctl"]);
  });
});

Deno.test("vde plug exits with an error naming the switch when the C switch never answers", async () => {
  await withSwitch("c", { ports: 8 }, async ({ dir, clients }) => {
    const ours = clients.ourPlug(`${dir}[20]`);
    const status = await ours.waitExit(20_000);
    assert.ok(status !== null, "vde plug did not give up within 20 s");
    assert.notEqual(status.code, 0);
    assert.match(ours.stderr, /switch/);
  });
});
