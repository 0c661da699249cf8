/**
 * The switch thread's warm-up: throwaway frames through its own loop before
 * the first command, which must leave no trace (no address learnt, no frame
 * counted, no fd left open) and never stop the thread from starting.
 */
import assert from "node:assert/strict";
import { libc } from "../../ffi/libc.ts";
import { TEST_WARMUP_MAX_MS, testWarmupMs, warmUp } from "../../src/dataplane/switch_warmup.ts";
import type { PortFdKind } from "../../src/dataplane/switch_layout.ts";
import { Switch } from "../../src/switch/switch.ts";
import { SwitchStatus } from "../../src/web/status.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { makeConsole } from "../console/_helpers.ts";
import { RecordingFds } from "./_warm_fds.ts";
import { BROADCAST, ethFrame, mac, tagOf, threadWarmed, until, within } from "../helpers/vde_clients.ts";

/**
 * Calls `sample` about every millisecond until `sw`'s thread says its warm-up is over (60 s bound),
 * then once more; returns how long warming took.
 */
async function sampleUntilWarmed(sw: Switch, sample: () => void): Promise<number | null> {
  let done = false;
  const warmed = threadWarmed(sw).finally(() => done = true);
  while (!done) {
    sample();
    await Promise.race([warmed, new Promise((resolve) => setTimeout(resolve, 1))]);
  }
  sample();
  return await warmed;
}

Deno.test("warm-up attaches ports 1-3 (two datagram, one tap), serves them, detaches each and closes its fds", () => {
  const calls = new RecordingFds();
  const attached: [number, PortFdKind][] = [];
  const detached: number[] = [];
  let turns = 0;
  let framesSeen = 0;
  const fds = new Map<number, number>();
  warmUp({
    attach: (port, fd, kind) => {
      attached.push([port, kind]);
      fds.set(port, fd);
    },
    turn: () => {
      turns++;
      // Read what the frames' writer queued on each stand-in port, as the loop would.
      const buf = new Uint8Array(2048);
      for (const fd of fds.values()) {
        for (;;) {
          // The stand-in ports are non-blocking: -1 (EAGAIN) once drained.
          if (libc().read(fd, buf, buf.length) <= 0) break;
          framesSeen++;
        }
      }
    },
    detach: (port) => detached.push(port),
    ends: () => false,
  }, calls);
  assert.deepEqual(attached, [[1, "dgram"], [2, "dgram"], [3, "tap"]]);
  assert.deepEqual(detached, [1, 2, 3]);
  assert.ok(turns >= 256, `${turns} turns`);
  assert.ok(framesSeen >= turns, `${framesSeen} frames for ${turns} turns`);
  calls.assertAllClosed(6);
});

Deno.test("VDE_TEST_WARMUP_MS takes a whole number of ms up to a minute, and anything else leaves the usual warm-up", () => {
  for (const text of ["1", "20000", String(TEST_WARMUP_MAX_MS)]) {
    assert.equal(testWarmupMs(text), Number(text));
  }
  for (
    const text of [undefined, "", "0", "-5", "1e9", "Infinity", "0x10", " 20", "20.5", "60001", "999999"]
  ) {
    assert.equal(testWarmupMs(text), 0, `${text}`);
  }
});

Deno.test("warm-up ends at the round after it is told to end (a client's port, a stop), and still detaches and closes", () => {
  const calls = new RecordingFds();
  const detached: number[] = [];
  let turns = 0;
  warmUp({
    attach: () => {},
    turn: () => turns++,
    detach: (port) => detached.push(port),
    // A client's port is posted during the tenth round.
    ends: () => turns >= 10,
  }, calls);
  assert.equal(turns, 10);
  assert.deepEqual(detached, [1, 2, 3]);
  calls.assertAllClosed(6);
});

Deno.test("warm-up that fails midway still detaches what it attached and closes its fds", () => {
  const calls = new RecordingFds();
  const detached: number[] = [];
  warmUp({
    attach: () => {},
    turn: () => {
      throw new Error("a bug in the loop");
    },
    detach: (port) => detached.push(port),
    ends: () => false,
  }, calls);
  assert.deepEqual(detached, [1, 2, 3]);
  calls.assertAllClosed(6);
});

Deno.test("warm-up whose detach throws still detaches the other ports, closes its fds and does not throw", () => {
  const calls = new RecordingFds();
  const detached: number[] = [];
  warmUp({
    attach: () => {},
    turn: () => {},
    detach: (port) => {
      detached.push(port);
      if (port === 1) throw new Error("a bug in the detach");
    },
    ends: () => false,
  }, calls);
  assert.deepEqual(detached, [1, 2, 3]);
  calls.assertAllClosed(6);
});

Deno.test("warm-up that cannot open its third port closes the two it opened", () => {
  const calls = new RecordingFds();
  let pairs = 0;
  const attached: number[] = [];
  const detached: number[] = [];
  warmUp({
    attach: (port) => attached.push(port),
    turn: () => assert.fail("no turn without all three ports"),
    detach: (port) => detached.push(port),
    ends: () => false,
  }, {
    pair: () => ++pairs === 3 ? null : calls.pair(),
    eventfd: () => calls.eventfd(),
    close: (fd) => calls.close(fd),
  });
  assert.deepEqual([attached, detached], [[1, 2], [1, 2]]);
  calls.assertAllClosed(4);
});

Deno.test("a threaded switch's MAC table reads empty from the moment it is made, through its thread's start and warm-up", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  const status = new SwitchStatus(sw, `/tmp/phantom-${Deno.pid}`);
  try {
    // Before the worker has run a line (it starts asynchronously): fresh shared memory is all
    // zeros, which must not read as entries on port 0 (/metrics showed hundreds right after start).
    const counts: number[] = [];
    const sample = () => {
      const listed = [...sw.engine.macTable.entries()].length;
      const metric = [...status.snapshot().fdbEntries.values()].reduce((a, b) => a + b, 0);
      if (listed + metric + sw.engine.macTable.size > 0) counts.push(listed, metric, sw.engine.macTable.size);
    };
    sample();
    assert.deepEqual(counts, [], "entries listed / in /metrics / size before the thread started");
    // And while it starts and warms on its twin, until the thread says warming is over.
    await sampleUntilWarmed(sw, sample);
    assert.deepEqual(counts, [], "entries listed / in /metrics / size while the thread started");
  } finally {
    status.close();
    await sw.close();
  }
});

Deno.test("threaded switch leaves no trace of its warm-up: no address learnt, no frame counted on ports 1-3", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const links = [2, 5].map((port) => {
      const link = new MemoryLink(`memory ${port}`);
      sw.attach(link, { port });
      return link;
    });
    await threadWarmed(sw);
    links[1]!.receive(ethFrame(BROADCAST, mac(0xa), 1));
    await until("port 2 gets the broadcast from port 5", () => links[0]!.sent.some((f) => tagOf(f) === 1));
    const learned = [...sw.engine.macTable.entries()].map((e) => `${e.mac}@${e.port}`);
    assert.deepEqual(learned, ["02:00:00:00:00:0a@5"]);
    for (const port of [1, 3]) {
      const s = sw.engine.portStats(port);
      assert.deepEqual([s.framesIn, s.framesOut, s.bytesIn, s.bytesOut], [0, 0, 0, 0], `port ${port}`);
    }
    const two = sw.engine.portStats(2);
    assert.deepEqual([two.framesIn, two.framesOut], [0, 1]);
    const { flooded, unicast } = sw.engine.counters;
    assert.deepEqual({ flooded, unicast }, { flooded: 1, unicast: 0 }, "switch-wide: the one broadcast");
  } finally {
    await sw.close();
  }
});

Deno.test("a client attached on port 1 right after start sees only its own frames counted, even while the thread warms", async () => {
  const sw = new Switch({ numPorts: 8, dataplane: "thread" });
  try {
    const link = new MemoryLink("memory 1");
    sw.attach(link, { port: 1 });
    // The warm-up runs on the thread while the main thread reads the shared counters: sample them
    // until the thread says it is over (the signal `showinfo` shows).
    const seen: string[] = [];
    const sample = () => {
      const s = sw.engine.portStats(1);
      const { flooded, unicast } = sw.engine.counters;
      if (s.framesIn + s.framesOut + flooded + unicast > 0) {
        seen.push(`${s.framesIn}/${s.framesOut}/${flooded}/${unicast}`);
      }
    };
    const warmedMs = await sampleUntilWarmed(sw, sample);
    assert.ok(typeof warmedMs === "number" && warmedMs > 0, `warmed in ${warmedMs} ms`);
    assert.equal(sw.warmedMs, warmedMs);
    assert.deepEqual(seen.slice(0, 3), [], "port 1 in/out, flooded/unicast before the client sent anything");
    const N = 5;
    for (let i = 0; i < N; i++) link.receive(ethFrame(BROADCAST, mac(1), i));
    await until(`port 1 counts ${N} frames in`, () => sw.engine.portStats(1).framesIn >= N);
    const s = sw.engine.portStats(1);
    assert.deepEqual([s.framesIn, s.framesOut], [N, 0]);
    const { flooded, unicast } = sw.engine.counters;
    assert.deepEqual({ flooded, unicast }, { flooded: N, unicast: 0 });
  } finally {
    await sw.close();
  }
});

Deno.test("showinfo says when the switch thread's warm-up is over, and how long it took", async () => {
  const c = makeConsole(8, {}, "thread");
  try {
    const ms = await threadWarmed(c.sw);
    assert.match(
      await c.run("showinfo"),
      new RegExp(`^switch thread warmed up in ${Math.round(ms!)} ms$`, "m"),
    );
  } finally {
    await c.sw.close();
  }
});

Deno.test("a switch forwarding on the main thread has no warm-up to wait for", async () => {
  const c = makeConsole(8, {}, "main");
  try {
    assert.equal(await within("warmed", 1000, c.sw.warmed), null);
    assert.doesNotMatch(await c.run("showinfo"), /warm/);
  } finally {
    await c.sw.close();
  }
});
