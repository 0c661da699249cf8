/**
 * The switch and plug threads keep warm while traffic is sparse but recent:
 * after a frame their wait times out every millisecond for a while (each a
 * short wait the thread counts), and once idle past that window they go back
 * to the wait they had before (a whole tick, or none), counting nothing
 * more: an idle thread costs no CPU. The counts are read, never timed.
 * $VDE_KEEP_WARM_MS sets the window, 0 turns it off (a lab of many switches
 * and plugs under a steady trickle pays it per thread), and a value that
 * names no window stops `vde switch` and `vde plug` in one line.
 */
import assert from "node:assert/strict";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { PlugThread } from "../../src/dataplane/plug_thread.ts";
import { SwitchThread, type SwitchThreadSink } from "../../src/dataplane/switch_thread.ts";
import { sharedEngineState, SwitchEngine } from "../../src/switch/engine.ts";
import { BROADCAST, ethFrame, mac, sleep, threadWarmed, until } from "../helpers/vde_clients.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";
import { KEEP_WARM_DEFAULT_MS, keepWarmMs, KeepWarmSettingError } from "../../src/dataplane/keep_warm.ts";
import { run } from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";

/** Longer than the threads' window (150 ms) and than any wait a warm thread takes. */
const QUIET_MS = 400;
/** Longer than the switch thread's idle wait (its tick, a second). */
const IDLE_MS = 1500;

function pair(): [number, number] {
  const fds = datagramPair();
  assert.ok(fds !== null, "a datagram pair");
  return fds;
}

/** Resolves with the count once it stopped moving for QUIET_MS (the thread went back to its idle wait). */
async function quiet(count: () => number): Promise<number> {
  let last = count();
  await until("the thread to stop its short waits", async () => {
    await sleep(QUIET_MS);
    const now = count();
    const still = now === last;
    last = now;
    return still;
  }, 20_000);
  return last;
}

/** Sends a frame into `from` and waits until `to` has it. */
async function crosses(from: number, to: number): Promise<void> {
  const f = ethFrame(BROADCAST, mac(0xa), 1);
  assert.equal(libc().write(from, f, f.length), f.length);
  const buf = new Uint8Array(2048);
  await until("the frame to cross", () => libc().read(to, buf, buf.length) > 0, 20_000);
}

/** What both threads must do, given a thread that forwards from `from` to `to` and its count. */
async function keepsWarmThenIdles(count: () => number, from: number, to: number): Promise<void> {
  const idle = await quiet(count);
  await crosses(from, to);
  await until("short waits after a frame", () => count() > idle, 20_000);
  const after = await quiet(count);
  await sleep(IDLE_MS);
  assert.equal(count(), after, "idle, the thread takes no short wait");
  // And a frame later warms it again.
  await crosses(from, to);
  await until("short waits after the next frame", () => count() > after, 20_000);
}

/**
 * A warmed switch thread forwarding between two datagram ports, given to `body` with the ports' peers;
 * `also` configures it further before it warms.
 */
async function withSwitchThread(
  body: (thread: SwitchThread, from: number, to: number) => Promise<void>,
  { state = sharedEngineState(), sink = QUIET_SINK, also = (_thread: SwitchThread) => {} } = {},
): Promise<void> {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, state, sink);
  try {
    thread.addFd(1, a, "dgram");
    thread.addFd(2, b, "dgram");
    for (const port of [1, 2]) thread.command({ op: "call", method: "activatePort", args: [port] });
    also(thread);
    assert.notEqual(await threadWarmed(thread), null, "the thread warmed");
    await body(thread, peerA, peerB);
    await thread.removeFd(a);
    await thread.removeFd(b);
  } finally {
    await thread.stop();
    for (const fd of [peerA, peerB]) libc().close(fd);
  }
  // Only once the thread let go of them (a thread that never answered keeps them: see WorkerHandle).
  for (const fd of [a, b]) libc().close(fd);
}

/** A plug thread between two datagram fds, given to `body` with their peers. */
async function withPlugThread(
  body: (thread: PlugThread, from: number, to: number) => Promise<void>,
): Promise<void> {
  const [a, peerA] = pair();
  const [b, peerB] = pair();
  const thread = new PlugThread({ fd: a, kind: "dgram", name: "a" }, { fd: b, kind: "dgram", name: "b" });
  try {
    await body(thread, peerA, peerB);
  } finally {
    await thread.stop();
    await thread.released;
    for (const fd of [a, peerA, b, peerB]) libc().close(fd);
  }
}

Deno.test("an idle switch thread returns to its tick-long wait once a frame's keep-warm window is over", async () => {
  await withSwitchThread((thread, from, to) => keepsWarmThenIdles(() => thread.warmWaits, from, to));
});

/** Sends a frame from `from` to `to` through `thread`, then waits out 20 kept-warm turns, each with a stand-in. */
async function standInsAfterAFrame(thread: SwitchThread, from: number, to: number): Promise<void> {
  await crosses(from, to);
  const before = thread.warmWaits;
  await until("kept-warm turns after the frame", () => thread.warmWaits >= before + 20, 20_000);
}

Deno.test("a kept-warm switch thread's stand-in frames leave no trace: no frame sent, no address learnt, no counter moved", async () => {
  const state = sharedEngineState();
  const reader = new SwitchEngine({ numPorts: 4, shared: { state, writer: false } }, () => {});
  await withSwitchThread(async (thread, from, to) => {
    await standInsAfterAFrame(thread, from, to);
    const buf = new Uint8Array(2048);
    for (const fd of [from, to]) {
      assert.ok(libc().read(fd, buf, buf.length) < 0, "no frame but the one sent");
    }
    assert.equal(reader.macTable.size, 1, "only the sender's address learnt");
    // Every counter of every port, drops too: the stand-in's send to fd -1 fails (EBADF), a drop if counted here.
    const none = { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0, dropsIn: 0, dropsOut: 0 };
    const stats = [0, 1, 2, 3].map((port) => reader.portStats(port));
    const [sent, got] = [{ ...none, framesIn: 1, bytesIn: 64 }, { ...none, framesOut: 1, bytesOut: 64 }];
    assert.deepEqual(stats, [none, sent, got, none]);
    assert.deepEqual([reader.counters.flooded, reader.counters.unicast, reader.counters.badPort], [1, 0, 0]);
  }, { state });
});

Deno.test("a kept-warm switch thread's stand-in frames reach no main-thread link, capture, event or loop warning", async () => {
  const seen: string[] = [];
  const from = (frame: Uint8Array) => [...frame.subarray(6, 12)].join(":");
  const sink: SwitchThreadSink = {
    ...QUIET_SINK,
    frame: (port, frame) => seen.push(`frame to ${port} from ${from(frame)}`),
    observed: (port, out, _fresh, frame) =>
      seen.push(`observed ${out ? "out of" : "into"} ${port} from ${from(frame)}`),
    event: (event) => seen.push(`event ${JSON.stringify(event)}`),
    loop: (warning) => seen.push(`loop ${warning.mac}`),
  };
  const also = (thread: SwitchThread) => {
    // A cable, slirp or stream on each port as well: its frames cross to the main thread.
    for (const port of [1, 2]) thread.command({ op: "remote", port, count: 1 });
    thread.command({ op: "observe", on: true });
    thread.command({ op: "events", on: true });
  };
  await withSwitchThread(async (thread, peerA, peerB) => {
    await standInsAfterAFrame(thread, peerA, peerB);
    await until(
      "the frame's copy for port 2's main-thread link",
      () => seen.some((s) => s.startsWith("frame")),
      20_000,
    );
    await thread.settled();
    const sender = from(ethFrame(BROADCAST, mac(0xa), 1));
    assert.deepEqual(seen.filter((s) => !s.startsWith("event")).sort(), [
      `frame to 2 from ${sender}`,
      `observed into 1 from ${sender}`,
      `observed out of 2 from ${sender}`,
    ]);
    const events = seen.filter((s) => s.startsWith("event"));
    assert.equal(events.length, 1, `one event, the sender learnt: ${events}`);
    assert.match(events[0]!, /"mac-learned".*"02:00:00:00:00:0a"/);
  }, { sink, also });
});

Deno.test("a switch thread just warmed has taken no short wait: its warm-up's throwaway frames are no traffic to keep warm for", async () => {
  const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK);
  try {
    assert.notEqual(await threadWarmed(thread), null, "the thread warmed");
    // Longer than the window a last warm-up frame would have opened.
    await sleep(QUIET_MS);
    assert.equal(thread.warmWaits, 0);
  } finally {
    await thread.stop();
  }
});

Deno.test("an idle plug thread returns to a wait without a timeout once a frame's keep-warm window is over", async () => {
  await withPlugThread((thread, from, to) => keepsWarmThenIdles(() => thread.warmWaits, from, to));
});

/** Runs `body` with $VDE_KEEP_WARM_MS set to `value`, then puts back what was there. */
async function withKeepWarm(value: string, body: () => Promise<void>): Promise<void> {
  const saved = Deno.env.get("VDE_KEEP_WARM_MS");
  Deno.env.set("VDE_KEEP_WARM_MS", value);
  try {
    await body();
  } finally {
    if (saved === undefined) Deno.env.delete("VDE_KEEP_WARM_MS");
    else Deno.env.set("VDE_KEEP_WARM_MS", saved);
  }
}

/** Sends frames 20 ms apart (well inside a default window) and resolves with the short waits they caused. */
async function trickle(count: () => number, from: number, to: number): Promise<number> {
  const before = count();
  for (let i = 0; i < 5; i++) {
    await crosses(from, to);
    await sleep(20);
  }
  // Longer than a default window after the last frame: what it would have counted is counted.
  await sleep(QUIET_MS);
  return count() - before;
}

Deno.test("VDE_KEEP_WARM_MS=0: a switch thread and a plug thread serve a trickle of frames without a single short wait", async () => {
  await withKeepWarm("0", async () => {
    await withSwitchThread(async (thread, from, to) => {
      assert.equal(await trickle(() => thread.warmWaits, from, to), 0, "the switch thread took short waits");
    });
    await withPlugThread(async (thread, from, to) => {
      assert.equal(await trickle(() => thread.warmWaits, from, to), 0, "the plug thread took short waits");
    });
  });
});

Deno.test("VDE_KEEP_WARM_MS is the keep-warm window in whole milliseconds up to a second (150 unset); anything else is refused in one line", () => {
  assert.equal(keepWarmMs(undefined), KEEP_WARM_DEFAULT_MS);
  assert.equal(KEEP_WARM_DEFAULT_MS, 150);
  assert.equal(keepWarmMs("0"), 0);
  assert.equal(keepWarmMs("20"), 20);
  assert.equal(keepWarmMs("1000"), 1000);
  for (const bad of ["", "-1", "1001", "1.5", " 20", "20ms", "off", "1e3", "0x10", "99999", "2\x1b[2J"]) {
    assert.throws(() => keepWarmMs(bad), (e: unknown) => {
      assert.ok(e instanceof KeepWarmSettingError, bad);
      assert.match(
        e.message,
        /^VDE_KEEP_WARM_MS must be a whole number of milliseconds from 0 \(never keep warm\) to 1000, got ".*"$/,
      );
      assert.ok(!e.message.includes("\x1b"), "a control character is printed as ?");
      return true;
    });
  }
});

Deno.test("vde switch and vde plug with a VDE_KEEP_WARM_MS naming no window say so in one line, exit 1 and make nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-keep-warm-" });
  try {
    for (const args of [["switch", "--sock", `${dir}/sw`], ["plug", `${dir}/sw`, "tap://kw0"]]) {
      const r = await run([...VDE_CLI, ...args], {
        env: { VDE_KEEP_WARM_MS: "fast" },
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.equal(
        r.stderr,
        'vde: VDE_KEEP_WARM_MS must be a whole number of milliseconds from 0 (never keep warm) to 1000, got "fast"\n',
        args[0],
      );
      assert.deepEqual([...Deno.readDirSync(dir)], [], `${args[0]} made nothing`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
