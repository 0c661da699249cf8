/**
 * Our switch serving Debian's vdeplug4 clients (`vde_plug DIR` on stdio) and
 * legacy v1 requests: the handshake, port requests, switching and hub
 * behaviour, and jumbo frames, as real clients see them.
 */
import assert from "node:assert/strict";
import {
  BROADCAST,
  ethFrame,
  mac,
  RawClient,
  sameBytes,
  type StdioClient,
  tagOf,
  waitForPortFiles,
  withSwitch,
} from "../helpers/vde_clients.ts";

const MAC_A = mac(0xa);
const MAC_B = mac(0xb);
const MAC_C = mac(0xc);

/**
 * Sends `frame` from `from`, then a broadcast marker from the same client,
 * and waits for the marker at `watcher`. The switch handles one client's
 * frames in order, so once the marker is there the frame was either
 * delivered to `watcher` already or not at all.
 */
async function sendThenMark(
  from: StdioClient,
  frame: Uint8Array,
  src: Uint8Array,
  watcher: StdioClient,
  markTag: number,
) {
  await from.send(frame, ethFrame(BROADCAST, src, markTag));
  await watcher.waitTag(markTag);
}

/** Three vde_plug clients A, B, C on `dir`, connected. */
async function threePlugs(
  dir: string,
  clients: { vdePlug(t: string): StdioClient },
): Promise<[StdioClient, StdioClient, StdioClient]> {
  const a = clients.vdePlug(dir);
  const b = clients.vdePlug(dir);
  const c = clients.vdePlug(dir);
  await waitForPortFiles(dir, 3);
  return [a, b, c];
}

Deno.test("two vde_plug clients exchange broadcasts, then learned unicasts a third client does not see", async () => {
  await withSwitch("ours", {}, async ({ dir, clients }) => {
    const [a, b, c] = await threePlugs(dir, clients);

    // Broadcasts from A and B reach everyone else and teach the switch their MACs.
    const bcA = ethFrame(BROADCAST, MAC_A, 1);
    await a.send(bcA);
    assert.ok(sameBytes(await b.waitTag(1), bcA), "B got A's broadcast intact");
    assert.ok(sameBytes(await c.waitTag(1), bcA), "C got A's broadcast intact");
    const bcB = ethFrame(BROADCAST, MAC_B, 2);
    await b.send(bcB);
    assert.ok(sameBytes(await a.waitTag(2), bcB), "A got B's broadcast intact");
    await c.waitTag(2);
    await c.send(ethFrame(BROADCAST, MAC_C, 7));
    await Promise.all([a.waitTag(7), b.waitTag(7)]);
    assert.equal(a.hasTag(1), false, "a broadcast does not come back to its sender");

    // Unicasts between learned MACs go to their port only.
    const ab = ethFrame(MAC_B, MAC_A, 3, 200);
    await sendThenMark(a, ab, MAC_A, c, 4);
    assert.ok(sameBytes(await b.waitTag(3), ab), "B got A's unicast intact");
    const ba = ethFrame(MAC_A, MAC_B, 5, 1514);
    await sendThenMark(b, ba, MAC_B, c, 6);
    assert.ok(sameBytes(await a.waitTag(5), ba), "A got B's unicast intact");
    assert.equal(c.hasTag(3), false, "C must not see A->B unicast once B is learned");
    assert.equal(c.hasTag(5), false, "C must not see B->A unicast once A is learned");
  });
});

Deno.test("in hub mode a third vde_plug client sees unicast frames too", async () => {
  await withSwitch("ours", { hub: true }, async ({ dir, clients }) => {
    const [a, b, c] = await threePlugs(dir, clients);
    await a.send(ethFrame(BROADCAST, MAC_A, 1));
    await b.send(ethFrame(BROADCAST, MAC_B, 2));
    await Promise.all([b.waitTag(1), c.waitTag(1), a.waitTag(2), c.waitTag(2)]);
    await a.send(ethFrame(MAC_B, MAC_A, 3));
    await b.send(ethFrame(MAC_A, MAC_B, 4));
    await Promise.all([b.waitTag(3), c.waitTag(3), a.waitTag(4), c.waitTag(4)]);
    assert.equal(a.hasTag(3), false, "a hub does not echo a frame to its source");
    assert.equal(b.hasTag(4), false, "a hub does not echo a frame to its source");
  });
});

Deno.test("a port number requested by vde_plug DIR[5] is honoured", async () => {
  await withSwitch("ours", {}, async ({ dir, clients }) => {
    const five = clients.vdePlug(`${dir}[5]`);
    const [file] = await waitForPortFiles(dir, 1);
    assert.match(file!, /^005\.\d+$/);
    // The port works: a second client (auto-assigned, so port 1) talks to it.
    const other = clients.vdePlug(dir);
    const files = await waitForPortFiles(dir, 2);
    assert.ok(files.some((f) => /^001\.\d+$/.test(f)), `auto-assigned port 1 in ${files.join(" ")}`);
    await five.send(ethFrame(BROADCAST, MAC_A, 1));
    await other.waitTag(1);
    await other.send(ethFrame(MAC_A, MAC_B, 2));
    await five.waitTag(2);
  });
});

Deno.test("vde_plug DIR[0] attaches to port 0 and exchanges frames", async () => {
  await withSwitch("ours", {}, async ({ dir, clients }) => {
    const zero = clients.vdePlug(`${dir}[0]`);
    const [file] = await waitForPortFiles(dir, 1);
    assert.match(file!, /^000\.\d+$/);
    const other = clients.vdePlug(dir);
    await waitForPortFiles(dir, 2);
    await zero.send(ethFrame(BROADCAST, MAC_A, 1));
    await other.waitTag(1);
    await other.send(ethFrame(BROADCAST, MAC_B, 2));
    await zero.waitTag(2);
  });
});

Deno.test("switch serves a v1 request and the v1 client talks to vde_plug", async () => {
  await withSwitch("ours", {}, async ({ dir, clients }) => {
    const v1 = clients.add(await RawClient.connect(dir));
    await v1.sendRequestV1();
    const reply = await v1.awaitReply(5000);
    assert.equal(reply.type, "reply", `a v1 request gets a reply, got ${JSON.stringify(reply)}`);
    if (reply.type !== "reply") return;
    assert.match(reply.path, new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/001\\.\\d+$`));
    v1.data.connect(reply.path);
    const plug = clients.vdePlug(dir);
    await waitForPortFiles(dir, 2);
    const f = ethFrame(BROADCAST, MAC_A, 1);
    assert.equal(v1.send(f), 0);
    assert.ok(sameBytes(await plug.waitTag(1), f));
    await plug.send(ethFrame(MAC_A, MAC_B, 2));
    await v1.waitTag(2);
  });
});

Deno.test("9000-byte frames pass between vde_plug clients both ways, unchanged", async () => {
  await withSwitch("ours", {}, async ({ dir, clients }) => {
    const a = clients.vdePlug(dir);
    const b = clients.vdePlug(dir);
    await waitForPortFiles(dir, 2);
    const big = ethFrame(BROADCAST, MAC_A, 1, 9000);
    await a.send(big);
    const got = await b.waitTag(1);
    assert.equal(got.length, 9000, "not truncated to 1518 like Debian's switch");
    assert.ok(sameBytes(got, big));
    const back = ethFrame(MAC_A, MAC_B, 2, 9000);
    await b.send(back);
    assert.ok(sameBytes(await a.waitTag(2), back));
    // A burst of jumbo frames arrives whole and in order (8: below the receiver queue limit, 10).
    const burst = Array.from({ length: 8 }, (_, i) => ethFrame(MAC_B, MAC_A, 100 + i, 9000));
    await a.send(...burst);
    await b.waitTag(107);
    const tags = b.frames.map(tagOf).filter((t) => t >= 100);
    assert.deepEqual(tags, Array.from({ length: 8 }, (_, i) => 100 + i));
  });
});
