/**
 * Fuzz: a cable listener takes random and mutated bytes where a peer's
 * handshake goes, and, after an honest handshake, where its stream of
 * frames (plain) or records (sealed) goes, including half a record and then
 * silence. Each connection must end (refused, closed at its first bad
 * length or record, or declared dead), the listener must count and log it
 * and never fail a handler, and a good cable must still get in and carry
 * frames afterwards. Seeded, and bounded in connections and time.
 */
import assert from "node:assert/strict";
import { clientHandshake } from "../../src/cable/handshake.ts";
import type { CableKey } from "../../src/cable/key.ts";
import { encodeClientHello } from "../../src/wire/cable_handshake.ts";
import { RecordType, writeRecordHeader } from "../../src/wire/cable_record.ts";
import { junk, mutate as mutateWith, prng } from "../helpers/random.ts";
import { Bench, collect, frame, keyA, tagOf, until, within } from "./_helpers.ts";

const BATCH = 25;

/** A valid input cut short (a fifth) or lengthened with random bytes, then up to 3 bytes set. */
const mutate = (t: Uint8Array, rnd: () => number) =>
  mutateWith(t, rnd, { cut: 0.2, growBy: 200, randomGrowth: true, minFlips: 0, maxFlips: 3 });

async function write(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** True once the peer ends `conn` (EOF or reset) within `ms`. */
async function endedByPeer(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
  try {
    while (true) {
      const n = await Promise.race([conn.read(buf), late]);
      if (n === "late") return false;
      if (n === null) return true;
    }
  } catch {
    return true;
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `each(i)` for i in [0, n), BATCH at a time. */
async function batched(n: number, each: (i: number) => Promise<void>): Promise<void> {
  for (let at = 0; at < n; at += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, n - at) }, (_, k) => each(at + k)));
  }
}

/** A good cable gets in and carries frames: the listener still serves. */
async function goodCableWorks(bench: Bench, key: CableKey | null, sessionsBefore: number): Promise<void> {
  const good = bench.client({ key });
  await within("the good cable", 5000, good.firstConnection);
  const session = await bench.sessionCount(sessionsBefore + 1);
  const got = collect(session);
  for (let i = 0; i < 10; i++) good.send(frame(1, 2, i));
  await until("the good cable's frames", () => got.length === 10);
  assert.deepEqual(got.map(tagOf), [...Array(10).keys()]);
}

Deno.test("cable fuzz: 300 random and mutated hellos are each refused and counted; a good cable still gets in", async () => {
  const key = await keyA;
  const bench = new Bench({ key, handshakeTimeoutMs: 500 });
  const rnd = prng(0xcab1e);
  const N = 300;
  try {
    const hello = (mode: "sealed" | "plain") =>
      encodeClientHello({
        version: 1,
        mode,
        flags: 1,
        nonce: new Uint8Array(32).fill(7),
        keyId: key.id,
        sessionId: new Uint8Array(16).fill(9),
      });
    // A hello, then the 32-byte proof a client sends after the listener's hello (wrong here: it is random).
    const templates = [hello("sealed"), hello("plain")].map((h) => {
      const b = new Uint8Array(h.length + 32);
      b.set(h);
      b.set(Uint8Array.from({ length: 32 }, () => Math.floor(rnd() * 256)), h.length);
      return b;
    });
    const inputs = Array.from(
      { length: N },
      () => rnd() < 0.2 ? junk(rnd, 300) : mutate(templates[Math.floor(rnd() * 2)]!, rnd),
    );
    let ended = 0;
    const started = performance.now();
    await batched(N, async (i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
      try {
        await write(conn, inputs[i]!).catch(() => {});
        if (await endedByPeer(conn, 3000)) ended++;
      } finally {
        conn.close();
      }
    });
    await until("every refusal counted", () => bench.listener.counters.refused === N);
    console.log(
      `cable hello fuzz: ${N} connections in ${((performance.now() - started) / 1000).toFixed(1)} s, ` +
        `${bench.listener.counters.refused} refused, ${bench.listenerLog.length} log lines`,
    );
    assert.equal(ended, N, "the listener ended every one");
    assert.equal(bench.sessions.length, 0);
    assert.equal(bench.listener.pending, 0);
    assert.ok(!bench.listenerLog.some((l) => /handler failed/.test(l)), bench.listenerLog.join("\n"));
    await goodCableWorks(bench, key, 0);
  } finally {
    await bench.close();
  }
});

for (const mode of ["plain", "sealed"] as const) {
  Deno.test(`cable fuzz: 100 ${mode} streams of random and mutated bytes after the handshake, some stalling mid-record; each ends, a good cable still works`, async () => {
    const key = mode === "sealed" ? await keyA : null;
    const bench = new Bench({ key, deadAfterMs: 1000, graceMs: 100 });
    const rnd = prng(mode === "plain" ? 0x91a1 : 0x5ea1);
    const N = 100;
    // Plain: frames in stream framing. Sealed: records (their ciphertext cannot be forged here).
    const stream = new Uint8Array(2000);
    let at = 0;
    for (let t = 0; at + 2 + 102 <= stream.length; t++) {
      const f = frame(1, 2, t, 60 + (t * 7) % 40);
      if (mode === "plain") {
        stream.set([f.length >> 8, f.length & 0xff], at);
        stream.set(f, at + 2);
        at += 2 + f.length;
      } else {
        writeRecordHeader(stream, at, RecordType.frames, f.length + 2 + 16);
        stream.set(Uint8Array.from({ length: f.length + 18 }, () => Math.floor(rnd() * 256)), at + 4);
        at += 4 + f.length + 18;
      }
    }
    const template = stream.subarray(0, at);
    let stalled = 0, ended = 0;
    const started = performance.now();
    try {
      await batched(N, async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: bench.port });
        try {
          await clientHandshake(conn, {
            key,
            sessionId: crypto.getRandomValues(new Uint8Array(16)),
            timeoutMs: 5000,
          });
          const r = rnd();
          let bytes: Uint8Array;
          if (r < 0.2) bytes = junk(rnd, 3000);
          else if (r < 0.35) {
            // Half a record (or a frame's length and part of it), then silence.
            stalled++;
            bytes = template.subarray(0, mode === "plain" ? 2 + 30 : 4 + 30);
          } else bytes = mutate(template, rnd);
          await write(conn, bytes).catch(() => {});
          // A peer that sent all it meant to and stays silent: the listener ends it, at the latest when dead.
          if (await endedByPeer(conn, 4000)) ended++;
        } finally {
          conn.close();
        }
      });
      console.log(
        `cable ${mode} stream fuzz: ${N} connections (${stalled} stalled mid-record) in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s, ${bench.sessions.length} sessions, ` +
          `${bench.listenerLog.filter((l) => /cable close/.test(l)).length} close lines`,
      );
      assert.equal(ended, N, "the listener ended every one");
      assert.ok(!bench.listenerLog.some((l) => /handler failed/.test(l)), bench.listenerLog.join("\n"));
      await until(
        "every close logged",
        () => bench.listenerLog.filter((l) => /cable close/.test(l)).length >= N,
      );
      if (mode === "sealed") {
        assert.ok(
          bench.listenerLog.some((l) => /record length|tamper|replay/.test(l)),
          "bad records are named",
        );
      }
      assert.ok(
        bench.listenerLog.some((l) => /nothing heard from the peer/.test(l)),
        "a stalled peer is dead",
      );
      await goodCableWorks(bench, key, bench.sessions.length);
    } finally {
      await bench.close();
    }
  });
}
