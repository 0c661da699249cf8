import assert from "node:assert/strict";
import { plug, type PlugOptions, plugsOnThread } from "../../src/link/plug.ts";
import { StreamLink } from "../../src/link/stream_link.ts";
import { BUILTIN_SCHEMES } from "../../src/link/schemes.ts";
import { setLogWriter } from "../../src/log.ts";

/** Two stream links joined back to back by in-memory streams. */
function linkPair(name: string): [StreamLink, StreamLink] {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  return [
    new StreamLink(`${name}1`, ba.readable, ab.writable),
    new StreamLink(`${name}2`, ab.readable, ba.writable),
  ];
}

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * left <-> (a plugged to b) <-> right, the options made knowing a and b; `exchange(n)` sends n frames
 * each way (0.. from left, 100.. from right) and waits until they are through.
 */
function cableOf(options: (a: StreamLink, b: StreamLink) => PlugOptions = () => ({})) {
  const [left, a] = linkPair("l");
  const [b, right] = linkPair("r");
  const cable = plug(a, b, options(a, b));
  const atRight: number[] = [];
  const atLeft: number[] = [];
  right.onFrame = (f) => atRight.push(f[0]!);
  left.onFrame = (f) => atLeft.push(f[0]!);
  const exchange = async (n: number) => {
    for (let i = 0; i < n; i++) {
      left.send(frameStarting(i));
      right.send(frameStarting(100 + i));
    }
    await waitFor("frames through the plug", () => atRight.length === n && atLeft.length === n);
  };
  return { left, a, b, right, cable, atLeft, atRight, exchange };
}

Deno.test("plug carries frames both ways between two links", async () => {
  const { left, a, b, right, cable, atLeft, atRight, exchange } = cableOf();
  await exchange(50);
  assert.deepEqual(atRight, Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(atLeft, Array.from({ length: 50 }, (_, i) => 100 + i));
  b.close("unplugged");
  assert.equal(await cable, "unplugged");
  assert.equal(await a.closed, "plugged link closed: unplugged");
  left.close();
  right.close();
});

Deno.test("plug shows its watcher each frame arriving on the watched end only, before sending it on", async () => {
  const seen: number[] = [];
  const { left, b, right, cable, exchange } = cableOf((_, b) => ({
    watch: { from: b, see: (f) => seen.push(f[0]!) },
  }));
  await exchange(5);
  assert.deepEqual(seen, [100, 101, 102, 103, 104], "what b brought, not what a did");
  b.close("unplugged");
  await cable;
  left.close();
  right.close();
});

Deno.test("plug resolves with the reason of the side that ended first", async () => {
  const [left, a] = linkPair("l");
  const [b, right] = linkPair("r");
  const cable = plug(a, b);
  left.close(); // a sees EOF
  assert.equal(await cable, "peer closed the stream");
  assert.equal(b.isClosed, true);
  right.close();
});

Deno.test("plug tells each link which link its frames feed, and unhooks them when the cable ends", async () => {
  const [, a] = linkPair("l");
  const [b] = linkPair("r");
  const seen: [string, string | null][] = [];
  for (const l of [a, b]) {
    // The peer a link is told of is the other link itself.
    l.feeds = (p) => seen.push([l.description, p === null ? null : (p as StreamLink).description]);
  }
  const cable = plug(a, b);
  assert.deepEqual(seen, [["l2", "r1"], ["r1", "l2"]]);
  a.close("done");
  await cable;
  assert.deepEqual(seen.slice(2), [["l2", null], ["r1", null]]);
});

Deno.test("plugsOnThread says a plug thread is used only between vde:// or tap:// ends, unless told not to", () => {
  assert.equal(plugsOnThread("vde:///tmp/sw", "tap://t0"), true);
  // A bare path is a vde switch.
  assert.equal(plugsOnThread("/tmp/sw", "vde:///tmp/other[3]"), true);
  assert.equal(plugsOnThread("tap://t0", "tap://t1", { thread: true }), true);
  assert.equal(plugsOnThread("vde:///tmp/sw", "tap://t0", { thread: false }), false);
  for (const other of ["-", "cmd://ssh host vde plug", "slirp://", "wire://vde:///tmp/sw", "tcp://h:1"]) {
    assert.equal(plugsOnThread("vde:///tmp/sw", other), false, other);
  }
});

Deno.test("plugsOnThread asks the scheme table which schemes' links lend their fd", () => {
  const lenders = Object.entries(BUILTIN_SCHEMES).filter(([, s]) => s.lendsFd === true).map(([name]) => name);
  assert.deepEqual(lenders.sort(), ["ptp", "tap", "vde"]);
  for (const scheme of Object.keys(BUILTIN_SCHEMES)) {
    assert.equal(plugsOnThread(`${scheme}://x`, "vde:///tmp/sw"), lenders.includes(scheme), scheme);
  }
});

Deno.test("plug logs once an end opened for a plug thread that cannot lend its fd, and still forwards", async () => {
  const lines: string[] = [];
  setLogWriter((line) => lines.push(line));
  try {
    for (let i = 0; i < 2; i++) {
      const [left, a] = linkPair("l");
      const [b, right] = linkPair("r");
      const cable = plug(a, b, { openedForThread: true });
      const atRight: number[] = [];
      right.onFrame = (f) => atRight.push(f[0]!);
      left.send(frameStarting(7));
      await waitFor("a frame through the plug", () => atRight.length === 1);
      left.close();
      await cable;
      right.close();
    }
  } finally {
    setLogWriter(null);
  }
  assert.equal(lines.length, 1, lines.join(""));
  assert.match(
    lines[0]!,
    /l2: opened for a plug thread, but a stream link cannot lend its fd; forwarding on the main thread/,
  );
});

/** A 60-byte frame whose first byte is `first`: a link drops anything shorter than an Ethernet header. */
function frameStarting(first: number): Uint8Array {
  const f = new Uint8Array(60);
  f[0] = first;
  return f;
}
