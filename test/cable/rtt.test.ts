/**
 * Round-trip time of a cable: echo records, offered in the handshake, are
 * answered by the peer, and both ends report the time. A peer of the first
 * protocol version (one that offers no flags and refuses unknown record
 * types) is never sent one: the cable works as before, with no RTT.
 */
import assert from "node:assert/strict";
import { CableConnection } from "../../src/cable/connection.ts";
import { WebCryptoOpener, WebCryptoSealer } from "../../src/cable/crypto.ts";
import { Bench, collect, frame, keyA, sleep, tagOf, until, within } from "./_helpers.ts";

Deno.test("an encrypted cable measures its round-trip time at both ends while frames flow in order", async () => {
  const key = await keyA;
  const bench = new Bench({ key, deadAfterMs: 800 });
  try {
    const client = bench.client({ key, deadAfterMs: 800 });
    await within("the first connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    const got = collect(session);
    for (let i = 0; i < 300; i++) client.send(frame(1, 2, i, 200));
    await until("both ends' RTT", () => client.rttSeconds !== undefined && session.rttSeconds !== undefined);
    await until("300 frames", () => got.length === 300);
    assert.deepEqual(got.map(tagOf), Array.from({ length: 300 }, (_, i) => i));
    for (const rtt of [client.rttSeconds!, session.rttSeconds!]) {
      assert.ok(rtt > 0 && rtt < 1, `rtt ${rtt} s`);
    }
    // Echo keeps measuring: a later value replaces the first.
    const conn = session.connection!;
    const first = session.rttSeconds;
    await until("a new RTT sample", () => session.rttSeconds !== first, 5000);
    assert.equal(session.connection, conn, "echo records never break the connection");
  } finally {
    await bench.close();
  }
});

for (const old of ["client", "listener"] as const) {
  Deno.test(`a first-version ${old} (no echo offered or taken) is never sent echo records: the cable works, RTT unknown`, async () => {
    const key = await keyA;
    const bench = new Bench({ key, deadAfterMs: 800, echo: old !== "listener" });
    try {
      const client = bench.client({ key, deadAfterMs: 800, echo: old !== "client" });
      await within("the first connection", 5000, client.firstConnection);
      const session = await bench.sessionCount(1);
      const conn = session.connection!;
      const got = collect(client);
      // Several liveness ticks (every 100 ms here): an echo sent anyway would end the connection.
      await sleep(700);
      session.send(frame(2, 1, 7, 100));
      await until("the frame at the client", () => got.length === 1);
      assert.equal(session.connection, conn, "the same connection");
      assert.equal(client.rttSeconds, undefined);
      assert.equal(session.rttSeconds, undefined);
      assert.equal(conn.echo, false);
    } finally {
      await bench.close();
    }
  });
}

Deno.test("a plain (--insecure) cable has no room for echo: no RTT, frames as before", async () => {
  const bench = new Bench({ key: null });
  try {
    const client = bench.client({ key: null });
    await within("the first connection", 5000, client.firstConnection);
    const session = await bench.sessionCount(1);
    assert.equal(session.connection!.echo, false);
    assert.equal(client.rttSeconds, undefined);
  } finally {
    await bench.close();
  }
});

Deno.test("echo works with WebCrypto's sealer too: records stay in order with frames around them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [a, b] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port }),
    listener.accept(),
  ]);
  listener.close();
  const aes = (k: Uint8Array, use: "encrypt" | "decrypt") =>
    crypto.subtle.importKey("raw", k.slice(), "AES-GCM", false, [use]);
  const k1 = new Uint8Array(32).fill(1), k2 = new Uint8Array(32).fill(2);
  const left = new CableConnection("left", a, {
    sealer: new WebCryptoSealer(await aes(k1, "encrypt")),
    opener: new WebCryptoOpener(await aes(k2, "decrypt")),
  }, { echo: true, deadAfterMs: 800 });
  const right = new CableConnection("right", b, {
    sealer: new WebCryptoSealer(await aes(k2, "encrypt")),
    opener: new WebCryptoOpener(await aes(k1, "decrypt")),
  }, { echo: true, deadAfterMs: 800 });
  try {
    const got = collect(right);
    for (let i = 0; i < 500; i++) {
      left.send(frame(1, 2, i, 300));
      if (i % 50 === 0) await sleep(1);
    }
    await until("both RTTs", () => left.rttSeconds !== undefined && right.rttSeconds !== undefined);
    await until("500 frames", () => got.length === 500);
    assert.deepEqual(got.map(tagOf), Array.from({ length: 500 }, (_, i) => i));
    assert.equal(left.isClosed || right.isClosed, false);
  } finally {
    left.close("test over");
    right.close("test over");
  }
});
