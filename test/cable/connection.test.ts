/**
 * A cable connection's output path with a transport that counts its writes:
 * a lone frame (a ping's) leaves in a write of its own as soon as it is
 * sent, plain or sealed, never held back for company. And its input path
 * waits for a full peer (a switch that lags) instead of dropping.
 */
import assert from "node:assert/strict";
import { CableConnection } from "../../src/cable/connection.ts";
import { CableSession } from "../../src/cable/session.ts";
import { createOpener, createSealer } from "../../src/cable/crypto.ts";
import type { CableTransport } from "../../src/cable/handshake.ts";
import { RECORD_HEADER_SIZE, TAG_SIZE } from "../../src/wire/cable_record.ts";
import { frame, sleep, tagOf, until } from "./_helpers.ts";
import { feedsFillingPeer, fullablePeer } from "../helpers/flow_peer.ts";

/** A transport that never delivers input and records every write. */
function countingTransport(): { t: CableTransport; writes: Uint8Array[] } {
  const writes: Uint8Array[] = [];
  const t: CableTransport = {
    read: () => new Promise(() => {}),
    write: (p) => {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
    close: () => {},
  };
  return { t, writes };
}

/** Lets every queued microtask run, and nothing else: no timer, no I/O turn of the event loop. */
async function microtasksOnly(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

Deno.test("plain cable: a lone frame is written at once, in the turn it was sent, in a write of its own", async () => {
  const { t, writes } = countingTransport();
  const conn = new CableConnection("plain", t, null);
  try {
    conn.send(frame(1, 2, 1, 60));
    await microtasksOnly();
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 2 + 60);
    conn.send(frame(1, 2, 2, 98));
    await microtasksOnly();
    assert.equal(writes.length, 2);
    assert.equal(writes[1]!.length, 2 + 98);
    assert.equal(conn.stats.framesOut, 2);
  } finally {
    conn.close("test over");
  }
});

Deno.test("sealed cable: a lone frame leaves as one record of its own, not held for a batch", async () => {
  const { t, writes } = countingTransport();
  const key = new Uint8Array(32).fill(7);
  const conn = new CableConnection("sealed", t, {
    sealer: await createSealer(key),
    opener: await createOpener(key),
  });
  try {
    conn.send(frame(1, 2, 1, 60));
    await until("the record", () => conn.stats.framesOut === 1);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, RECORD_HEADER_SIZE + 2 + 60 + TAG_SIZE);
    conn.send(frame(1, 2, 2, 60));
    await until("the second record", () => conn.stats.framesOut === 2);
    assert.equal(writes.length, 2);
  } finally {
    conn.close("test over");
  }
});

/** A one-way in-memory transport: what `writer` writes, `reader` reads (all of it that is there, as TCP may). */
function oneWay(): { writer: CableTransport; reader: CableTransport; reads: () => number } {
  const chunks: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  let reads = 0;
  const writer: CableTransport = {
    read: () => new Promise(() => {}),
    write: (p) => {
      chunks.push(p.slice());
      wake?.();
      return Promise.resolve(p.length);
    },
    close: () => {},
  };
  const reader: CableTransport = {
    read: async (p) => {
      while (chunks.length === 0) await new Promise<void>((r) => wake = r);
      reads++;
      let n = 0;
      while (chunks.length > 0 && n + chunks[0]!.length <= p.length) {
        p.set(chunks[0]!, n);
        n += chunks.shift()!.length;
      }
      return n;
    },
    write: (p) => Promise.resolve(p.length),
    close: () => {},
  };
  return { writer, reader, reads: () => reads };
}

for (const sealed of [false, true]) {
  const kind = sealed ? "sealed" : "plain";
  Deno.test(`${kind} cable: a connection waits while the link it feeds is full and delivers every frame, in order`, async () => {
    // The switch behind a cable lags: the cable stops reading (TCP holds the far end back) and loses nothing.
    const { writer, reader, reads } = oneWay();
    const key = new Uint8Array(32).fill(9);
    const channel = async () =>
      sealed ? { sealer: await createSealer(key), opener: await createOpener(key) } : null;
    const from = new CableConnection(`${kind} from`, writer, await channel());
    const to = new CableConnection(`${kind} to`, reader, await channel());
    const { peer, got } = feedsFillingPeer(to, tagOf);
    try {
      // A hundred frames a turn: one record each when sealed, which the peer fills part-way through.
      for (let i = 0; i < 400; i++) {
        from.send(frame(1, 2, i, 100));
        if (i % 100 === 99) await microtasksOnly(3);
      }
      for (let round = 0; round < 4; round++) {
        await until(`the frames up to the hold of round ${round}`, () => got.length === round * 100 + 10);
        const readsHeld = reads();
        await sleep(30);
        assert.equal(got.length, round * 100 + 10, "nothing delivered to a full peer");
        assert.equal(reads(), readsHeld, "nothing read while the peer is full");
        peer.drain();
      }
      await until("all 400 frames", () => got.length === 400);
      assert.deepEqual(got, Array.from({ length: 400 }, (_, i) => i));
      assert.equal(to.stats.dropsIn, 0);
      assert.equal(to.isClosed, false);
    } finally {
      from.close("test over");
      to.close("test over");
    }
  });
}

Deno.test("a cable session is congested while its connection's writes lag, and wakes its source when they go out or the connection is replaced", async () => {
  // `vde plug - tcp://...`: stdin waits for a cable whose TCP is backed up instead of the cable dropping.
  const inFlight: (() => void)[] = [];
  const stuck: CableTransport = {
    read: () => new Promise(() => {}),
    write: (p) => new Promise((done) => inFlight.push(() => done(p.length))),
    close: () => {},
  };
  const session = new CableSession("s", new Uint8Array(16));
  const conn = new CableConnection("c", stuck, null, { maxPendingBytes: 256 * 1024 });
  session.use(conn);
  let drained = 0;
  session.onDrain = () => drained++;
  try {
    session.send(frame(1, 2, 0, 1500));
    await microtasksOnly();
    assert.equal(inFlight.length, 1, "the first write is in flight");
    for (let i = 1; i <= 50; i++) session.send(frame(1, 2, i, 1500));
    assert.equal(session.congested, true, `${conn.pendingBytes} bytes pending`);
    inFlight.shift()!();
    await until("the next write", () => inFlight.length === 1);
    assert.equal(session.congested, false);
    assert.equal(drained, 1, "told once, as what it waited behind goes out");
    for (let i = 51; i <= 100; i++) session.send(frame(1, 2, i, 1500));
    assert.equal(session.congested, true);
    session.use(new CableConnection("c2", stuck, null));
    assert.equal(session.congested, false, "a new connection has nothing waiting");
    assert.equal(drained, 2, "told when the connection it waited for was replaced");
    assert.equal(session.stats.dropsOut, 0);
  } finally {
    session.close("test over");
  }
});

Deno.test("sealed cable: a record read while the rest of an earlier one waits for room is delivered after it, not before", async () => {
  // The peer drains just as the next chunk arrives (one turn of the event loop): the held rest of record 2
  // must still go before record 3, which the read loop would otherwise hand on at once.
  const key = new Uint8Array(32).fill(5);
  const { t: out, writes } = countingTransport();
  const from = new CableConnection("sealed from", out, {
    sealer: await createSealer(key),
    opener: await createOpener(key),
  });
  let reading: { p: Uint8Array; done: (n: number) => void } | null = null;
  const inbound: CableTransport = {
    read: (p) => new Promise((done) => reading = { p, done }),
    write: (p) => Promise.resolve(p.length),
    close: () => {},
  };
  const give = (bytes: Uint8Array) => {
    const { p, done } = reading!;
    reading = null;
    p.set(bytes);
    done(bytes.length);
  };
  const to = new CableConnection("sealed to", inbound, {
    sealer: await createSealer(key),
    opener: await createOpener(key),
  });
  const peer = fullablePeer();
  const got: number[] = [];
  let fillAt = -1;
  to.onFrame = (f) => {
    got.push(tagOf(f));
    if (got.length === fillAt) peer.full = true;
  };
  to.feeds(peer);
  try {
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 10; i++) from.send(frame(1, 2, r * 10 + i, 100));
      await until(`record ${r + 1} written`, () => writes.length === r + 1);
    }
    const [r1, r2, r3] = writes as [Uint8Array, Uint8Array, Uint8Array];
    await until("the first read", () => reading !== null);
    peer.full = true;
    const r12 = new Uint8Array(r1.length + r2.length);
    r12.set(r1);
    r12.set(r2, r1.length);
    give(r12);
    await microtasksOnly(20);
    assert.equal(got.length, 0, "nothing delivered to a full peer");
    fillAt = 15;
    peer.drain();
    await microtasksOnly(20);
    assert.deepEqual(got, Array.from({ length: 15 }, (_, i) => i), "record 1 and half of record 2");
    assert.notEqual(reading, null, "a read is in flight while the rest of record 2 waits");
    peer.drain();
    give(r3);
    await until("all 30 frames", () => got.length === 30);
    assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i));
  } finally {
    from.close("test over");
    to.close("test over");
  }
});

Deno.test("a cable connection waiting for a full peer goes on when it no longer feeds it, or feeds another", async () => {
  // The switch port the cable fed was removed, or the plug it was in ended: the old peer's onDrain never
  // comes, so waiting for it would hold the cable (and its far end, through TCP) for good.
  const { writer, reader } = oneWay();
  const from = new CableConnection("from", writer, null);
  const to = new CableConnection("to", reader, null);
  const full = fullablePeer();
  const got: number[] = [];
  to.onFrame = (f) => {
    got.push(tagOf(f));
    full.full = true;
  };
  to.feeds(full);
  try {
    for (let i = 0; i < 3; i++) from.send(frame(1, 2, i, 100));
    await until("the first frame", () => got.length === 1);
    await sleep(30);
    assert.equal(got.length, 1, "held while the peer is full");
    const other = fullablePeer();
    other.full = true;
    to.feeds(other);
    assert.equal(full.onDrain, null, "no longer watching the old peer");
    await sleep(30);
    assert.equal(got.length, 1, "held while the new peer is full too");
    to.feeds(null);
    await until("the rest", () => got.length === 3);
    assert.deepEqual(got, [0, 1, 2]);
  } finally {
    from.close("test over");
    to.close("test over");
  }
});

Deno.test("a cable session without a connection holds a source that can wait until one comes, instead of dropping its frames", async () => {
  // `vde plug tcp://...` reading stdin before the cable has connected (or while it reconnects): stdin waits.
  const { t } = countingTransport();
  const session = new CableSession("s", new Uint8Array(16));
  let drained = 0;
  session.onDrain = () => drained++;
  try {
    assert.equal(session.congested, true, "no connection yet: wait");
    session.use(new CableConnection("c", t, null));
    assert.equal(drained, 1, "told once a connection came");
    assert.equal(session.congested, false);
    session.connection!.close("lost");
    await until("the connection gone", () => session.connection === null);
    assert.equal(session.congested, true, "no connection for now: wait");
    session.use(new CableConnection("c2", t, null));
    assert.equal(session.congested, false);
    const told = drained;
    session.close("test over");
    assert.equal(drained, told + 1, "told when the session ended: nothing more to wait for");
    assert.equal(session.congested, false, "a closed session drops, it does not hold anyone");
  } finally {
    session.close("test over");
  }
});
