/**
 * The Link conformance suite every transport runs (Hono-style shared cases):
 * frames arrive once and in order, a 9234-byte frame passes both ways, a
 * 9235-byte one is refused without harm, nothing shorter than an Ethernet
 * header arrives but a bare header does, and a closed link swallows sends.
 * A sink (null://) has no far end: it runs the cases that need none.
 */
import assert from "node:assert/strict";
import type { Link } from "../../src/link/link.ts";

/**
 * Bound of every wait for frames: generous, since the far end may be a
 * process a loaded machine starves for seconds (a wait ends as soon as its
 * condition holds; the cases pin what arrives, not how fast).
 */
const WAIT_MS = 20_000;

function collect(link: Link): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.onFrame = (f) => got.push(f.slice());
  return got;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Two links joined so that what one sends the other receives. */
export interface Pair {
  a: Link;
  b: Link;
  /** Whether closing one end is seen by the other. */
  closePropagates: boolean;
  cleanup(): Promise<void>;
}

function numbered(seq: number, size = 60): Uint8Array {
  const f = new Uint8Array(size);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5]);
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

const seqOf = (f: Uint8Array) => new DataView(f.buffer, f.byteOffset).getUint32(14);

/** Registers the conformance tests for `name`; `skip` returns a reason to skip (or null). */
export function conformance(
  name: string,
  makePair: () => Promise<Pair>,
  skip: (t: Deno.TestContext) => Promise<boolean> = () => Promise.resolve(false),
): void {
  Deno.test(`${name} link delivers frames once and in order`, async (t) => {
    if (await skip(t)) return;
    const p = await makePair();
    try {
      const got = collect(p.b);
      // A pair may have carried start-up frames already: count from here.
      const dropsBefore = p.a.stats.dropsOut;
      const inBefore = p.b.stats.framesIn;
      for (let i = 0; i < 1000; i++) {
        p.a.send(numbered(i));
        if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
      }
      await until("1000 frames", () => got.length >= 1000 - (p.a.stats.dropsOut - dropsBefore), WAIT_MS);
      assert.equal(p.a.stats.dropsOut - dropsBefore, 0);
      assert.deepEqual(got.map(seqOf), Array.from({ length: 1000 }, (_, i) => i));
      assert.equal(p.b.stats.framesIn - inBefore, 1000);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link carries a 9234-byte frame both ways`, async (t) => {
    if (await skip(t)) return;
    const p = await makePair();
    try {
      const atB = collect(p.b);
      const atA = collect(p.a);
      p.a.send(numbered(1, 9234));
      p.b.send(numbered(2, 9234));
      await until("jumbo frames", () => atA.length === 1 && atB.length === 1, WAIT_MS);
      assert.equal(atB[0]!.length, 9234);
      assert.equal(atA[0]!.length, 9234);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link refuses a 9235-byte frame and keeps working`, async (t) => {
    if (await skip(t)) return;
    const p = await makePair();
    try {
      const got = collect(p.b);
      const dropsBefore = p.a.stats.dropsOut + p.b.stats.dropsIn;
      p.a.send(numbered(1, 9235));
      p.a.send(numbered(2));
      await until("the frame after the oversize one", () => got.length === 1, WAIT_MS);
      assert.equal(seqOf(got[0]!), 2);
      assert.equal(p.a.stats.dropsOut + p.b.stats.dropsIn - dropsBefore, 1);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link hands on no frame of 1-13 bytes, and a 14-byte one (a bare header)`, async (t) => {
    if (await skip(t)) return;
    const p = await makePair();
    try {
      const got = collect(p.b);
      const header = numbered(0).subarray(0, 14);
      for (let n = 1; n < 14; n++) p.a.send(header.slice(0, n));
      p.a.send(header);
      p.a.send(numbered(1));
      await until("the frames after the short ones", () => got.length >= 2, WAIT_MS);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got.map((f) => f.length), [14, 60]);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link ends cleanly and swallows sends after close`, async (t) => {
    if (await skip(t)) return;
    const p = await makePair();
    try {
      p.a.close("test closed it");
      assert.equal(await p.a.closed, "test closed it");
      const before = p.a.stats.dropsOut;
      p.a.send(numbered(1));
      assert.equal(p.a.stats.dropsOut, before + 1);
      if (p.closePropagates) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const reason = await Promise.race([
          p.b.closed,
          new Promise<string>((r) => (timer = setTimeout(() => r("timeout"), WAIT_MS))),
        ]);
        clearTimeout(timer);
        assert.notEqual(reason, "timeout");
      }
    } finally {
      await p.cleanup();
    }
  });
}

/**
 * Registers the cases a sink can pass (a link with no far end, null://): it
 * takes frames of every size without delivering one or throwing, closes
 * once with its reason, and swallows sends after close.
 */
export function sinkConformance(name: string, open: () => Promise<Link>): void {
  Deno.test(`${name} link takes frames without delivering any`, async () => {
    const link = await open();
    try {
      const got = collect(link);
      for (let i = 0; i < 100; i++) link.send(numbered(i));
      link.send(numbered(100, 9234));
      link.send(numbered(101, 9235));
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(got.length, 0);
      assert.equal(link.stats.framesOut + link.stats.dropsOut, 102);
      assert.ok(link.stats.framesOut >= 101);
    } finally {
      link.close();
    }
  });

  Deno.test(`${name} link ends cleanly and swallows sends after close`, async () => {
    const link = await open();
    link.close("test closed it");
    link.close("a second close changes nothing");
    assert.equal(await link.closed, "test closed it");
    const before = link.stats.dropsOut;
    link.send(numbered(1));
    assert.equal(link.stats.dropsOut, before + 1);
  });
}
