/**
 * TCP cables on loopback, in process: frames both ways (encrypted and
 * plain), the connection log, wrong keys and mismatched modes refused and
 * logged, a flipped bit closing the connection with nothing delivered,
 * reconnection resuming the same session and port, hand-off to a new
 * connection, the grace period, dead-path detection, and the session limit.
 */
import assert from "node:assert/strict";
import type { CableKey } from "../../src/cable/key.ts";
import { CABLE_VERSION, encodeClientHello, hex } from "../../src/wire/cable_handshake.ts";
import { Bench, collect, frame, keyA, keyB, sleep, tagOf, TamperProxy, until, within } from "./_helpers.ts";

for (const mode of ["encrypted", "plain"] as const) {
  Deno.test(`${mode} cable carries frames both ways, in order, and logs open and close`, async () => {
    const key: CableKey | null = mode === "encrypted" ? await keyA : null;
    const bench = new Bench({ key });
    try {
      const client = bench.client({ key });
      await within("the first connection", 5000, client.firstConnection);
      const session = await bench.sessionCount(1);
      const atListener = collect(session);
      const atClient = collect(client);
      for (let i = 0; i < 2000; i++) {
        client.send(frame(1, 2, i, 60 + (i % 1400)));
        if (i % 100 === 99) await sleep(1);
      }
      session.send(frame(2, 1, 9999, 9234));
      await until("2000 frames at the listener", () => atListener.length === 2000);
      await until("the jumbo frame at the client", () => atClient.length === 1);
      assert.deepEqual(atListener.map(tagOf), Array.from({ length: 2000 }, (_, i) => i));
      assert.equal(atClient[0]!.length, 9234);
      assert.equal(client.farPort, 3);
      assert.equal(session.port, 3);
      const open = bench.listenerLog.find((l) => l.startsWith("cable open"));
      assert.ok(open, bench.listenerLog.join("\n"));
      assert.match(open, /remote 127\.0\.0\.1:\d+ key \S+ port 3 session [0-9a-f]{16} new session/);
      assert.match(
        open,
        mode === "encrypted" ? new RegExp(`key ${(await keyA).idHex} .*encrypted`) : /PLAIN/,
      );
      client.close("done");
      await until("the close line", () => bench.listenerLog.some((l) => l.startsWith("cable close")));
      const close = bench.listenerLog.find((l) => l.startsWith("cable close"))!;
      assert.match(close, /in 2000 frames \d+ bytes out 1 frame 9234 bytes/);
    } finally {
      await bench.close();
    }
  });
}

Deno.test("a wrong key is refused and logged on both sides, the client naming its key id and giving up; nothing reaches a port", async () => {
  const bench = new Bench({ key: await keyA });
  try {
    const client = bench.client({ key: await keyB });
    await until("a refusal", () => bench.listenerLog.some((l) => l.includes("cable refused")));
    assert.match(
      bench.listenerLog.find((l) => l.includes("cable refused"))!,
      /remote 127\.0\.0\.1:\d+: wrong key \(client key [0-9a-f]{16}, ours/,
    );
    // No retry mends a wrong key: the client closes after one attempt, the refusal its reason (the one line
    // its owner prints), naming the key it holds so its user can compare it with the listener's log.
    const reason = await within("the client to give up", 10_000, client.closed);
    assert.equal(reason, client.refusal);
    assert.equal(client.failed, true, "a failure its owner reports (vde plug exits 1), as a field");
    assert.match(
      reason,
      new RegExp(
        `^cannot connect to 127\\.0\\.0\\.1:\\d+: the listener refused the cable: ` +
          `wrong key \\(ours is ${(await keyB).idHex}; the listener logs its key id`,
      ),
    );
    assert.equal(bench.clientLog.length, 0, "not also logged: said once, by the owner");
    assert.equal(bench.sessions.length, 0);
    assert.equal(client.connection, null);
    assert.equal(client.failures, 1);
    await sleep(500);
    assert.equal(bench.listenerLog.filter((l) => l.includes("cable refused")).length, 1, "no second attempt");
  } finally {
    await bench.close();
  }
});

Deno.test("a client with a forged key id but another key fails the proofs", async () => {
  const good = await keyA;
  const other = await keyB;
  // Claims key A's id, holds key B's bytes.
  const forged: CableKey = { bytes: other.bytes, id: good.id, idHex: good.idHex, source: "forged" };
  const bench = new Bench({ key: good });
  try {
    const client = bench.client({ key: forged });
    await until("the client's failure", () => bench.clientLog.some((l) => /does not hold our key/.test(l)));
    await until("a refusal", () => bench.listenerLog.some((l) => l.includes("cable refused")));
    assert.equal(bench.sessions.length, 0);
    client.close();
  } finally {
    await bench.close();
  }
});

Deno.test("a plain client meets an encrypting listener (and back): refused, and said so", async () => {
  for (
    const [listenerKey, clientKey, why] of [
      [await keyA, null, /requires a key/],
      [null, await keyA, /listener is --insecure/],
    ] as const
  ) {
    const bench = new Bench({ key: listenerKey });
    try {
      const client = bench.client({ key: clientKey });
      await until("a refusal", () => bench.listenerLog.some((l) => why.test(l)));
      assert.match(await within("the client to give up", 10_000, client.closed), /insecure/);
      assert.equal(bench.sessions.length, 0);
    } finally {
      await bench.close();
    }
  }
});

Deno.test("a flipped bit in transit closes the connection and delivers nothing of it; the cable resumes", async () => {
  const key = await keyA;
  const bench = new Bench({ key });
  const proxy = new TamperProxy(bench.port);
  bench.defer(() => proxy.close());
  try {
    const client = bench.client({ key, port: proxy.port });
    await within("the first connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    const got = collect(session);
    client.send(frame(1, 2, 1));
    await until("frame 1", () => got.length === 1);
    const conn = session.connection!;
    const clientConn = client.connection;
    // The next record: flip a bit in the middle of its ciphertext.
    proxy.control.flipAfter = 60;
    client.send(frame(1, 2, 2));
    const reason = await within("the connection to close", 5000, conn.closed);
    assert.match(reason, /failed authentication/);
    assert.equal(proxy.control.flipped, 1);
    await until(
      "the close line",
      () => bench.listenerLog.some((l) => /cable close.*failed authentication/.test(l)),
    );
    assert.deepEqual(got.map(tagOf), [1], "the tampered frame was not delivered");
    // The client reconnects through the proxy and resumes: same session, same port.
    await until("a resumed connection", () => session.connection !== null && session.connection !== conn);
    // The listener finishes its handshake before the client does; a frame sent
    // in between would be dropped (a cable between connections drops, like a wire).
    await until(
      "the client's own resumed connection",
      () => client.connection !== null && client.connection !== clientConn,
    );
    assert.equal(bench.sessions.length, 1);
    client.send(frame(1, 2, 3));
    await until("frame 3", () => got.length === 2);
    assert.deepEqual(got.map(tagOf), [1, 3]);
    assert.ok(
      bench.listenerLog.some((l) => /cable open.*port 3 .*resumed/.test(l)),
      bench.listenerLog.join("\n"),
    );
  } finally {
    await bench.close();
  }
});

Deno.test("a client restarted with the same session id gets the same session and port (hand-off)", async () => {
  const key = await keyA;
  const bench = new Bench({ key });
  try {
    const sessionId = crypto.getRandomValues(new Uint8Array(16));
    bench.client({ key });
    await bench.sessionCount(1); // another cable, on port 3
    const first = bench.client({ key, sessionId });
    await within("the first connection", 5000, first.firstConnection);
    const session = await bench.sessionCount(2);
    assert.equal(session.port, 4);
    const got = collect(session);
    // A second process with the same id takes over while the first is still connected.
    const second = bench.client({ key, sessionId });
    await within("the second connection", 5000, second.firstConnection);
    assert.equal(second.farPort, 4);
    assert.equal(bench.sessions.length, 2, "no new session");
    first.close("replaced");
    second.send(frame(1, 2, 7));
    await until("the frame of the second client", () => got.length === 1);
    assert.ok(bench.listenerLog.some((l) => /cable close.*replaced by a new connection/.test(l)));
  } finally {
    await bench.close();
  }
});

Deno.test("a lost cable keeps its port for the grace period, then the session ends", async () => {
  const key = await keyA;
  const bench = new Bench({ key, graceMs: 600 });
  try {
    const sessionId = crypto.getRandomValues(new Uint8Array(16));
    const client = bench.client({ key, sessionId });
    await within("the first connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    client.close("gone");
    await until("the connection loss", () => session.connection === null);
    // Within the grace period a new client resumes.
    await sleep(200);
    const back = bench.client({ key, sessionId });
    await within("the resumed connection", 5000, back.firstConnection);
    assert.equal(bench.sessions.length, 1);
    assert.equal(session.isClosed, false);
    // Its switch port is called by the session, which the resumed cable still is: not by the address of the
    // first connection, whose source port the new one does not have.
    assert.equal(session.description, `cable session ${hex(sessionId).slice(0, 16)}`);
    back.close("gone for good");
    const reason = await within("the session to end", 5000, session.closed);
    assert.match(reason, /no reconnection within 0\.6 s/);
    assert.ok(bench.listenerLog.some((l) => /cable session ended .* port 3: no reconnection/.test(l)));
  } finally {
    await bench.close();
  }
});

Deno.test("keepalives hold an idle cable; a path that silently stalls is declared dead and replaced", async () => {
  const key = await keyA;
  const bench = new Bench({ key, deadAfterMs: 800 });
  const proxy = new TamperProxy(bench.port);
  bench.defer(() => proxy.close());
  try {
    const client = bench.client({ key, port: proxy.port, deadAfterMs: 800 });
    await within("the first connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    const conn = session.connection!;
    await sleep(2000);
    assert.equal(session.connection, conn, "the idle connection is still the same one");
    proxy.control.stall = true;
    const reason = await within("the stalled connection to die", 5000, conn.closed);
    assert.match(reason, /nothing heard from the peer/);
    proxy.cut();
    proxy.control.stall = false;
    await until("a new connection", () => session.connection !== null && session.connection !== conn, 5000);
  } finally {
    await bench.close();
  }
});

Deno.test("a full listener refuses new sessions and says so", async () => {
  const key = await keyA;
  const bench = new Bench({ key, maxSessions: 1 });
  try {
    const a = bench.client({ key });
    await within("the first connection", 5000, a.firstConnection);
    bench.client({ key });
    await until("the refusal", () => bench.clientLog.some((l) => /listener is full/.test(l)));
    assert.equal(bench.sessions.length, 1);
  } finally {
    await bench.close();
  }
});

Deno.test("an onSession that throws refuses the cable with the reason, in one line per attempt", async () => {
  const key = await keyA;
  const bench = new Bench({
    key,
    onSession: () => {
      throw new Error("no free port");
    },
  });
  try {
    bench.client({ key });
    await until("the refusal", () => bench.listenerLog.some((l) => /cable refused.*no free port/.test(l)));
    await until(
      "the client's failure",
      () => bench.clientLog.some((l) => /could not give the cable a switch port/.test(l)),
    );
    assert.deepEqual(
      bench.listenerLog.filter((l) => /session ended/.test(l)),
      [],
      "a session that never had a port is not said to end, on top of its refusal",
    );
  } finally {
    await bench.close();
  }
});

Deno.test("frames that arrive in the same read as the handshake are delivered, not lost", async () => {
  const got: Uint8Array[] = [];
  const bench = new Bench({
    key: null,
    onSession: (s) => {
      s.onFrame = (x) => got.push(x.slice());
      return 3;
    },
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
    const hello = encodeClientHello({
      version: CABLE_VERSION,
      mode: "plain",
      flags: 0,
      nonce: new Uint8Array(32),
      keyId: new Uint8Array(8),
      sessionId: crypto.getRandomValues(new Uint8Array(16)),
    });
    // The hello and a first frame in one write: the listener reads them together.
    const bytes = new Uint8Array([...hello, 0, 60, ...frame(1, 2, 77, 60)]);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    await until("the early frame", () => got.length === 1);
    assert.equal(tagOf(got[0]!), 77);
    conn.close();
  } finally {
    await bench.close();
  }
});
