/**
 * Fuzz, the vde:// client's side: a switch's ctl socket is anyone's to
 * serve (root plugs a tap into another user's switch), so the client reads
 * its answer as hostile. A fake switch answers 300 clients with random
 * bytes, mutated refusals (src/wire/vde_refusal.ts) and mutated
 * sockaddr_un answers whose path carries bytes a terminal takes as escapes
 * (C0, DEL, the C1 CSI U+009B), cut short or lengthened. Each client must
 * end within the reply's bound with an Error of one printable line (no
 * control character, C1 included), never hang or throw something else; a
 * clean answer naming a real data socket then opens a link that carries a
 * frame. Seeded.
 */
import assert from "node:assert/strict";
import { openVdeLink } from "../../src/link/vde_link.ts";
import { buildRefusal } from "../../src/wire/vde_refusal.ts";
import { buildSockaddrUn } from "../../src/wire/sockaddr_un.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = 300;
const BATCH = 20;
/** The client's own bound on the reply (REPLY_TIMEOUT_MS) and a margin for a loaded machine. */
const BOUND_MS = 5000 + 3000;

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

Deno.test("vde client fuzz: 300 random and mutated ctl answers each end a client in one printable line; a clean answer still connects", async () => {
  const dir = Deno.realPathSync(await Deno.makeTempDir({ prefix: "vde-client-fuzz-" }));
  const rnd = prng(0x7de0c71);
  const data = `${dir}/data`;
  // Escapes in the answer's path, as a hostile switch would write them to the user's terminal.
  const escapes = [`${dir}/\u009b2J`, `${dir}/\x1b]0;owned\x07`, `${dir}/a\nb`, `${dir}/\x7f`, "/dev/log"];
  const templates = [
    buildRefusal("port 3 is taken by another client"),
    buildSockaddrUn(data),
    ...escapes.map((p) => buildSockaddrUn(p)),
  ];
  const answers = Array.from({ length: N }, (_, i) => {
    if (i % 5 === 0) return junk(rnd, 200);
    return mutate(templates[Math.floor(rnd() * templates.length)]!, rnd, {
      cut: 0.2,
      growBy: 120,
      randomGrowth: true,
      minFlips: 0,
      maxFlips: 4,
      // The family, the path's first bytes and its end: where the client decides.
      at: (length) => Math.floor(rnd() * (rnd() < 0.5 ? Math.min(length, 2 + dir.length + 8) : length)),
    });
  });
  const ctl = Deno.listen({ transport: "unix", path: `${dir}/ctl` });
  let served = 0;
  const serving = (async () => {
    for await (const conn of ctl) {
      const answer = served < N ? answers[served]! : buildSockaddrUn(data);
      served++;
      (async () => {
        try {
          await conn.read(new Uint8Array(512)); // the request (one write of the client's)
          let off = 0;
          while (off < answer.length) off += await conn.write(answer.subarray(off));
          // A refusal or junk ends the stream; an answer the client takes keeps it open, as a switch does.
          if (answer.length < 110) conn.close();
        } catch { /* the client gave up first */ }
      })();
    }
  })();
  const port = UnixDgramSocket.create();
  port.bind(data);
  const outcomes = { refused: 0, opened: 0 };
  try {
    for (let start = 0; start < N; start += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, N - start) }, async () => {
        const began = Date.now();
        try {
          const link = await openVdeLink(dir);
          outcomes.opened++;
          link.close();
        } catch (err) {
          assert.ok(err instanceof Error, `not an Error: ${err}`);
          assert.ok(!CONTROL.test(err.message), `not one printable line: ${JSON.stringify(err.message)}`);
          outcomes.refused++;
        }
        assert.ok(Date.now() - began < BOUND_MS, `a client took ${Date.now() - began} ms`);
      }));
    }
    console.log(`${outcomes.refused} refused, ${outcomes.opened} opened (an answer that stayed valid)`);
    assert.equal(outcomes.refused + outcomes.opened, N);
    // A clean answer: the link opens on the data socket and a frame reaches it.
    const link = await openVdeLink(dir);
    try {
      const frame = new Uint8Array(60).fill(0x5a);
      link.send(frame);
      const got: Uint8Array[] = [];
      for (let i = 0; i < 200 && got.length === 0; i++) {
        port.recvBatch((f) => got.push(f.slice()), { oversize: 0 });
        if (got.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(got, [frame]);
    } finally {
      link.close();
    }
  } finally {
    port.close();
    ctl.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
