/**
 * Fuzz: `vde wirefilter` as a stream filter (a dpipe's middle) reads VDE's
 * stream framing on stdin from whatever is on the other end. 2,000 writes
 * of random bytes and of mutated framed frames (lengths changed, cut,
 * lengthened) go in, with delay, duplication, an MTU and reordering on.
 * The filter must keep running, write only well-framed frames of a sane
 * length, say what it resynchronised over, and, once a run of 0xff bytes
 * has flushed whatever the junk left half-read, pass a clean frame; closed
 * input then ends it with status 0. Seeded.
 */
import assert from "node:assert/strict";
import { FilterProcess, framed, sleep, tagOf, testFrame, VDE } from "./_helpers.ts";
import { junk, mutate, prng } from "../helpers/random.ts";
import { VDE_MAX_FRAME } from "../../src/wire/ethernet.ts";

const WRITES = 2000;

Deno.test("wirefilter stream fuzz: 2,000 writes of random and mutated framing; it keeps running, frames out stay sane, a clean frame passes after", async () => {
  const p = new FilterProcess([
    ...VDE,
    "wirefilter",
    "-d",
    "1",
    "-D",
    "10",
    "-m",
    "1500",
    "-N",
    "--seed",
    "7",
  ]);
  const rnd = prng(0xf117e4);
  try {
    await p.untilForwarding();
    const template = framed(Array.from({ length: 8 }, (_, i) => testFrame(1000 + i, 60 + 37 * i)));
    for (let i = 0; i < WRITES; i++) {
      const bytes = rnd() < 0.3
        ? junk(rnd, 3000)
        : mutate(template, rnd, { cut: 0.2, growBy: 500, minFlips: 0, maxFlips: 3 });
      if (bytes.length > 0) await p.writeRaw(bytes);
      if (i % 100 === 99) await sleep(10);
    }
    // Whatever frame the junk left half-read is completed by 0xff bytes; the rest read as an oversize length,
    // which drops the rest of the write: the stream is in step again.
    await sleep(300);
    await p.writeRaw(new Uint8Array(2 * VDE_MAX_FRAME + 100).fill(0xff));
    await sleep(300);
    const before = p.out.length;
    await p.send([testFrame(0xc1ea)]);
    await p.waitFrames(before + 1, 20_000);
    await sleep(100);
    assert.ok(p.out.slice(before).some((x) => tagOf(x.frame) === 0xc1ea), "the clean frame passed");
    assert.equal(p.exitStatus, null, `still running: ${p.stderr}`);
    const bad = p.out.filter((x) => x.frame.length === 0 || x.frame.length > 1500);
    assert.deepEqual(bad.map((x) => x.frame.length), [], "nothing past the MTU, nothing empty");
    assert.match(p.stderr, /above 9236, stream resynchronised/);
    console.log(`wirefilter stream fuzz: ${WRITES} writes, ${p.out.length} frames out`);
    await p.closeInput();
    const status = await p.waitExit(30_000);
    assert.equal(status.code, 0, p.stderr);
    const lines = p.stderr.trim().split("\n");
    assert.ok(lines.length < 20, `a few lines, not one per bad frame:\n${p.stderr}`);
  } finally {
    await p.stop();
  }
});
