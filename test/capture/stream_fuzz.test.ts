/**
 * Fuzz: `vde capture` reads a switch's capture stream (wire/capture_stream.ts)
 * and writes what it says into a pcapng or pcap file. Here a fake switch
 * serves 150 captures of random and mutated records (types, directions,
 * ports, lengths, original lengths and values changed: NaN and infinite
 * counts and times, payloads longer than the frame they claim, truncated
 * streams, junk). Each capture must end in a result or one clear line
 * (UsageError), never another exception, and each file written must be
 * well formed: every block's lengths agree and no packet claims fewer
 * bytes on the wire than it holds. Then a clean capture still reads.
 */
import assert from "node:assert/strict";
import { runCapture } from "../../src/cli/capture.ts";
import { UsageError } from "../../src/cli/usage_error.ts";
import {
  encodeRecord,
  RECORD_ACCEPTED,
  RECORD_DROPS,
  RECORD_ERROR,
  RECORD_FRAME,
  RECORD_NOTICE,
  RECORD_PORT,
} from "../../src/wire/capture_stream.ts";
import { prng } from "../helpers/random.ts";
import { hasCommand, run } from "../helpers/processes.ts";

const N = 150;
const text = (s: string) => new TextEncoder().encode(s);

/** Why the pcapng or pcap file `b` is malformed, or null. */
function malformed(b: Uint8Array, format: "pcapng" | "pcap"): string | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (format === "pcap") {
    if (b.length < 24 || v.getUint32(0, true) !== 0xa1b2c3d4) return "no pcap header";
    for (let at = 24; at < b.length;) {
      if (at + 16 > b.length) return `record header cut at ${at}`;
      const incl = v.getUint32(at + 8, true), orig = v.getUint32(at + 12, true);
      if (incl > orig) return `record at ${at}: ${incl} bytes captured of ${orig}`;
      if (v.getUint32(at + 4, true) >= 1e6) {
        return `record at ${at}: ${v.getUint32(at + 4, true)} microseconds`;
      }
      at += 16 + incl;
      if (at > b.length) return `record at ${at} runs past the end`;
    }
    return null;
  }
  for (let at = 0; at < b.length;) {
    if (at + 12 > b.length) return `block header cut at ${at}`;
    const type = v.getUint32(at, true), total = v.getUint32(at + 4, true);
    if (total % 4 !== 0 || total < 12 || at + total > b.length) return `block at ${at}: length ${total}`;
    if (v.getUint32(at + total - 4, true) !== total) return `block at ${at}: trailing length differs`;
    if (type === 6) {
      const caplen = v.getUint32(at + 20, true), orig = v.getUint32(at + 24, true);
      if (caplen > orig) return `packet at ${at}: ${caplen} bytes captured of ${orig}`;
      if (28 + caplen > total - 4) return `packet at ${at}: ${caplen} bytes in a ${total}-byte block`;
    }
    at += total;
  }
  return null;
}

Deno.test("capture stream fuzz: 150 captures of random and mutated records end in a result or one clear line, and every file is well formed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-capture-fuzz-" });
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/ctl` });
  const cap = Deno.listen({ transport: "unix", path: `${tmp}/capture` });
  const rnd = prng(0xca97);
  const frame = new Uint8Array(60).fill(0xab);
  const templates = [
    encodeRecord(RECORD_PORT, 0, 1, 0, 0, text("vde plug: user=root pid=1")),
    encodeRecord(RECORD_PORT, 0, 2, 0, 0, text("another client")),
    encodeRecord(RECORD_FRAME, 1, 1, 60, 1.7e15, frame),
    encodeRecord(RECORD_FRAME, 2, 2, 1514, 1.7e15 + 5, frame),
    encodeRecord(RECORD_DROPS, 0, 1, 0, 3, new Uint8Array(0)),
    encodeRecord(RECORD_NOTICE, 0, 0, 0, 0, text("fuzz notice")),
    encodeRecord(RECORD_ERROR, 0, 0, 0, 0, text("port 9 is out of range")),
  ];
  const values = [NaN, Infinity, -Infinity, -1, 2 ** 64, 1e300, -0, 0.5];
  const mutated = (t: Uint8Array): Uint8Array => {
    let r = t.slice();
    const v = new DataView(r.buffer);
    const k = rnd();
    if (k < 0.3) v.setFloat64(12, values[Math.floor(rnd() * values.length)]!);
    else if (k < 0.45) v.setUint32(8, Math.floor(rnd() * 80)); // an original length below what it carries
    else if (k < 0.55) r = r.subarray(0, Math.floor(rnd() * r.length));
    else {
      const flips = 1 + Math.floor(rnd() * 3);
      for (let i = 0; i < flips; i++) r[Math.floor(rnd() * Math.min(r.length, 24))] = Math.floor(rnd() * 256);
    }
    return r;
  };
  const streams: Uint8Array[] = [];
  for (let i = 0; i < N; i++) {
    const parts: Uint8Array[] = [];
    if (rnd() < 0.8) parts.push(encodeRecord(RECORD_ACCEPTED, 0, 0, 0, 0, new Uint8Array(0)));
    const n = Math.floor(rnd() * 60);
    for (let k = 0; k < n; k++) {
      // The error record ends a capture: rarely.
      const t = templates[Math.floor(rnd() * (rnd() < 0.02 ? templates.length : templates.length - 1))]!;
      parts.push(rnd() < 0.3 ? mutated(t) : t);
    }
    if (rnd() < 0.1) {
      const junk = new Uint8Array(Math.floor(rnd() * 200));
      for (let k = 0; k < junk.length; k++) junk[k] = Math.floor(rnd() * 256);
      parts.push(junk);
    }
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let at = 0;
    for (const p of parts) all.set(p, (at += p.length) - p.length);
    streams.push(all);
  }
  // The fake switch: reads the request line, sends the next stream, closes.
  let served = 0;
  const serving = (async () => {
    for await (const conn of cap) {
      const stream = streams[served++] ?? new Uint8Array(0);
      try {
        await conn.read(new Uint8Array(4096));
        let off = 0;
        while (off < stream.length) off += await conn.write(stream.subarray(off));
      } catch { /* the capture left first */ }
      conn.close();
    }
  })();
  const failures: string[] = [];
  let results = 0, clearLines = 0;
  try {
    for (let i = 0; i < N; i++) {
      const format = i % 2 === 0 ? "pcapng" : "pcap";
      const path = `${tmp}/out.${format}`;
      try {
        await Deno.remove(path).catch(() => {});
        await runCapture(tmp, { port: [], write: path });
        results++;
      } catch (err) {
        if (err instanceof UsageError && !err.message.includes("\n")) clearLines++;
        else failures.push(`capture ${i}: ${err instanceof Error ? err.stack : err}`);
        continue;
      }
      const why = malformed(await Deno.readFile(path), format);
      if (why !== null) failures.push(`capture ${i} (${format}): ${why}`);
    }
    console.log(`capture stream fuzz: ${N} captures: ${results} files, ${clearLines} one-line refusals`);
    const kinds = new Map<string, string>();
    for (const f of failures) kinds.set(f.replace(/^capture \d+ /, "").replace(/\d+/g, "N").slice(0, 120), f);
    assert.deepEqual([...kinds.values()], []);

    // Counts and times that are no numbers, on a port with frames (whose statistics then hold its drops).
    const accepted = encodeRecord(RECORD_ACCEPTED, 0, 0, 0, 0, new Uint8Array(0));
    streams.push(
      new Uint8Array([
        ...accepted,
        ...templates[0]!,
        ...encodeRecord(RECORD_FRAME, 1, 1, 60, NaN, frame),
        ...encodeRecord(RECORD_DROPS, 0, 1, 0, NaN, new Uint8Array(0)),
        ...encodeRecord(RECORD_DROPS, 0, 1, 0, Infinity, new Uint8Array(0)),
      ]),
    );
    served = N;
    const odd = await runCapture(tmp, { port: [], write: `${tmp}/odd.pcapng` });
    assert.equal(odd.captured, 1);
    assert.equal(malformed(await Deno.readFile(`${tmp}/odd.pcapng`), "pcapng"), null);

    // A clean capture afterwards: its file reads in capinfos.
    streams.push(
      new Uint8Array([
        ...accepted,
        ...templates[0]!,
        ...templates[2]!,
        ...templates[4]!,
      ]),
    );
    served = N + 1;
    const clean = await runCapture(tmp, { port: [], write: `${tmp}/clean.pcapng` });
    assert.equal(clean.captured, 1);
    if (await hasCommand("capinfos")) {
      const r = await run(["capinfos", "-c", `${tmp}/clean.pcapng`], { check: false });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Number of packets:\s+1\b/);
    }
  } finally {
    cap.close();
    ctl.close();
    await serving.catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
