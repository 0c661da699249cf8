/**
 * The plug thread's warm-up: throwaway frames through its own loop (here a
 * stand-in that forwards as the loop does) before the real ends, which must
 * leave nothing behind (no fd open, no count in the real counters) and never
 * stop the thread from starting.
 */
import assert from "node:assert/strict";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { inputWaiting, QUIET_SCHED, warmUp } from "../../src/dataplane/plug_warmup.ts";
import type { PlugStart } from "../../src/dataplane/plug_layout.ts";
import { DemandGovernor } from "../../src/dataplane/priority.ts";
import { RecordingFds } from "./_warm_fds.ts";

/** Forwards every frame waiting on one end to the other, as the plug thread's loop would; returns how many. */
function forward(start: PlugStart): number {
  const c = libc();
  const buf = new Uint8Array(2048);
  let frames = 0;
  for (const [from, to] of [[start.a.fd, start.b.fd], [start.b.fd, start.a.fd]]) {
    for (;;) {
      const n = c.read(from!, buf, buf.length);
      if (n <= 0) break;
      c.write(to!, buf, n);
      frames++;
    }
  }
  return frames;
}

Deno.test("plug warm-up feeds its loop frames on a tap-like and a datagram end until warm, then closes its fds", () => {
  const calls = new RecordingFds();
  let feeds = 0;
  let frames = 0;
  let kinds: string[] = [];
  warmUp((start, feed) => {
    kinds = [start.a.kind, start.b.kind];
    assert.equal(start.shared.byteLength > 0, true);
    while (feed()) {
      feeds++;
      frames += forward(start);
    }
  }, calls);
  assert.deepEqual(kinds, ["tap", "dgram"]);
  assert.ok(feeds >= 256, `${feeds} wake-ups fed`);
  // Each wake-up carries at least one frame each way.
  assert.ok(frames >= 2 * feeds, `${frames} frames in ${feeds} wake-ups`);
  // Two socketpairs and the eventfd.
  calls.assertAllClosed(5);
});

Deno.test("plug warm-up told to stop ends within 256 wake-ups and closes its fds", () => {
  const calls = new RecordingFds();
  let feeds = 0;
  let stop = false;
  warmUp(
    (start, feed) => {
      while (feed()) {
        feeds++;
        forward(start);
        if (feeds === 300) stop = true;
      }
    },
    calls,
    () => stop,
  );
  assert.ok(feeds >= 300 && feeds <= 300 + 256, `${feeds} wake-ups fed, the stop at the 300th`);
  calls.assertAllClosed(5);
});

Deno.test("plug warm-up ends at the next look once a real end has input waiting, and still closes its fds", () => {
  for (const [from, expected] of [[0, 0], [300, 512]] as const) {
    const calls = new RecordingFds();
    let feeds = 0;
    warmUp(
      (start, feed) => {
        while (feed()) {
          feeds++;
          forward(start);
        }
      },
      calls,
      () => feeds >= from,
    );
    assert.equal(feeds, expected, `input waiting from wake-up ${from}`);
    calls.assertAllClosed(5);
  }
});

Deno.test("inputWaiting says true once one of its fds has a frame to read, and not before", () => {
  const c = libc();
  const a = datagramPair()!;
  const b = datagramPair()!;
  const input = inputWaiting([a[0]!, b[0]!]);
  try {
    assert.equal(input.waiting(), false);
    c.write(b[1]!, new Uint8Array(60), 60);
    assert.equal(input.waiting(), true);
  } finally {
    input.close();
    for (const fd of [...a, ...b]) c.close(fd);
  }
});

Deno.test("plug warm-up whose loop throws still closes its fds", () => {
  const calls = new RecordingFds();
  warmUp(() => {
    throw new Error("a bug in the loop");
  }, calls);
  calls.assertAllClosed(5);
});

Deno.test("plug warm-up that cannot make its eventfd closes its socketpairs and never runs the loop", () => {
  const calls = new RecordingFds();
  let ran = false;
  warmUp(() => ran = true, { pair: () => calls.pair(), eventfd: () => -1, close: (fd) => calls.close(fd) });
  assert.equal(ran, false);
  calls.assertAllClosed(4);
});

Deno.test("a stream while warming never makes the thread real-time (the quiet policy changes nothing)", () => {
  let now = 0;
  const governor = new DemandGovernor(() => now, QUIET_SCHED);
  // Far past the bulk threshold: 64 KiB in one wake-up, then a window's worth of full frames.
  governor.drained(65536, 200);
  for (let i = 0; i < 100; i++) {
    now += 1;
    governor.drained(150_000, 100);
    governor.busy();
  }
  governor.idle();
  // The governor believes it raised the thread only if the policy said so; the quiet one never does.
  assert.equal(governor.realtime, true, "the governor saw bulk");
  assert.equal(threadPolicy(), 0, "still SCHED_OTHER");
});

/** This thread's scheduling policy (field 41 of /proc/thread-self/stat; 0: SCHED_OTHER). */
function threadPolicy(): number {
  const fields = Deno.readTextFileSync("/proc/thread-self/stat").split(") ")[1]!.split(" ");
  return Number(fields[41 - 3]);
}
