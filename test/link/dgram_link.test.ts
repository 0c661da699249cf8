/**
 * The datagram link's output queue as flow control: frames the peer cannot
 * take yet wait in a bounded queue, the link says it is congested meanwhile,
 * and `onDrain` runs once the queue has emptied, with nothing lost.
 */
import assert from "node:assert/strict";
import { DgramLink } from "../../src/link/dgram_link.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { poller } from "../../src/io/poller.ts";
import { waitFor } from "../helpers/processes.ts";
import { dgramPair } from "../helpers/dgram_pair.ts";

Deno.test("a frame sent by an after-round hook leaves after the frames the round staged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dgram-" });
  const { ours, theirs } = dgramPair(dir);
  const link = new DgramLink(ours, "test peer");
  const frame = new Uint8Array(100);
  const sendNumbered = (i: number) => {
    frame[14] = i;
    link.send(frame);
  };
  // Registered before the link stages anything, so it runs before the link's own flush (as the slirp's
  // end-of-round flush does on the slirp thread).
  let hookSends = false;
  const unhook = poller().afterRound(() => {
    if (hookSends) sendNumbered(3);
  });
  try {
    hookSends = true;
    poller().round(() => {
      for (let i = 0; i < 3; i++) sendNumbered(i);
    });
    hookSends = false;
    const got: number[] = [];
    await waitFor(() => {
      theirs.recvBatch((f) => got.push(f[14]!), { oversize: 0 });
      return got.length === 4;
    }, { timeoutMs: 3000, intervalMs: 5, what: "4 frames at the peer" });
    assert.deepEqual(got, [0, 1, 2, 3], "in the order they were sent");
  } finally {
    unhook();
    link.close();
    theirs.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a datagram link is congested while frames wait for its peer, and calls onDrain once all are sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-dgram-" });
  const ours = UnixDgramSocket.create();
  const theirs = UnixDgramSocket.create();
  ours.bind(`${dir}/ours`);
  theirs.bind(`${dir}/theirs`);
  // Only ours is connected: the kernel's queue limit applies to senders the receiver is not connected to.
  ours.connect(`${dir}/theirs`);
  const link = new DgramLink(ours, "test peer");
  let drains = 0;
  link.onDrain = () => drains++;
  try {
    // More than the peer's receive queue holds (net.unix.max_dgram_qlen, 10 by default).
    const frame = new Uint8Array(100);
    for (let i = 0; i < 40; i++) {
      frame[14] = i;
      link.send(frame);
    }
    assert.ok(link.congested, "frames wait for the peer");
    assert.ok(link.queued > 0 && link.queued < 40);
    assert.equal(drains, 0);
    const got: number[] = [];
    await waitFor(() => {
      theirs.recvBatch((f) => got.push(f[14]!), { oversize: 0 });
      return got.length === 40;
    }, { timeoutMs: 3000, intervalMs: 5, what: "all 40 frames at the peer" });
    assert.deepEqual(got, [...Array(40).keys()], "every frame, in order");
    await waitFor(() => drains === 1, { timeoutMs: 1000, what: "onDrain" });
    assert.ok(!link.congested);
    assert.equal(link.stats.dropsOut, 0);
  } finally {
    link.close();
    theirs.close();
    await Deno.remove(dir, { recursive: true });
  }
});
