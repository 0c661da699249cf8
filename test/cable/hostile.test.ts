/**
 * Hostile input at a cable listener: stream length prefixes of 0 and above
 * the limit, record lengths out of bounds, random bytes instead of a hello,
 * silent connections beyond the pending bound, and 500 connection attempts
 * with bad keys, while a good cable keeps carrying frames and new good
 * cables still get in.
 */
import assert from "node:assert/strict";
import { type CableTransport, clientHandshake } from "../../src/cable/handshake.ts";
import { RecordType } from "../../src/wire/cable_record.ts";
import type { CableKey } from "../../src/cable/key.ts";
import { Bench, collect, frame, keyA, keyB, sleep, tagOf, until, within } from "./_helpers.ts";

/** A raw connection that did the client handshake, for writing arbitrary bytes after it. */
async function rawCable(port: number, key: CableKey | null): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await clientHandshake(conn, {
    key,
    sessionId: crypto.getRandomValues(new Uint8Array(16)),
    timeoutMs: 3000,
  });
  return conn;
}

async function write(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Resolves when the peer closes `conn` (or after `ms` with false). */
async function closedByPeer(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  try {
    while (Date.now() < deadline) {
      const n = await within("a read", deadline - Date.now(), conn.read(buf)).catch(() => 0);
      if (n === null) return true;
      if (n === 0) return false;
    }
  } catch {
    return true; // reset
  }
  return false;
}

Deno.test("plain cable: a zero length is skipped, a length above the limit ends the connection", async () => {
  const bench = new Bench({ key: null });
  try {
    const conn = await rawCable(bench.port, null);
    const session = await bench.sessionCount(1);
    const got = collect(session);
    const f1 = frame(1, 2, 1, 60);
    // Two zero lengths (keepalives), a frame, a lying length, then a frame that must never arrive.
    const bytes = new Uint8Array([0, 0, 0, 0, 0, 60, ...f1, 0xff, 0xff, 0, 60, ...frame(1, 2, 2, 60)]);
    await write(conn, bytes);
    assert.ok(await closedByPeer(conn, 5000), "the listener closed the connection");
    await until(
      "the close line",
      () => bench.listenerLog.some((l) => /cable close.*65535 above 9236/.test(l)),
    );
    assert.deepEqual(got.map(tagOf), [1]);
    conn.close();
  } finally {
    await bench.close();
  }
});

Deno.test("encrypted cable: record lengths of 0 and above the limit end the connection at once", async () => {
  const key = await keyA;
  for (const header of [[1, 0, 0, 0], [1, 0xff, 0xff, 0xff], [1, 0x04, 0x00, 0x11]]) {
    const bench = new Bench({ key });
    try {
      const conn = await rawCable(bench.port, key);
      const session = await bench.sessionCount(1);
      const got = collect(session);
      await write(conn, new Uint8Array([...header, ...new Uint8Array(64)]));
      assert.ok(await closedByPeer(conn, 5000), `closed after header ${header}`);
      await until(
        "the close line",
        () => bench.listenerLog.some((l) => /cable close.*record length/.test(l)),
      );
      assert.equal(got.length, 0);
      conn.close();
    } finally {
      await bench.close();
    }
  }
});

Deno.test("random bytes instead of a hello are refused and logged; good cables are unaffected", async () => {
  const key = await keyA;
  const bench = new Bench({ key });
  try {
    const good = bench.client({ key });
    await within("the good cable", 5000, good.firstConnection);
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
      await write(conn, crypto.getRandomValues(new Uint8Array(100 + i * 37)));
      assert.ok(await closedByPeer(conn, 5000), "the listener closed the random-bytes connection");
      conn.close();
    }
    assert.ok(bench.listenerLog.some((l) => /cable refused.*not a vde cable/.test(l)));
    assert.equal(bench.sessions.length, 1);
    const session = bench.sessions[0]!;
    const got = collect(session);
    good.send(frame(1, 2, 5));
    await until("a frame on the good cable", () => got.length === 1);
  } finally {
    await bench.close();
  }
});

Deno.test("a peer that is no vde cable (nc typing a line, curl) is refused at its first bytes, not at the hello's size or deadline", async () => {
  const key = await keyA;
  const bench = new Bench({ key, handshakeTimeoutMs: 30_000 });
  try {
    for (const said of ["hello\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "V"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
      await write(conn, new TextEncoder().encode(said));
      // "V" may begin "VDEC": the listener waits for more, as for any slow client.
      assert.equal(await closedByPeer(conn, 1500), said !== "V", JSON.stringify(said));
      conn.close();
    }
    await until(
      "the refusals' log lines",
      () => bench.listenerLog.filter((l) => /cable refused/.test(l)).length >= 2,
    );
    const refused = bench.listenerLog.filter((l) => /cable refused/.test(l));
    assert.ok(
      refused.slice(0, 2).every((l) => /: not a vde cable \(bad magic\)$/.test(l)),
      refused.join("\n"),
    );
  } finally {
    await bench.close();
  }
});

Deno.test("a cable client on a port another server holds (sshd's banner) fails at its first bytes, saying what it sent", async () => {
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const banners = (async () => {
    for await (const conn of server) {
      held.push(conn); // kept open: the answer must come from the bytes, not from a close or a deadline
      await write(
        conn,
        new TextEncoder().encode(held.length === 1 ? "SSH-2.0-OpenSSH_9.2\r\n" : "\x00\x01\x02"),
      );
    }
  })();
  try {
    for (const why of [/ \(it sent "SSH-2\.0-OpenSSH_9\.2"\)$/, / \(it sent 0x000102\)$/]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: (server.addr as Deno.NetAddr).port });
      try {
        const handshake = clientHandshake(conn, {
          key: await keyA,
          sessionId: new Uint8Array(16),
          timeoutMs: 30_000,
        });
        await assert.rejects(within("the refusal", 3000, handshake), (err: Error) => {
          assert.match(err.message, /^the far side is not a vde cable listener/);
          assert.match(err.message, why);
          return true;
        });
      } finally {
        conn.close();
      }
    }
  } finally {
    server.close();
    held.forEach((c) => c.close());
    await banners.catch(() => {});
  }
});

/** A transport that keeps what the client wrote, and may flip one bit of it on the way. */
class Recorder implements CableTransport {
  readonly written: number[] = [];
  constructor(readonly conn: Deno.Conn, readonly flipAt = -1) {}
  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p);
  }
  write(p: Uint8Array): Promise<number> {
    const out = p.slice();
    const at = this.flipAt - this.written.length;
    if (at >= 0 && at < out.length) out[at]! ^= 0x01;
    this.written.push(...p);
    return this.conn.write(out);
  }
  close(): void {
    this.conn.close();
  }
}

Deno.test("a replayed cable stream is logged as a replay, a bit flipped in the handshake as tampering", async () => {
  const key = await keyA;
  const bench = new Bench({ key });
  try {
    // A genuine cable, its client's bytes recorded (hello, proof, and what followed).
    const recorded = new Recorder(await Deno.connect({ hostname: "127.0.0.1", port: bench.port }));
    await clientHandshake(recorded, {
      key,
      sessionId: crypto.getRandomValues(new Uint8Array(16)),
      timeoutMs: 3000,
    });
    await bench.sessionCount(1);
    recorded.close();
    // The same bytes sent again on a new connection.
    const replay = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
    await write(replay, new Uint8Array(recorded.written));
    assert.ok(await closedByPeer(replay, 5000), "the listener closed the replayed stream");
    replay.close();
    await until(
      "the replay's line",
      () => bench.listenerLog.some((l) => /cable refused.*replayed handshake/.test(l)),
    );
    // One bit of the client's proof flipped in transit: tampering, not a wrong key.
    const tampered = new Recorder(await Deno.connect({ hostname: "127.0.0.1", port: bench.port }), 64 + 5);
    await assert.rejects(
      clientHandshake(tampered, {
        key,
        sessionId: crypto.getRandomValues(new Uint8Array(16)),
        timeoutMs: 3000,
      }),
    );
    tampered.close();
    await until(
      "the tampering's line",
      () => bench.listenerLog.some((l) => /cable refused.*altered in transit/.test(l)),
    );
    const refusals = bench.listenerLog.filter((l) => l.includes("cable refused"));
    assert.ok(refusals.every((l) => !/remote \S+: wrong key/.test(l)), refusals.join("\n"));
    assert.equal(bench.sessions.length, 1);
  } finally {
    await bench.close();
  }
});

Deno.test("a record sent twice is logged as a replay of it, a record with a flipped bit as tampering", async () => {
  const key = await keyA;
  const bench = new Bench({ key });
  try {
    for (const how of ["replay", "flip"] as const) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
      const est = await clientHandshake(conn, {
        key,
        sessionId: crypto.getRandomValues(new Uint8Array(16)),
        timeoutMs: 3000,
      });
      const sealer = est.channel!.sealer;
      const keepalive = async () => (await sealer.seal(RecordType.keepalive, new Uint8Array(0))).slice();
      const r0 = await keepalive();
      const r1 = await keepalive();
      const last = how === "replay" ? r1 : await keepalive();
      if (how === "flip") last[last.length - 1]! ^= 0x01;
      await write(conn, new Uint8Array([...r0, ...r1, ...last]));
      assert.ok(await closedByPeer(conn, 5000), `the listener closed the connection (${how})`);
      conn.close();
    }
    await until(
      "the replay's close line",
      () => bench.listenerLog.some((l) => /cable close .*failed authentication: replay of record 1$/.test(l)),
    );
    await until(
      "the tampering's close line",
      () => bench.listenerLog.some((l) => /cable close .*failed authentication: tampered/.test(l)),
    );
  } finally {
    await bench.close();
  }
});

Deno.test("silent connections time out and beyond the pending bound the oldest are dropped", async () => {
  const key = await keyA;
  const bench = new Bench({ key, maxPending: 8, handshakeTimeoutMs: 1000 });
  const silent: Deno.Conn[] = [];
  bench.defer(() => silent.forEach((c) => c.close()));
  try {
    for (let i = 0; i < 40; i++) silent.push(await Deno.connect({ hostname: "127.0.0.1", port: bench.port }));
    await until("the pending bound", () => bench.listener.counters.connections === 40);
    assert.ok(bench.listener.pending <= 8);
    assert.ok(bench.listener.counters.evicted >= 32);
    // A good cable still gets in while the silent ones wait.
    const good = bench.client({ key });
    await within("the good cable", 5000, good.firstConnection);
    await until("the timeouts", () => bench.listener.pending === 0, 5000);
    assert.ok(bench.listenerLog.some((l) => /cable refused.*timed out waiting for the hello/.test(l)));
  } finally {
    await bench.close();
  }
});

Deno.test("500 connection attempts with bad keys: the listener keeps serving good cables", async () => {
  const key = await keyA;
  const wrong = await keyB;
  // Half announce another key; half claim our key id but hold another key (the costly case).
  const forged: CableKey = { bytes: wrong.bytes, id: key.id, idHex: key.idHex, source: "forged" };
  const bench = new Bench({ key });
  try {
    const good = bench.client({ key });
    await within("the good cable", 5000, good.firstConnection);
    const session = await bench.sessionCount(1);
    const got = collect(session);
    let sent = 0;
    let pumping = true;
    const pump = (async () => {
      while (pumping) {
        good.send(frame(1, 2, sent++));
        await sleep(2);
      }
    })();
    let rejected = 0;
    const started = Date.now();
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
        try {
          await clientHandshake(conn, {
            key: i % 2 === 0 ? wrong : forged,
            sessionId: crypto.getRandomValues(new Uint8Array(16)),
            timeoutMs: 5000,
          });
        } catch {
          rejected++;
        } finally {
          try {
            conn.close();
          } catch { /* closed by the handshake's deadline */ }
        }
      }));
    }
    const seconds = (Date.now() - started) / 1000;
    pumping = false;
    await pump;
    assert.equal(rejected, 500);
    await until("every good frame", () => got.length === sent, 5000);
    assert.deepEqual(
      got.map(tagOf),
      Array.from({ length: sent }, (_, i) => i),
      "the good cable lost nothing",
    );
    assert.equal(bench.sessions.length, 1, "no bad attempt got a session");
    // A new good cable still gets in at once.
    const late = bench.client({ key });
    await within("a new good cable", 5000, late.firstConnection);
    await until("the refusals counted", () => bench.listener.counters.refused >= 500);
    // The log holds a bounded number of refusal lines, not 500.
    const refusals = bench.listenerLog.filter((l) => l.includes("cable refused")).length;
    assert.ok(refusals <= 20, `${refusals} refusal lines`);
    console.log(`  500 bad attempts in ${seconds.toFixed(1)} s; ${sent} good frames carried meanwhile`);
  } finally {
    await bench.close();
  }
});
