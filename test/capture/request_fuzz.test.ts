/**
 * Fuzz: the switch's capture socket reads one JSON request line from its
 * client (src/capture/server.ts). 400 random lines and mutated valid
 * requests (ports, VLAN, snap length and filter retyped or out of range,
 * JSON that is null, a number, an array; a BPF listing changed) must each
 * be accepted or refused with an error record of one line that names what
 * is wrong (not a TypeError's words), while frames cross the switch; a
 * clean capture then still gets its frames. Seeded.
 */
import assert from "node:assert/strict";
import { CaptureHub } from "../../src/capture/hub.ts";
import { CaptureServer } from "../../src/capture/server.ts";
import { Switch } from "../../src/switch/switch.ts";
import { buildFrame } from "../../src/wire/ethernet.ts";
import {
  CaptureDecoder,
  RECORD_ACCEPTED,
  RECORD_ERROR,
  RECORD_FRAME,
} from "../../src/wire/capture_stream.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { junk, mutate, prng } from "../helpers/random.ts";

const N = 400;
const BATCH = 20;
// tcpdump -ddd of `icmp`.
const ICMP = "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0";

/** The first ERROR or ACCEPTED record's text ("" for ACCEPTED), or null if the socket closed without one. */
async function answer(conn: Deno.Conn): Promise<{ accepted: boolean; error: string } | null> {
  const decoder = new CaptureDecoder();
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return null;
    for (const r of decoder.push(buf.subarray(0, n))) {
      if (r.type === RECORD_ACCEPTED) return { accepted: true, error: "" };
      if (r.type === RECORD_ERROR) return { accepted: false, error: new TextDecoder().decode(r.payload) };
    }
  }
}

Deno.test("capture request fuzz: 400 random and mutated request lines are accepted or refused in one line naming why; a clean capture still works", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-capture-req-" });
  const sw = new Switch({ numPorts: 8 });
  const hub = new CaptureHub(sw.engine);
  const server = CaptureServer.start(sw, hub, { path: `${dir}/capture`, maxPendingBytes: 1 << 20 });
  const one = new MemoryLink("one"), two = new MemoryLink("two");
  sw.attach(one);
  sw.attach(two);
  const rnd = prng(0xca9e);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const odd = [null, true, -1, 0, 1, 7, 8, 4095, 4096, 1.5, 1e308, "1", "", [1], { a: 1 }, [[]]];
  const templates = [
    { ports: [], vlan: null, snaplen: 262144, filter: null },
    { ports: [1, 2], vlan: 5, snaplen: 96, filter: ICMP },
  ];
  const errors: string[] = [];
  let accepted = 0, refused = 0, silent = 0;
  const started = performance.now();
  try {
    for (let at = 0; at < N; at += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, async () => {
        let line: Uint8Array;
        const r = rnd();
        if (r < 0.15) line = junk(rnd, 200);
        else if (r < 0.25) line = new TextEncoder().encode(JSON.stringify(pick(odd)));
        else {
          const req: Record<string, unknown> = { ...pick(templates) };
          for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) {
            const key = pick(["ports", "vlan", "snaplen", "filter"]);
            req[key] = key === "filter" && rnd() < 0.5
              ? new TextDecoder().decode(mutate(new TextEncoder().encode(ICMP), rnd, { maxFlips: 3 }))
              : key === "ports" && rnd() < 0.5
              ? [pick(odd)]
              : pick(odd);
          }
          line = new TextEncoder().encode(JSON.stringify(req));
        }
        const conn = await Deno.connect({ transport: "unix", path: `${dir}/capture` });
        try {
          const bytes = new Uint8Array([...line.filter((b) => b !== 10), 10]);
          await conn.write(bytes);
          one.receive(buildFrame({ src: "02:00:00:00:00:01", payload: 46 }));
          const a = await answer(conn);
          if (a === null) silent++;
          else if (a.accepted) accepted++;
          else {
            refused++;
            // deno-lint-ignore no-control-regex
            if (a.error === "" || /[\n\x00-\x08]|Cannot read|undefined|TypeError/.test(a.error)) {
              errors.push(a.error);
            }
          }
        } finally {
          conn.close();
        }
      }));
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `capture request fuzz: ${N} requests in ${
        seconds.toFixed(1)
      } s: ${accepted} accepted, ${refused} refused, ` +
        `${silent} closed silently`,
    );
    assert.deepEqual(errors.slice(0, 5), []);
    assert.equal(silent, 0, "every request is answered");

    // A clean capture: accepted, and a frame crossing port 1 comes out.
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/capture` });
    try {
      await conn.write(new TextEncoder().encode(JSON.stringify(templates[0]) + "\n"));
      assert.deepEqual(await answer(conn), { accepted: true, error: "" });
      const decoder = new CaptureDecoder();
      const buf = new Uint8Array(65536);
      let frames = 0;
      one.receive(buildFrame({ src: "02:00:00:00:00:01", payload: 46 }));
      while (frames === 0) {
        const n = await conn.read(buf);
        assert.ok(n !== null, "the capture went on");
        for (const r of decoder.push(buf.subarray(0, n))) if (r.type === RECORD_FRAME) frames++;
      }
    } finally {
      conn.close();
    }
  } finally {
    server.close();
    sw.close();
    await Deno.remove(dir, { recursive: true });
  }
});
