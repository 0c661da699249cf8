/**
 * A datagram link whose input a receive thread drains: frames leave the
 * kernel queue while the main thread is blocked, arrive in order, oversize
 * datagrams are counted, and closing the link stops the thread before the
 * socket is closed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { C, datagramPair, libc } from "../../ffi/libc.ts";
import { RxThread } from "../../src/dataplane/rx_thread.ts";
import { DgramLink, type ReceiveMode } from "../../src/link/dgram_link.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { sleep, waitFor } from "../helpers/processes.ts";
import { dgramPair } from "../helpers/dgram_pair.ts";

/**
 * Runs `fn` with a link on a receive thread and the peer's socket, connected
 * to each other (as a switch port and its client are); then closes both and
 * waits until the link's socket is closed, which happens only once its
 * thread has let go of it.
 */
async function withLink(
  fn: (link: DgramLink, theirs: UnixDgramSocket, dir: string) => Promise<void>,
  receive: ReceiveMode = true,
  now?: () => number,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-rx-" });
  const { ours, theirs } = dgramPair(dir);
  const link = new DgramLink(ours, "test peer", receive, now);
  try {
    await fn(link, theirs, dir);
  } finally {
    link.close();
    theirs.close();
  }
  await waitFor(() => ours.fd === -1, {
    timeoutMs: 5000,
    what: "our socket closed after the thread stopped",
  });
  await Deno.remove(dir, { recursive: true });
}

/** A sequence number no test frame carries. */
const PROBE = 0xffffffff;

function frame(seq: number, length = 100): Uint8Array {
  const f = new Uint8Array(length);
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

Deno.test("a receive thread empties the kernel queue while the main thread is blocked, and delivers every frame in order", async () => {
  await withLink(async (link, theirs) => {
    const got: number[] = [];
    link.onFrame = (f) => got.push(new DataView(f.buffer, f.byteOffset).getUint32(14));
    assert.ok(link.hasReceiveThread);
    // The thread runs once one frame comes through (its first start in a process type-checks the
    // worker: seconds under load, longer than the blocked main thread below waits for room).
    assert.equal(theirs.send(frame(PROBE)), 0);
    await waitFor(() => got.includes(PROBE), { timeoutMs: 60_000, what: "the receive thread running" });
    got.length = 0;
    const before = link.stats.framesIn;
    // Far more than the kernel holds (the sender's send buffer), sent without ever yielding: a full
    // queue can only empty if another thread reads it.
    const total = 3000;
    for (let seq = 0; seq < total; seq++) {
      const deadline = performance.now() + 5000;
      let err: number;
      while ((err = theirs.send(frame(seq))) === C.EAGAIN) {
        assert.ok(performance.now() < deadline, `frame ${seq}: the queue never emptied`);
      }
      assert.equal(err, 0);
    }
    assert.equal(got.length, 0, "nothing is delivered while the main thread is busy");
    await waitFor(() => got.length === total, { timeoutMs: 10_000, what: `${total} frames delivered` });
    assert.deepEqual(got, [...Array(total).keys()]);
    assert.equal(link.stats.framesIn - before, total);
  });
});

Deno.test("a receive thread drops datagrams larger than a frame and counts them", async () => {
  await withLink(async (link, theirs) => {
    const got: number[] = [];
    link.onFrame = (f) => got.push(f.length);
    assert.equal(theirs.send(frame(1, 9300)), 0);
    assert.equal(theirs.send(frame(2, 1514)), 0);
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: "the valid frame" });
    assert.deepEqual(got, [1514]);
    await waitFor(() => link.oversizeDrops === 1, { timeoutMs: 5000, what: "the oversize count" });
    assert.equal(link.stats.dropsIn, 1);
  });
});

Deno.test("a link with a receive thread still sends from the main thread", async () => {
  await withLink(async (link, theirs) => {
    link.send(frame(7));
    const got: number[] = [];
    await waitFor(() => {
      theirs.recvBatch((f) => got.push(new DataView(f.buffer, f.byteOffset).getUint32(14)), { oversize: 0 });
      return got.length === 1;
    }, { timeoutMs: 3000, intervalMs: 5, what: "our frame at the peer" });
    assert.deepEqual(got, [7]);
    assert.equal(link.stats.framesOut, 1);
  });
});

Deno.test("a receive thread takes a socket's pending error once and goes on delivering", async () => {
  await withLink(async (link, theirs, dir) => {
    const got: number[] = [];
    link.onFrame = (f) => got.push(f.length);
    const elsewhere = UnixDgramSocket.create();
    elsewhere.bind(`${dir}/elsewhere`);
    try {
      // A frame of ours waits unread at the peer; the peer connecting elsewhere drops it
      // and leaves ECONNRESET pending on our socket, which the thread's next receive reports.
      link.send(frame(1, 60));
      const MSG_PEEK = 2;
      await waitFor(() => libc().recv(theirs.fd, new Uint8Array(1), 1, MSG_PEEK | C.MSG_DONTWAIT) >= 0, {
        timeoutMs: 5000,
        what: "our frame waiting at the peer",
      });
      theirs.connect(`${dir}/elsewhere`);
      theirs.connect(`${dir}/ours`);
      assert.equal(theirs.send(frame(2, 70)), 0);
      await waitFor(() => got.length === 1, { timeoutMs: 5000, what: "the frame sent after the error" });
      assert.deepEqual(got, [70]);
      assert.equal(link.isClosed, false);
    } finally {
      elsewhere.close();
    }
  });
});

Deno.test("an on-demand link hands its socket to the receive thread and back many times and delivers a stream's bytes intact and in order", async () => {
  // The governor's clock: moved on by the test to end a stream's hold without waiting for it.
  const clock = { now: 0 };
  await withLink(
    async (link, theirs) => {
      const want = createHash("sha256");
      const got = createHash("sha256");
      let seq = 0;
      let expected = 0;
      let outOfOrder = 0;
      link.onFrame = (f) => {
        if (new DataView(f.buffer, f.byteOffset).getUint32(14) !== expected++) outOfOrder++;
        got.update(f);
      };
      /**
       * Sends one frame of the stream: its number, then bytes that depend on it. On a full queue it
       * waits as a sender in another process would, letting this thread run: while the link reads its
       * socket itself, a sender spinning here left no one to read (the first burst unread when the
       * 10 ms pause after it ended before the poller had turned, under load, and the second one full).
       */
      const sendOne = async () => {
        const f = frame(seq, 60 + (seq * 37) % 1400);
        for (let i = 18; i < f.length; i++) f[i] = (seq * 31 + i) & 0xff;
        seq++;
        want.update(f);
        const deadline = performance.now() + 10_000;
        let err: number;
        while ((err = theirs.send(f)) === C.EAGAIN) {
          assert.ok(performance.now() < deadline, "the queue never emptied");
          await sleep(1);
        }
        assert.equal(err, 0);
      };
      assert.ok(link.readsDirect, "the link reads its socket itself until a stream comes");
      // Streams are relayed once a loss on the way in was seen (read_handover.ts).
      link.upstreamLoss();
      let handovers = 0;
      for (let round = 0; round < 25; round++) {
        // A burst larger than one read's batch: the first read (a stream's backlog) engages the receive thread,
        // which reads the rest.
        // Until the thread runs (its first start type-checks the worker: seconds under load), bursts are
        // read here.
        const until = performance.now() + 60_000;
        while (link.readsDirect) {
          assert.ok(performance.now() < until, `never engaged, round ${round}`);
          for (let i = 0; i < 100; i++) await sendOne();
          await sleep(10);
        }
        handovers++;
        // Past the hold: the next frame through the ring gives the socket back; frames sent right behind
        // it are read by the receive thread before it lets go, or by the link after.
        clock.now += 1000;
        for (let i = 0; i < 10; i++) await sendOne();
        await waitFor(() => link.readsDirect, { timeoutMs: 10_000, what: `given back, round ${round}` });
        for (let i = 0; i < 5; i++) {
          await sendOne();
          await sleep(1);
        }
        clock.now += 1000;
      }
      await waitFor(() => expected === seq, { timeoutMs: 10_000, what: `${seq} frames delivered` });
      assert.equal(outOfOrder, 0);
      assert.equal(got.digest("hex"), want.digest("hex"));
      assert.equal(handovers, 25);
      assert.equal(link.stats.framesIn, seq);
    },
    "on-demand",
    () => clock.now,
  );
});

Deno.test("a receive thread that dies ends its link with the reason, not the whole process with an uncaught error", async () => {
  const pair = datagramPair();
  assert.ok(pair !== null);
  const erring = new URL("./_erring_worker.ts", import.meta.url);
  const reasons: string[] = [];
  const ignore = () => {};
  const thread = new RxThread(
    pair[0],
    { frame: ignore, oversize: ignore, failed: (r) => reasons.push(r) },
    false,
    erring,
  );
  try {
    await waitFor(() => reasons.length > 0, { timeoutMs: 60_000, what: "the link's failure" });
    assert.equal(reasons.length, 1, reasons.join("\n"));
    assert.match(reasons[0]!, /^receive thread failed: .*this worker dies after it ran$/);
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of pair) libc().close(fd);
  }
});
