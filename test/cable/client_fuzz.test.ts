/**
 * Fuzz, the other way round: a cable client (`vde cable connect`) takes a
 * listener's answer from whatever holds the port. A fake listener answers
 * 200 connecting clients with random bytes and mutated server hellos
 * (magic, version, mode, status, flags, nonce and proof changed; cut short;
 * lengthened; followed by junk where the accept goes). Each client, run
 * once, must end within its handshake's bound with a reason of one
 * printable line, never by its loop failing on something thrown; a good
 * client then still gets into a real listener and carries frames. Seeded.
 */
import assert from "node:assert/strict";
import { CableClient } from "../../src/cable/client.ts";
import { encodeServerHello } from "../../src/wire/cable_handshake.ts";
import { junk, mutate, prng } from "../helpers/random.ts";
import { Bench, collect, frame, keyA, tagOf, until, within } from "./_helpers.ts";

const N = 200;
const BATCH = 25;

Deno.test("cable client fuzz: 200 random and mutated listener answers each end a client in one printable line; a good cable still works", async () => {
  const key = await keyA;
  const rnd = prng(0xc11e47);
  const hello = (mode: "sealed" | "plain", status: number) =>
    encodeServerHello({
      version: 1,
      mode,
      status,
      flags: 1,
      nonce: new Uint8Array(32).fill(3),
      proof: new Uint8Array(32).fill(4),
    });
  const templates = [hello("sealed", 0), hello("plain", 0), hello("sealed", 1), hello("sealed", 5)];
  const answers = Array.from({ length: N }, () => {
    if (rnd() < 0.2) return junk(rnd, 200);
    const a = mutate(templates[Math.floor(rnd() * templates.length)]!, rnd, {
      cut: 0.2,
      growBy: 100,
      randomGrowth: true,
      minFlips: 0,
      maxFlips: 3,
      at: (length) => Math.floor(rnd() * (rnd() < 0.7 ? Math.min(8, length) : length)),
    });
    return a;
  });
  const fake = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let served = 0;
  const serving = (async () => {
    for await (const conn of fake) {
      conns.push(conn);
      const answer = answers[served++ % N]!;
      (async () => {
        const buf = new Uint8Array(256);
        let got = 0;
        while (got < 64) {
          const n = await conn.read(buf);
          if (n === null) return;
          got += n;
        }
        let off = 0;
        while (off < answer.length) off += await conn.write(answer.subarray(off));
      })().catch(() => {});
    }
  })();
  const reasons: string[] = [];
  const bench = new Bench({ key });
  try {
    const started = performance.now();
    for (let at = 0; at < N; at += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, N - at) }, async () => {
        const c = new CableClient({
          hostname: "127.0.0.1",
          port: fake.addr.port,
          key: rnd() < 0.5 ? key : null,
          sessionId: crypto.getRandomValues(new Uint8Array(16)),
          once: true,
          handshakeTimeoutMs: 500,
          connectTimeoutMs: 2000,
        });
        reasons.push(await within("the client's end", 5000, c.closed));
      }));
      for (const conn of conns.splice(0)) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const kinds = new Set(reasons.map((r) => r.replace(/\d+/g, "N").replace(/".*"/, '"..."').slice(0, 90)));
    console.log(`cable client fuzz: ${N} answers in ${seconds.toFixed(1)} s, ${kinds.size} kinds of end`);
    // deno-lint-ignore no-control-regex
    const bad = reasons.filter((r) => /cable loop failed|[\x00-\x1f\x7f-\x9f]/.test(r) || r === "");
    assert.deepEqual(bad.slice(0, 5), []);

    const good = bench.client({ key });
    await within("the good cable", 5000, good.firstConnection);
    const session = await bench.sessionCount(1);
    const got = collect(session);
    for (let i = 0; i < 5; i++) good.send(frame(1, 2, i));
    await until("the good cable's frames", () => got.length === 5);
    assert.deepEqual(got.map(tagOf), [0, 1, 2, 3, 4]);
  } finally {
    fake.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await serving.catch(() => {});
    await bench.close();
  }
});
