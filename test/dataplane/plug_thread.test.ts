/**
 * `plug(a, b, { thread: true })` of two fd links runs on a plug thread: frames cross both
 * ways while the main thread never yields, in order; closing a link ends
 * the plug and closes both sockets only after the thread stopped; a peer
 * gone ends it, an error reported once does not; full-size frames from a
 * tap that meet a full peer wait for it; a datagram longer than a VDE
 * frame is not passed on; the first drop of each kind on each end is said
 * on the main thread, in a link's words.
 */
import assert from "node:assert/strict";
import { DgramLink } from "../../src/link/dgram_link.ts";
import { plug } from "../../src/link/plug.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { waitFor } from "../helpers/processes.ts";
import { within } from "../helpers/vde_clients.ts";
import { C, datagramPair, libc } from "../../ffi/libc.ts";
import { plugDropLine, PlugThread } from "../../src/dataplane/plug_thread.ts";
import { setSocketBuffer } from "../../src/io/socket_buffers.ts";
import { VDE_MAX_FRAME } from "../../src/wire/ethernet.ts";

const MSG_PEEK = 2;

/** A link on our socket and the peer socket it is connected to. */
function linkPair(
  dir: string,
  name: string,
  receiveThread: boolean,
): { link: DgramLink; peer: UnixDgramSocket } {
  const ours = UnixDgramSocket.create();
  const peer = UnixDgramSocket.create();
  ours.bind(`${dir}/${name}-ours`);
  peer.bind(`${dir}/${name}-peer`);
  ours.connect(`${dir}/${name}-peer`);
  peer.connect(`${dir}/${name}-ours`);
  return { link: new DgramLink(ours, name, receiveThread), peer };
}

function frame(seq: number, length = 200): Uint8Array {
  const f = new Uint8Array(length);
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

const PROBE = 0xffff;
const seqOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(14);

/**
 * Waits until a frame sent by a's peer reaches b's peer (the thread starts asynchronously; the first
 * worker of a test process type-checks its module graph, seconds under load), then empties b's queue.
 */
async function waitForwarding(a: UnixDgramSocket, b: UnixDgramSocket): Promise<void> {
  await waitFor(() => {
    a.send(frame(PROBE));
    let seen = false;
    b.recvBatch(() => (seen = true), { oversize: 0 });
    return seen;
  }, { timeoutMs: 60_000, intervalMs: 20, what: "the plug thread forwarding" });
  while (b.recvBatch(() => {}, { oversize: 0 }) > 0) { /* drop the probes */ }
}

/**
 * After a's link was closed: the plug ended for it, b's link closed too, and both sockets only once the
 * thread stopped; then the peers and `dir` go.
 */
async function closedAfterThread(
  a: { link: DgramLink; peer: UnixDgramSocket },
  b: { link: DgramLink; peer: UnixDgramSocket },
  ended: Promise<string>,
  dir: string,
): Promise<void> {
  assert.match(await ended, /closed/);
  assert.ok(b.link.isClosed, "the other end is closed too");
  await waitFor(() => a.link.socket.fd === -1 && b.link.socket.fd === -1, {
    timeoutMs: 5000,
    what: "both sockets closed after the thread stopped",
  });
  a.peer.close();
  b.peer.close();
  await Deno.remove(dir, { recursive: true });
}

/** A plug thread between two fresh link pairs in a new directory; a's link with or without its receive thread. */
async function threadedPlug(receiveThreadA: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "vde-plugthread-" });
  const a = linkPair(dir, "a", receiveThreadA);
  const b = linkPair(dir, "b", false);
  return { dir, a, b, ended: plug(a.link, b.link, { thread: true }) };
}

Deno.test("plug of two datagram links forwards both ways on its own thread while the main thread never yields", async () => {
  const { dir, a, b, ended } = await threadedPlug(true);
  try {
    await waitForwarding(a.peer, b.peer);

    // Synchronously, so the main thread cannot be the one forwarding.
    const total = 3000;
    const atB: number[] = [];
    const atA: number[] = [];
    const deadline = performance.now() + 10_000;
    let sentAB = 0;
    let sentBA = 0;
    while ((atB.length < total || atA.length < total) && performance.now() < deadline) {
      if (sentAB < total && a.peer.send(frame(sentAB)) === 0) sentAB++;
      if (sentBA < total && b.peer.send(frame(sentBA)) === 0) sentBA++;
      // A late probe of waitForwarding may still arrive: skip it.
      b.peer.recvBatch((f) => seqOf(f) !== PROBE && atB.push(seqOf(f)), { oversize: 0 });
      a.peer.recvBatch((f) => seqOf(f) !== PROBE && atA.push(seqOf(f)), { oversize: 0 });
    }
    assert.deepEqual(atB, [...Array(total).keys()], "a -> b, all in order");
    assert.deepEqual(atA, [...Array(total).keys()], "b -> a, all in order");
  } finally {
    a.link.close();
  }
  await closedAfterThread(a, b, ended, dir);
});

Deno.test("a plug thread passes no datagram of 0-13 bytes on, as a link hands on none, and passes a 14-byte one", async () => {
  const { dir, a, b, ended } = await threadedPlug(false);
  try {
    await waitForwarding(a.peer, b.peer);
    for (let n = 0; n < 14; n++) assert.equal(a.peer.send(frame(1).subarray(0, n)), 0);
    a.peer.send(frame(2).subarray(0, 14));
    a.peer.send(frame(3));
    const lengths: number[] = [];
    await waitFor(() => {
      b.peer.recvBatch((f) => f.length === 200 && seqOf(f) === PROBE || lengths.push(f.length), {
        oversize: 0,
      });
      return lengths.at(-1) === 200;
    }, { timeoutMs: 10_000, what: "the frames after the short ones" });
    assert.deepEqual(lengths, [14, 200]);
  } finally {
    a.link.close();
  }
  await closedAfterThread(a, b, ended, dir);
});

Deno.test("a plug thread passes no datagram longer than a VDE frame, whole in a slot or cut, and passes a full-size one", async () => {
  const { dir, a, b, ended } = await threadedPlug(false);
  try {
    await waitForwarding(a.peer, b.peer);
    // Each alone, as a lone frame comes (a pause before it).
    for (const length of [VDE_MAX_FRAME + 1, VDE_MAX_FRAME + 100, VDE_MAX_FRAME, 200]) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal(a.peer.send(frame(length, length)), 0);
    }
    const got: number[] = [];
    const counters = { oversize: 0 };
    await waitFor(() => {
      b.peer.recvBatch((f) => seqOf(f) !== PROBE && got.push(f.length), counters);
      return got.at(-1) === 200;
    }, { timeoutMs: 10_000, what: "the frame after the oversize ones" });
    assert.deepEqual(got, [VDE_MAX_FRAME, 200]);
    assert.equal(counters.oversize, 0);
  } finally {
    a.link.close();
  }
  await closedAfterThread(a, b, ended, dir);
});

Deno.test("a plug thread ends the plug with a reason when a peer socket goes away", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-plugthread-" });
  const a = linkPair(dir, "a", false);
  const b = linkPair(dir, "b", false);
  const ended = plug(a.link, b.link, { thread: true });
  try {
    await waitForwarding(a.peer, b.peer);
    // b's peer disappears: the next frame towards it fails, and the plug ends by itself.
    b.peer.close();
    // A frame every 10 ms until the plug ends (bounded generously: a loaded machine is slow, not hung).
    let i = 0;
    const sending = setInterval(() => a.peer.send(frame(i++)), 10);
    let reason: string;
    try {
      reason = await within("the plug to end by itself after a peer went away", 20_000, ended);
    } finally {
      clearInterval(sending);
    }
    assert.match(reason, /gone|failed|refused|errno/);
  } finally {
    a.link.close();
    b.link.close();
  }
  await waitFor(() => a.link.socket.fd === -1 && b.link.socket.fd === -1, {
    timeoutMs: 5000,
    what: "both sockets closed",
  });
  a.peer.close();
  await Deno.remove(dir, { recursive: true });
});

/** True when a datagram waits unread on `sock` (peeked, not taken). */
function hasQueued(sock: UnixDgramSocket): boolean {
  return libc().recv(sock.fd, new Uint8Array(1), 1, MSG_PEEK | C.MSG_DONTWAIT) >= 0;
}

Deno.test("a receive error that does not repeat (a socket's pending error) does not end a plug thread's cable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-plugthread-" });
  const a = linkPair(dir, "a", false);
  const b = linkPair(dir, "b", false);
  const elsewhere = UnixDgramSocket.create();
  elsewhere.bind(`${dir}/elsewhere`);
  const ended = plug(a.link, b.link, { thread: true });
  const endedEarly = ended.then((reason) => {
    throw new Error(`the cable ended: ${reason}`);
  });
  endedEarly.catch(() => {});
  try {
    await Promise.race([waitForwarding(a.peer, b.peer), endedEarly]);
    // A frame the plug sends to a's peer waits there unread; when that peer then
    // connects elsewhere, the kernel drops it and leaves ECONNRESET pending on
    // our socket, which the next receive reports once. The peer comes back.
    b.peer.send(frame(1));
    await waitFor(() => hasQueued(a.peer), { timeoutMs: 10_000, what: "a frame waiting at a's peer" });
    a.peer.connect(`${dir}/elsewhere`);
    a.peer.connect(`${dir}/a-ours`);
    // The cable still works both ways.
    await Promise.race([waitForwarding(a.peer, b.peer), endedEarly]);
    await Promise.race([waitForwarding(b.peer, a.peer), endedEarly]);
  } finally {
    a.link.close();
  }
  assert.match(await ended, /closed/);
  await waitFor(() => a.link.socket.fd === -1 && b.link.socket.fd === -1, {
    timeoutMs: 5000,
    what: "both sockets closed",
  });
  a.peer.close();
  b.peer.close();
  elsewhere.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("frames that come one a wake-up and meet a full peer wait for it: none lost, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-plugthread-" });
  const a = linkPair(dir, "a", false);
  const b = linkPair(dir, "b", false);
  const ended = plug(a.link, b.link, { thread: true });
  try {
    await waitForwarding(a.peer, b.peer);
    // b's peer reads nothing until a's peer cannot send: by then the plug's socket towards b is full
    // (its send buffer), and the plug has met a full peer with frames it read one a wake-up (a pause
    // between them) and stopped reading a. From then on b reads as a sends.
    const total = 400;
    const atB: number[] = [];
    let reading = false;
    const deadline = performance.now() + 20_000;
    for (let sent = 0; (sent < total || atB.length < total) && performance.now() < deadline;) {
      if (sent < total) {
        if (a.peer.send(frame(sent, 1000)) === 0) sent++;
        else reading = true;
      }
      if (reading) b.peer.recvBatch((f) => seqOf(f) !== PROBE && atB.push(seqOf(f)), { oversize: 0 });
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.ok(reading, "a's peer met a full queue");
    assert.deepEqual(atB, [...Array(total).keys()], "every frame reached b, in order");
  } finally {
    a.link.close();
  }
  await closedAfterThread(a, b, ended, dir);
});

Deno.test("full-size frames from a tap leave one datagram each, in order, none lost while the peer is full", async () => {
  // A datagram socketpair stands in for the tap (one read, one frame), as in the plug's warm-up.
  const tap = datagramPair();
  const sock = datagramPair();
  assert.ok(tap !== null && sock !== null);
  // About 7 full-size frames fit the plug's send buffer: the burst below meets a full peer.
  setSocketBuffer(sock[0], "send", 8192);
  const thread = new PlugThread(
    { fd: tap[0], kind: "tap", name: "tap" },
    { fd: sock[0], kind: "dgram", name: "peer" },
  );
  try {
    const total = 200;
    const got: number[] = [];
    const buf = new Uint8Array(2048);
    const deadline = performance.now() + 30_000;
    let sent = 0;
    while (got.length < total && performance.now() < deadline) {
      // Bursts of 16 written at once (the tap's queue), read back only between bursts.
      for (let i = 0; i < 16 && sent < total; i++) {
        if (libc().write(tap[1], frame(sent, 1514), 1514) !== 1514) break;
        sent++;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
      for (let n; (n = libc().read(sock[1], buf, buf.length)) > 0;) {
        assert.equal(n, 1514, "one frame, one datagram");
        got.push(seqOf(buf));
      }
    }
    assert.deepEqual(got, [...Array(total).keys()], "every frame, in order");
    assert.deepEqual(thread.flow("ab"), { frames: total, bytes: total * 1514, drops: 0 });
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of [...tap, ...sock]) libc().close(fd);
  }
});

Deno.test("a plug thread that dies ends the cable with the reason, not the whole process with an uncaught error", async () => {
  const a = datagramPair();
  const b = datagramPair();
  assert.ok(a !== null && b !== null);
  const thread = new PlugThread(
    { fd: a[0], kind: "dgram", name: "a" },
    { fd: b[0], kind: "dgram", name: "b" },
    new URL("./_erring_worker.ts", import.meta.url),
  );
  try {
    assert.match(
      (await within("the cable's end", 60_000, thread.ended)) ?? "",
      /^plug thread failed: .*this worker dies after it ran$/,
    );
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of [...a, ...b]) libc().close(fd);
  }
});

Deno.test("a plug thread's first oversize and first runt frame from a tap are said once each, in a tap link's words", async () => {
  // A datagram socketpair stands in for the tap (one read, one frame), as in the plug's warm-up.
  const tap = datagramPair();
  const sock = datagramPair();
  assert.ok(tap !== null && sock !== null);
  const said: string[] = [];
  const thread = new PlugThread(
    { fd: tap[0], kind: "tap", name: "tap t9" },
    { fd: sock[0], kind: "dgram", name: "peer" },
    undefined,
    (kind, line) => said.push(`${kind}: ${line}`),
  );
  try {
    const buf = new Uint8Array(2048);
    // Two of each drop, then a frame that passes: by the time it arrives, the drops before it were posted.
    for (const length of [VDE_MAX_FRAME + 2, 10, 16_000, 13, 200]) {
      assert.equal(libc().write(tap[1], new Uint8Array(length), length), length);
    }
    await waitFor(() => libc().read(sock[1], buf, buf.length) === 200, {
      timeoutMs: 60_000,
      what: "the frame after the dropped ones",
    });
    await waitFor(() => said.length >= 2, { timeoutMs: 5000, what: `two lines, said: ${said.join("\n")}` });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(said, [
      "oversize: tap t9: dropped a 9236-byte frame, longer than the 9234 bytes a VDE frame may be (dropped; " +
      "said once): tap t9's MTU is above 9216: ip link set t9 mtu 9216",
      "runt: tap t9: dropped a 10-byte frame (shorter than an Ethernet header)",
    ]);
    assert.deepEqual(thread.flow("ab"), { frames: 1, bytes: 200, drops: 4 });
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of [...tap, ...sock]) libc().close(fd);
  }
});

Deno.test("a plug thread's lost sends are said as a link says its own, a frame cut to its slot without a length", () => {
  const tap = { fd: 3, kind: "tap", name: "tap t9" } as const;
  const sock = { fd: 4, kind: "dgram", name: "vde /tmp/net (002.41)" } as const;
  assert.equal(
    plugDropLine({ dropped: "send", end: "a", value: 22 }, tap),
    "write to tap t9 failed: errno 22",
  );
  assert.equal(
    plugDropLine({ dropped: "send", end: "b", value: 22 }, sock),
    "send to vde /tmp/net (002.41) failed: errno 22",
  );
  assert.match(
    plugDropLine({ dropped: "oversize", end: "b", value: VDE_MAX_FRAME + 1 }, sock),
    /^vde \/tmp\/net \(002\.41\): dropped a frame, longer than .*: its sender's interface MTU is above 9216: give it 9216 or less$/,
  );
});
