import assert from "node:assert/strict";
import { type ByteReader, type ByteWriter, PEER_CLOSED, StreamLink } from "../../src/link/stream_link.ts";
import { feedsFillingPeer, fullablePeer } from "../helpers/flow_peer.ts";
import { StreamDecoder, StreamEncoder } from "../../src/wire/stream_framing.ts";
import { setLogWriter } from "../../src/log.ts";

/** Two stream links joined back to back by in-memory streams. */
function linkPair(options: ConstructorParameters<typeof StreamLink>[3] = {}): [StreamLink, StreamLink] {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  return [
    new StreamLink("a", ba.readable, ab.writable, options),
    new StreamLink("b", ab.readable, ba.writable, options),
  ];
}

/** A frame carrying its sequence number in its first 4 bytes. */
function numbered(seq: number, length = 64): Uint8Array {
  const f = new Uint8Array(length);
  new DataView(f.buffer).setUint32(0, seq);
  f[length - 1] = seq & 0xff;
  return f;
}

function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("stream links exchange 10,000 frames each way in order", async () => {
  const [a, b] = linkPair();
  const gotA: number[] = [];
  const gotB: number[] = [];
  a.onFrame = (f) => gotA.push(seqOf(f));
  b.onFrame = (f) => gotB.push(seqOf(f));
  try {
    for (let batch = 0; batch < 100; batch++) {
      for (let i = 0; i < 100; i++) {
        const seq = batch * 100 + i;
        a.send(numbered(seq, 60 + (seq % 1400)));
        b.send(numbered(seq, 1514 - (seq % 1400)));
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    await waitFor("all frames", () => gotA.length === 10_000 && gotB.length === 10_000);
    assert.deepEqual(gotB, Array.from({ length: 10_000 }, (_, i) => i));
    assert.deepEqual(gotA, Array.from({ length: 10_000 }, (_, i) => i));
    assert.equal(a.stats.framesOut, 10_000);
    assert.equal(b.stats.framesIn, 10_000);
    assert.equal(a.stats.dropsOut + b.stats.dropsOut + a.stats.dropsIn + b.stats.dropsIn, 0);
  } finally {
    a.close();
    b.close();
  }
});

/** A link on a sink that records every write it is given, with a source that never delivers. */
function recordingLink(): { link: StreamLink; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  const sink: ByteWriter = {
    write: (p) => {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
  };
  const source: ByteReader = { read: () => new Promise(() => {}) };
  return { link: new StreamLink("t", source, sink), writes };
}

Deno.test("stream link coalesces the frames sent in one turn into one write", async () => {
  const { link, writes } = recordingLink();
  for (let i = 0; i < 100; i++) link.send(numbered(i));
  await waitFor("the write", () => link.stats.framesOut === 100);
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.length, 100 * 66);
  link.close();
});

/** Lets every queued microtask run, and nothing else: no timer, no I/O turn of the event loop. */
async function microtasksOnly(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

Deno.test("a lone frame is written at once, in the turn it was sent, not held for a batch or a timer", async () => {
  // A ping crosses a cable as lone frames: any wait for company (a timer, a
  // batch size, the next event-loop turn) would add to its round trip.
  const { link, writes } = recordingLink();
  try {
    link.send(numbered(1));
    await microtasksOnly();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 66);
    assert.equal(link.stats.framesOut, 1);
    link.send(numbered(2, 98));
    await microtasksOnly();
    assert.equal(writes.length, 2);
    assert.equal(writes[1]!.length, 100);
    assert.equal(seqOf(writes[1]!.subarray(2)), 2);
  } finally {
    link.close();
  }
});

Deno.test("stream link completes partial writes of an FsFile-like sink", async () => {
  const written: number[] = [];
  const sink: ByteWriter = {
    write: async (p) => {
      await Promise.resolve();
      const n = Math.min(7, p.length);
      written.push(...p.subarray(0, n));
      return n;
    },
  };
  const link = new StreamLink("t", { read: () => new Promise(() => {}) }, sink);
  const frames = Array.from({ length: 20 }, (_, i) => numbered(i, 20 + i));
  frames.forEach((f) => link.send(f));
  await waitFor("all bytes", () => link.stats.framesOut === 20);
  const out: Uint8Array[] = [];
  new StreamDecoder((f) => out.push(f.slice())).push(new Uint8Array(written));
  assert.deepEqual(out, frames);
  link.close();
});

Deno.test("stream link drops and counts frames when a peer never reads, with bounded memory", async () => {
  const stuck = new TransformStream<Uint8Array, Uint8Array>(); // its readable is never read
  const limit = 64 * 1024;
  const link = new StreamLink("t", new ReadableStream(), stuck.writable, { maxPendingBytes: limit });
  try {
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 1000; i++, sent++) link.send(numbered(sent, 1500));
      assert.ok(link.pendingBytes <= limit, `pending ${link.pendingBytes} within ${limit}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    // At most one batch is stuck in the stream and one is pending: the rest was dropped and counted.
    const held = Math.floor(limit / 1502);
    assert.ok(link.stats.dropsOut >= sent - 2 * held, `dropped ${link.stats.dropsOut} of ${sent}`);
    assert.equal(link.isClosed, false);
  } finally {
    link.close();
  }
});

Deno.test("stream link closes with a reason when the peer ends its stream", async () => {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const link = new StreamLink("t", ab.readable, new WritableStream());
  const frames: number[] = [];
  link.onFrame = (f) => frames.push(seqOf(f));
  const enc = new StreamEncoder();
  enc.append(numbered(1));
  enc.append(numbered(2));
  const writer = ab.writable.getWriter();
  await writer.write(enc.bytes.slice());
  await writer.close();
  assert.equal(await link.closed, PEER_CLOSED);
  assert.deepEqual(frames, [1, 2]);
});

Deno.test("stream link closes with a reason when writing fails", async () => {
  const sink = new WritableStream<Uint8Array>({ write: () => Promise.reject(new Error("disk on fire")) });
  const link = new StreamLink("t", new ReadableStream(), sink);
  link.send(numbered(1));
  assert.equal(await link.closed, "write failed: disk on fire");
  link.send(numbered(2));
  assert.equal(link.stats.dropsOut, 1);
});

Deno.test("stream link closes with a reason when reading fails", async () => {
  const source = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error("bad read")) });
  const link = new StreamLink("t", source, new WritableStream());
  assert.equal(await link.closed, "read failed: bad read");
});

Deno.test("stream link counts oversize input as dropped and keeps the link up", async () => {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const link = new StreamLink("t", ab.readable, new WritableStream(), { maxFrameIn: 1521 });
  const got: number[] = [];
  link.onFrame = (f) => got.push(seqOf(f));
  const writer = ab.writable.getWriter();
  const enc = new StreamEncoder();
  enc.append(numbered(7, 1600));
  await writer.write(enc.bytes.slice());
  enc.reset();
  enc.append(numbered(8));
  await writer.write(enc.bytes.slice());
  await waitFor("frame 8", () => got.length === 1);
  assert.deepEqual(got, [8]);
  assert.equal(link.stats.dropsIn, 1);
  assert.equal(link.isClosed, false);
  link.close("done");
  assert.equal(await link.closed, "done");
});

Deno.test("stream link counts the frames of 1-13 bytes it reads as dropped, says so once, and hands on a 14-byte one", async () => {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const link = new StreamLink("runts", ab.readable, new WritableStream());
  const got: number[] = [];
  link.onFrame = (f) => got.push(f.length);
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  try {
    const enc = new StreamEncoder();
    for (let round = 0; round < 2; round++) {
      for (let n = 1; n <= 14; n++) enc.append(new Uint8Array(n).fill(n));
    }
    await ab.writable.getWriter().write(enc.bytes.slice());
    await waitFor("the 14-byte frames", () => got.length === 2);
    assert.deepEqual(got, [14, 14]);
    assert.deepEqual([link.stats.dropsIn, link.stats.framesIn], [26, 2]);
    assert.equal(lines.length, 1, lines.join(""));
    assert.match(lines[0]!, /runts: dropped a 1-byte frame \(shorter than an Ethernet header\)/);
  } finally {
    setLogWriter(null);
    link.close();
  }
});

Deno.test("stream link drops and counts frames too large to frame", () => {
  const link = new StreamLink("t", new ReadableStream(), new WritableStream());
  link.send(new Uint8Array(9235));
  assert.equal(link.stats.dropsOut, 1);
  assert.equal(link.pendingBytes, 0);
  link.close();
});

Deno.test("frames that arrive before a frame handler is set are held, not dropped, and delivered once one is", async () => {
  // `vde plug cmd://cat` opens stdio after cmd://: stdin may already hold frames then.
  const [a, b] = linkPair();
  try {
    for (let i = 0; i < 200; i++) a.send(numbered(i, 60 + i));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.stats.framesIn, 0, "nothing decoded while nobody listens");
    const got: number[] = [];
    b.onFrame = (f) => got.push(seqOf(f));
    await waitFor("all 200 frames", () => got.length === 200);
    assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i));
    assert.equal(b.stats.dropsIn, 0);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a stream link nobody listens to still notices the end of its stream", async () => {
  const [a, b] = linkPair();
  a.close("test closed it");
  assert.equal(await b.closed, PEER_CLOSED);
});

Deno.test("a stream link closed while it holds unread bytes ends without delivering them", async () => {
  const [a, b] = linkPair();
  a.send(numbered(1));
  await new Promise((r) => setTimeout(r, 20));
  b.close("closed by the test");
  const got: number[] = [];
  b.onFrame = (f) => got.push(seqOf(f));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(got, []);
  assert.equal(await b.closed, "closed by the test");
  a.close();
});

Deno.test("a stream link stops reading while the link it feeds is full, and goes on where it stopped once it drains", async () => {
  // One chunk of 300 frames arrives; the peer fills at the 10th: the rest stays in the chunk, nothing
  // more is read, and every frame arrives, in order, once the peer drains (`vde plug`'s stdin feeding
  // a switch held by SIGSTOP).
  const enc = new StreamEncoder();
  for (let i = 0; i < 600; i++) enc.append(numbered(i, 100));
  const bytes = enc.bytes.slice();
  let reads = 0;
  const source: ByteReader = {
    read: (p) => {
      const off = reads * 300 * 102;
      if (off >= bytes.length) return new Promise(() => {});
      reads++;
      p.set(bytes.subarray(off, off + 300 * 102));
      return Promise.resolve(300 * 102);
    },
  };
  const link = new StreamLink("t", source, { write: (p) => Promise.resolve(p.length) }, {
    readBufferSize: 300 * 102,
  });
  const { peer, got } = feedsFillingPeer(link, seqOf);
  try {
    await waitFor("the first frames", () => got.length === 10);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(got.length, 10, "nothing delivered to a full peer");
    assert.equal(reads, 1, "nothing more read while the peer is full");
    peer.drain();
    await waitFor("the next hold", () => got.length === 110);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(got.length, 110);
    for (let round = 0; round < 5; round++) {
      peer.drain();
      await waitFor("the next hold", () => got.length === 210 + round * 100 || got.length === 600);
    }
    assert.deepEqual(got, Array.from({ length: 600 }, (_, i) => i));
    assert.equal(link.stats.dropsIn, 0);
  } finally {
    link.close();
  }
});

Deno.test("a stream link waiting for a full peer ends when it is closed", async () => {
  const [a, b] = linkPair();
  const peer = fullablePeer();
  b.onFrame = () => peer.full = true;
  b.feeds(peer);
  a.send(numbered(1));
  a.send(numbered(2));
  await waitFor("the frame", () => b.stats.framesIn === 1);
  b.close("closed by the test");
  assert.equal(await b.closed, "closed by the test");
  assert.equal(peer.onDrain, null, "no longer watching the peer");
  a.close();
});

Deno.test("a stream link whose writes lag reads as congested past a quarter of its bound, and says when it drained", async () => {
  // A stream feeding a stream (`vde plug - cmd://...`) waits for the slower one instead of dropping.
  const inFlight: (() => void)[] = [];
  const sink: ByteWriter = {
    write: (p) => new Promise((done) => inFlight.push(() => done(p.length))),
  };
  const link = new StreamLink("t", { read: () => new Promise(() => {}) }, sink, {
    maxPendingBytes: 64 * 1024,
  });
  let drained = 0;
  link.onDrain = () => drained++;
  try {
    link.send(numbered(0, 1500));
    await microtasksOnly();
    assert.equal(inFlight.length, 1, "the first write is in flight");
    for (let i = 1; i <= 11; i++) link.send(numbered(i, 1500));
    assert.equal(link.congested, true, `${link.pendingBytes} bytes pending`);
    inFlight.shift()!();
    await waitFor("the second write", () => link.stats.framesOut === 1);
    assert.equal(link.congested, false);
    assert.equal(drained, 1, "the waiting source is told once, as what it waited behind is written");
    await waitFor("the second write to start", () => inFlight.length === 1);
    inFlight.shift()!();
    await waitFor("both writes", () => link.stats.framesOut === 12);
    assert.equal(drained, 1);
    assert.equal(link.stats.dropsOut, 0);
  } finally {
    link.close();
  }
});

Deno.test("a stream link waiting for a full peer goes on when it no longer feeds it, or feeds another", async () => {
  // The switch port it fed was removed (feeds(null)) or the plug ended: nobody will call the old peer's
  // onDrain, so waiting for it would hold the stream for good.
  const [a, b] = linkPair();
  const full = fullablePeer();
  const got: number[] = [];
  b.onFrame = (f) => {
    got.push(seqOf(f));
    full.full = true;
  };
  b.feeds(full);
  try {
    for (let i = 0; i < 3; i++) a.send(numbered(i));
    await waitFor("the first frame", () => got.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(got.length, 1, "held while the peer is full");
    const other = fullablePeer();
    other.full = true;
    b.feeds(other);
    assert.equal(full.onDrain, null, "no longer watching the old peer");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(got.length, 1, "held while the new peer is full too");
    b.feeds(null);
    await waitFor("the rest", () => got.length === 3);
    assert.deepEqual(got, [0, 1, 2]);
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a stream link whose peer is full before its first frame hands on none until it drains", async () => {
  // `vde plug tcp://...` reading stdin before the cable has connected: its session drops what it cannot
  // carry yet, so not even the first frame may go before it says there is room.
  const [a, b] = linkPair();
  const peer = fullablePeer();
  peer.full = true;
  const got: number[] = [];
  b.onFrame = (f) => got.push(seqOf(f));
  b.feeds(peer);
  try {
    for (let i = 0; i < 3; i++) a.send(numbered(i));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, [], "nothing handed to a full peer");
    peer.drain();
    await waitFor("the frames", () => got.length === 3);
    assert.deepEqual(got, [0, 1, 2]);
  } finally {
    a.close();
    b.close();
  }
});
