/**
 * Fuzz, the start of a capture stream: what `vde capture` reads before it
 * starts its file is the switch's answer to its request (ACCEPTED, or ERROR
 * with why, perhaps a NOTICE), and what it says of it reaches the user's
 * terminal. A fake capture socket answers 200 captures with record headers
 * cut at every byte, answers of random bytes, lengths past the largest
 * record, and ERROR and NOTICE records whose words are mutated, long, or
 * carry terminal escapes (C0, DEL, the C1 CSI U+009B), some sent a few
 * bytes per write. Each capture must end in a result or one UsageError
 * line with no control character, and every notice it prints must be one
 * such line; a capture refused before it started leaves the file it names
 * as it was. Seeded.
 */
import assert from "node:assert/strict";
import { runCapture } from "../../src/cli/capture.ts";
import { UsageError } from "../../src/cli/usage_error.ts";
import {
  encodeRecord,
  RECORD_ACCEPTED,
  RECORD_ERROR,
  RECORD_FRAME,
  RECORD_HEADER,
  RECORD_NOTICE,
  RECORD_PORT,
} from "../../src/wire/capture_stream.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = 200;
const enc = new TextEncoder();
const ESCAPES = ["\x1b[2J", "\u009b31m", "\x1b]0;owned\x07", "\x7f", "\r", "\n", "\x00"];
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

Deno.test("capture header fuzz: 200 hostile answers to a capture request (cut headers, junk, huge lengths, errors and notices with escapes) each end in a result or one printable line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-header-fuzz-" });
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/ctl` });
  const cap = Deno.listen({ transport: "unix", path: `${tmp}/capture` });
  const rnd = prng(0xcab4ead);
  const words = (base: string) => {
    let t = base;
    for (let i = 1 + Math.floor(rnd() * 3); i > 0; i--) {
      const at = Math.floor(rnd() * t.length);
      t = t.slice(0, at) + ESCAPES[Math.floor(rnd() * ESCAPES.length)]! + t.slice(at);
    }
    if (rnd() < 0.1) t += "x".repeat(Math.floor(rnd() * 70_000)); // past the largest record, or near it
    return enc.encode(t);
  };
  const accepted = encodeRecord(RECORD_ACCEPTED, 0, 0, 0, 0, new Uint8Array(0));
  const frame = encodeRecord(RECORD_FRAME, 1, 1, 60, 1.7e15, new Uint8Array(60).fill(0xab));
  /** Each answer, and whether its first record refuses before anything starts the file. */
  const answers = Array.from({ length: N }, (_, i): { bytes: Uint8Array; refusedFirst: boolean } => {
    const k = i % 6;
    if (k === 0) {
      return { bytes: accepted.subarray(0, Math.floor(rnd() * RECORD_HEADER)), refusedFirst: false };
    }
    if (k === 1) return { bytes: junk(rnd, 300), refusedFirst: false };
    if (k === 2) {
      const error = encodeRecord(RECORD_ERROR, 0, 0, 0, 0, words("port 9 is out of range"));
      return { bytes: error, refusedFirst: error.length - RECORD_HEADER <= 65536 };
    }
    if (k === 3) {
      const notice = encodeRecord(RECORD_NOTICE, 0, 0, 0, 0, words("VLAN 7 does not exist yet"));
      return { bytes: new Uint8Array([...accepted, ...notice, ...frame]), refusedFirst: false };
    }
    if (k === 4) {
      const port = encodeRecord(RECORD_PORT, 0, 1, 0, 0, words("vde plug: user=root pid=1"));
      return { bytes: new Uint8Array([...accepted, ...port, ...frame]), refusedFirst: false };
    }
    // The answer's header mutated: type, direction, port, length.
    const a = mutate(new Uint8Array([...accepted, ...frame]), rnd, {
      cut: 0.2,
      minFlips: 1,
      maxFlips: 3,
      at: () => Math.floor(rnd() * RECORD_HEADER),
    });
    return { bytes: a, refusedFirst: false };
  });
  let served = 0;
  const serving = (async () => {
    for await (const conn of cap) {
      const { bytes } = answers[served++] ?? { bytes: new Uint8Array([...accepted, ...frame]) };
      const trickle = served % 3 === 0;
      try {
        await conn.read(new Uint8Array(4096));
        for (let off = 0; off < bytes.length;) {
          const end = trickle ? Math.min(bytes.length, off + 1 + Math.floor(rnd() * 7)) : bytes.length;
          off += await conn.write(bytes.subarray(off, end));
        }
      } catch { /* the capture left first */ }
      conn.close();
    }
  })();
  const printed: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => printed.push(args.map(String).join(" "));
  const failures: string[] = [];
  let results = 0, refusals = 0;
  try {
    for (let i = 0; i < N; i++) {
      const path = `${tmp}/out.pcapng`;
      await Deno.writeTextFile(path, "kept");
      try {
        await runCapture(tmp, { port: [], write: path });
        results++;
      } catch (err) {
        if (!(err instanceof UsageError)) {
          failures.push(`capture ${i}: ${err instanceof Error ? err.stack : err}`);
        } else if (CONTROL.test(err.message)) {
          failures.push(`capture ${i}: ${JSON.stringify(err.message.slice(0, 200))}`);
        } else refusals++;
        if (answers[i]!.refusedFirst && (await Deno.readTextFile(path)) !== "kept") {
          failures.push(`capture ${i}: refused before it started, yet its file changed`);
        }
      }
    }
    for (const line of printed) {
      if (CONTROL.test(line)) failures.push(`printed ${JSON.stringify(line.slice(0, 200))}`);
    }
    console.log(
      `capture header fuzz: ${results} results, ${refusals} one-line refusals, ${printed.length} notices`,
    );
    assert.deepEqual(failures, []);
    assert.ok(results > 0 && refusals > 0 && printed.length > 0);
    // A clean capture afterwards.
    const clean = await runCapture(tmp, { port: [], write: `${tmp}/clean.pcapng` });
    assert.equal(clean.captured, 1);
  } finally {
    console.error = consoleError;
    cap.close();
    ctl.close();
    await serving.catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
