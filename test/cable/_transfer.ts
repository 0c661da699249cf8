/**
 * A long TCP transfer with a checksum, for end-to-end cable tests:
 *
 *   deno run -A _transfer.ts receive PORT           prints "listening", then "received BYTES SHA256"
 *   deno run -A _transfer.ts send HOST PORT BYTES KIBPS
 *                                                    sends BYTES pseudo-random bytes at about KIBPS
 *                                                    KiB/s, prints "sent BYTES SHA256"
 */
import { randomBytes } from "../helpers/random.ts";

const encoder = new TextEncoder();
const print = (s: string) => Deno.stdout.writeSync(encoder.encode(`${s}\n`));

async function sha256(chunks: Uint8Array[]): Promise<string> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const [mode, ...rest] = Deno.args;
if (mode === "receive") {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: Number(rest[0]) });
  print("listening");
  const conn = await listener.accept();
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  print(`received ${chunks.reduce((n, c) => n + c.length, 0)} ${await sha256(chunks)}`);
} else if (mode === "send") {
  const [host, port, bytes, kibps] = rest;
  const total = Number(bytes);
  // Seeded: reproducible, and incompressible.
  const data = randomBytes(0x12345678, total);
  const conn = await Deno.connect({ hostname: host!, port: Number(port) });
  const chunk = 16 * 1024;
  const perChunkMs = (chunk / 1024) / Number(kibps) * 1000;
  const started = performance.now();
  for (let off = 0, i = 0; off < total; off += chunk, i++) {
    const end = Math.min(total, off + chunk);
    let o = off;
    while (o < end) o += await conn.write(data.subarray(o, end));
    const ahead = started + (i + 1) * perChunkMs - performance.now();
    if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
  }
  conn.close();
  print(`sent ${total} ${await sha256([data])}`);
} else {
  console.error("usage: _transfer.ts receive PORT | send HOST PORT BYTES KIBPS");
  Deno.exit(2);
}
