/**
 * Fuzz, the client's side of a management socket: `vde term` and the lab's
 * remote console read whatever holds the socket. A fake console answers 200
 * clients with random bytes, mutated banners and replies carrying terminal
 * escapes (C0, DEL, the C1 CSI U+009B), a greeting that never ends, a reply
 * that never ends, endless event lines, or nothing at all. Each client must
 * end its connect or its command within its timeout (plus a margin) with an
 * Error of one printable line, or with a reply holding no control
 * character but newline and tab when it keeps no controls; a reply never
 * grows past its bound. A well-behaved console then still gets its command
 * answered. Seeded.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../src/console/client.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = 200;
const BATCH = 20;
const TIMEOUT_MS = 400;
const MAX_REPLY = 256 * 1024;
/** A loaded machine's margin over the client's own bound. */
const MARGIN_MS = 4000;

const enc = new TextEncoder();
const GREETING = "VDE switch V.2.3.2\n(C) Virtual Square Team\n\nvde$ ";
const REPLY = "0000 DATA END WITH '.'\nNumports=32\nHUB=false\n.\n1000 Success\n\nvde$ ";
const ESCAPES = ["\x1b[2J", "\u009b31m", "\x1b]0;owned\x07", "\x7f", "\r", "\x00"];

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;
// deno-lint-ignore no-control-regex
const CONTROL_BUT_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

type Behaviour = "junk" | "mutated" | "endless-greeting" | "endless-reply" | "endless-events" | "silent";
const BEHAVIOURS: Behaviour[] = [
  "junk",
  "mutated",
  "mutated",
  "endless-greeting",
  "endless-reply",
  "endless-events",
  "silent",
];

/** Writes `chunk` until the client goes away (or the test ends). */
async function flood(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (;;) {
    let off = 0;
    while (off < chunk.length) off += await conn.write(chunk.subarray(off));
  }
}

/** A text with an escape put at random places. */
function withEscapes(text: string, rnd: () => number): string {
  let out = text;
  for (let i = Math.floor(rnd() * 4); i > 0; i--) {
    const at = Math.floor(rnd() * out.length);
    out = out.slice(0, at) + ESCAPES[Math.floor(rnd() * ESCAPES.length)]! + out.slice(at);
  }
  return out;
}

/** Serves one connection as `b` says. */
async function serve(conn: Deno.Conn, b: Behaviour, rnd: () => number): Promise<void> {
  const bytes = (t: string) =>
    mutate(enc.encode(withEscapes(t, rnd)), rnd, { cut: 0.1, minFlips: 0, maxFlips: 3 });
  switch (b) {
    case "junk":
      await conn.write(junk(rnd, 2000));
      if (rnd() < 0.5) conn.close();
      return;
    case "silent":
      return;
    case "endless-greeting":
      return flood(conn, enc.encode("VDE switch\n".repeat(1000)));
    default:
      break;
  }
  await conn.write(b === "mutated" ? bytes(GREETING) : enc.encode(GREETING));
  if (b === "endless-events") {
    // Events while idle, then the reply behind yet more: the client hands them on and forgets them.
    await conn.write(enc.encode("3044 fstp/status Port 0001\n".repeat(2000)));
  }
  const buf = new Uint8Array(4096);
  while ((await conn.read(buf)) !== null) {
    if (b === "endless-reply") return flood(conn, enc.encode("Numports=32\n".repeat(1000)));
    if (b === "endless-events") {
      await conn.write(enc.encode(`${"3044 fstp/status Port 0001\n".repeat(2000)}${REPLY}`));
    } else await conn.write(bytes(REPLY));
  }
}

Deno.test("mgmt client fuzz: 200 hostile consoles (junk, escapes, endless greetings, replies and events, silence) each end a client in one printable line or a clean reply within its timeout; a good console still answers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-mgmt-client-fuzz-" });
  const path = `${dir}/mgmt`;
  const rnd = prng(0x7e47f22);
  const plan = Array.from({ length: N }, () => BEHAVIOURS[Math.floor(rnd() * BEHAVIOURS.length)]!);
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.Conn[] = [];
  let served = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const b = served < N ? plan[served]! : "good";
      served++;
      const serveRnd = prng(served);
      (b === "good" ? serveGood(conn) : serve(conn, b, serveRnd)).catch(() => {});
    }
  })();
  const seen = { refused: 0, failed: 0, answered: 0 };
  try {
    for (let start = 0; start < N; start += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, N - start) }, async (_, k) => {
        const keepControls = (start + k) % 2 === 0;
        const began = Date.now();
        const within = () =>
          assert.ok(Date.now() - began < 2 * TIMEOUT_MS + MARGIN_MS, `took ${Date.now() - began} ms`);
        let client: MgmtClient;
        try {
          client = await MgmtClient.connect(path, {
            timeoutMs: TIMEOUT_MS,
            maxReplyBytes: MAX_REPLY,
            keepControls,
          });
        } catch (err) {
          oneLine(err);
          within();
          seen.refused++;
          return;
        }
        try {
          if (!keepControls) {
            for (const line of [...client.banner, client.prompt]) {
              assert.ok(!CONTROL.test(line), JSON.stringify(line));
            }
          }
          const reply = await client.command("port/showinfo");
          if (!keepControls) {
            const text = [reply.result, reply.raw ?? "", ...(reply.lines ?? [])].join("\n");
            assert.ok(!CONTROL_BUT_LINES.test(text), JSON.stringify(text));
          }
          seen.answered++;
        } catch (err) {
          oneLine(err);
          seen.failed++;
        } finally {
          client.close();
          await client.closed;
        }
        within();
      }));
      closeAll(conns.splice(0));
    }
    console.log(
      `${seen.refused} refused at connect, ${seen.failed} failed a command, ${seen.answered} answered`,
    );
    assert.equal(seen.refused + seen.failed + seen.answered, N);
    assert.ok(seen.refused > 0 && seen.failed > 0 && seen.answered > 0, JSON.stringify(seen));
    const client = await MgmtClient.connect(path, { timeoutMs: 5000 });
    try {
      assert.deepEqual(await client.command("port/showinfo"), {
        code: 0,
        lines: ["Numports=32", "HUB=false"],
        result: "1000 Success",
      });
    } finally {
      client.close();
      await client.closed;
    }
  } finally {
    listener.close();
    closeAll(conns);
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

/** A console that greets and answers every line with the same clean reply. */
async function serveGood(conn: Deno.Conn): Promise<void> {
  await conn.write(enc.encode(GREETING));
  const buf = new Uint8Array(4096);
  while ((await conn.read(buf)) !== null) await conn.write(enc.encode(REPLY));
}

function oneLine(err: unknown): void {
  assert.ok(err instanceof Error, `not an Error: ${err}`);
  assert.ok(!CONTROL.test(err.message), `not one printable line: ${JSON.stringify(err.message)}`);
}

/** Closes the fake console's ends of the connections; a client may have closed one already. */
function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
}
