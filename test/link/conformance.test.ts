/**
 * One conformance suite that every transport runs: frames arrive once and
 * in order, a jumbo frame passes, an oversize one is refused without harm,
 * closing one end ends the other, and a closed link swallows sends.
 */
import assert from "node:assert/strict";
import "../../src/link/schemes.ts";
import type { Link } from "../../src/link/link.ts";
import { openLink } from "../../src/link/registry.ts";
import { StreamLink } from "../../src/link/stream_link.ts";
import { Switch } from "../../src/switch/switch.ts";
import { VdeSwitchServer } from "../../src/vde/switch_server.ts";

/** Two links joined so that what one sends the other receives. */
interface Pair {
  a: Link;
  b: Link;
  /** Whether closing one end is seen by the other (a switch port is not). */
  closePropagates: boolean;
  cleanup(): Promise<void>;
}

function frame(seq: number, size = 60): Uint8Array {
  const f = new Uint8Array(size);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

function collect(link: Link): Uint8Array[] {
  const got: Uint8Array[] = [];
  link.onFrame = (f) => got.push(f.slice());
  return got;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function conformance(name: string, makePair: () => Promise<Pair>): void {
  Deno.test(`${name} link delivers frames once and in order`, async () => {
    const p = await makePair();
    try {
      const got = collect(p.b);
      // Paced in small bursts: a datagram peer's queue is short, and a drop there is a counted drop, not a bug.
      for (let i = 0; i < 1000; i++) {
        p.a.send(frame(i));
        if (i % 8 === 7) await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => got.length >= 1000 - p.a.stats.dropsOut, 5000, "1000 frames");
      assert.equal(p.a.stats.dropsOut, 0);
      assert.equal(got.length, 1000);
      got.forEach((f, i) => assert.equal(new DataView(f.buffer).getUint32(14), i));
      assert.equal(p.b.stats.framesIn, 1000);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link carries a 9234-byte frame both ways`, async () => {
    const p = await makePair();
    try {
      const atB = collect(p.b);
      const atA = collect(p.a);
      p.a.send(frame(1, 9234));
      p.b.send(frame(2, 9234));
      await until(() => atA.length === 1 && atB.length === 1, 5000, "jumbo frames");
      assert.equal(atB[0]!.length, 9234);
      assert.equal(atA[0]!.length, 9234);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link refuses a 9235-byte frame and keeps working`, async () => {
    const p = await makePair();
    try {
      const got = collect(p.b);
      p.a.send(frame(1, 9235));
      p.a.send(frame(2));
      await until(() => got.length === 1, 5000, "the frame after the oversize one");
      assert.equal(new DataView(got[0]!.buffer).getUint32(14), 2);
      assert.equal(p.a.stats.dropsOut + p.b.stats.dropsIn, 1);
    } finally {
      await p.cleanup();
    }
  });

  Deno.test(`${name} link ends cleanly and swallows sends after close`, async () => {
    const p = await makePair();
    try {
      p.a.close("test closed it");
      assert.equal(await p.a.closed, "test closed it");
      p.a.send(frame(1));
      if (p.closePropagates) {
        const reason = await Promise.race([
          p.b.closed,
          new Promise<string>((r) => setTimeout(() => r("timeout"), 5000)),
        ]);
        assert.notEqual(reason, "timeout");
      }
    } finally {
      await p.cleanup();
    }
  });
}

conformance("in-memory stream", () => {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  const a = new StreamLink("a", ba.readable, ab.writable);
  const b = new StreamLink("b", ab.readable, ba.writable);
  return Promise.resolve({
    a,
    b,
    closePropagates: true,
    cleanup: async () => {
      a.close();
      b.close();
      await Promise.all([a.closed, b.closed]);
    },
  });
});

conformance("vde:// through our switch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-conf-" });
  const sw = new Switch({ numPorts: 8 });
  const server = await VdeSwitchServer.start(sw, { dir: `${dir}/sw`, log: () => {} });
  const a = await openLink(`vde://${dir}/sw`);
  const b = await openLink(`vde://${dir}/sw`);
  return {
    a,
    b,
    closePropagates: false,
    cleanup: async () => {
      a.close();
      b.close();
      server.close();
      sw.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});

conformance("cmd:// running vde plug on our switch", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-conf-" });
  const sw = new Switch({ numPorts: 8 });
  const server = await VdeSwitchServer.start(sw, { dir: `${dir}/sw`, log: () => {} });
  const mod = new URL("../../mod.ts", import.meta.url).pathname;
  const a = await openLink(`cmd://${Deno.execPath()} run -A ${mod} plug ${dir}/sw`);
  const b = await openLink(`vde://${dir}/sw`);
  // The child plugs in asynchronously: wait until it holds a port.
  await until(() => server.endpointCount === 2, 10_000, "the child's port");
  return {
    a,
    b,
    closePropagates: false,
    cleanup: async () => {
      a.close();
      b.close();
      await a.closed;
      server.close();
      sw.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});
