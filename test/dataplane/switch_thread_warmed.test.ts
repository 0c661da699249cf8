/**
 * A switch thread's `warmed` settles however the thread ends: a lab's
 * bring-up waits on it (runner.ts), so a thread that never warms must not
 * hold `vde up` for good.
 */
import assert from "node:assert/strict";
import { datagramPair, libc } from "../../ffi/libc.ts";
import { SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { sharedEngineState } from "../../src/switch/engine.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";
import { DYING_WORDS } from "./_dying_words.ts";
import { settledAfter } from "../helpers/settled.ts";

const start = (file: URL) =>
  new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK, file);

/**
 * What `warmed` resolved with, or "pending" after a minute (an unfixed thread: never). A minute, as the
 * helpers give a switch thread to start: a worker's first load in a test process took over 5 s at load 26.
 */
async function warmedWithinAMinute(thread: SwitchThread): Promise<number | null | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), 60_000));
  try {
    return await Promise.race([thread.warmed, late]);
  } finally {
    clearTimeout(timer);
  }
}

for (
  const [how, worker] of [
    ["whose loop could not start", "./_unstarted_worker.ts"],
    ["whose worker fails to load", "./_failed_load_worker.ts"],
  ] as const
) {
  Deno.test(`a switch thread ${how} resolves warmed with null: it will never warm`, async () => {
    const thread = start(new URL(worker, import.meta.url));
    try {
      assert.equal(await warmedWithinAMinute(thread), null);
    } finally {
      await thread.stop();
    }
  });
}

Deno.test("a switch thread whose loop throws after it warmed says why once through ended, answers settled at once from then on, and stops at once", async () => {
  const thread = start(new URL("./_dying_worker.ts", import.meta.url));
  try {
    assert.equal(await warmedWithinAMinute(thread), 0);
    assert.equal(thread.failure, null);
    thread.command({ op: "set", prop: "expireSeconds", value: 1 });
    assert.equal(await thread.ended, DYING_WORDS);
    assert.equal(thread.failure, DYING_WORDS);
    // A console's command waited out its 10 s bound for a thread that will never apply it.
    thread.command({ op: "set", prop: "hub", value: true });
    const began = performance.now();
    await thread.settled();
    assert.ok(performance.now() - began < 1000);
    // Timed here, not in `finally`: a failure above (a worker still loading) would be hidden by the time
    // a stop takes to wait for that load.
    const stopping = performance.now();
    await thread.stop();
    // Its loop said it ended: nothing to wait for (its 2 s bound), nothing it could still use.
    assert.ok(performance.now() - stopping < 1000, `stop took ${performance.now() - stopping} ms`);
  } finally {
    await thread.stop();
  }
});

Deno.test("a switch thread whose worker dies of an uncaught error after it warmed says why, hands back what was lent, and stops at once", async () => {
  const thread = start(new URL("./_dying_worker.ts", import.meta.url));
  try {
    assert.equal(await warmedWithinAMinute(thread), 0);
    thread.command({ op: "set", prop: "gcIntervalSeconds", value: 1 });
    const why = await thread.ended;
    assert.ok(why.includes(DYING_WORDS), why);
    // The worker that would answer a removeFd is gone, and with it any use of the fd: it comes back now.
    assert.equal(await settledAfter(thread.removeFd(1000), 1000), true, "removeFd answered");
    const began = performance.now();
    await thread.stop();
    // Its error event said it ended: a stop waited out its 2 s bound before terminating it.
    assert.ok(performance.now() - began < 1000, `stop took ${performance.now() - began} ms`);
  } finally {
    await thread.stop();
  }
});

Deno.test("a switch thread stopped while it warms up ends its warm-up and answers the stop", async () => {
  // A warm-up far past the stop's 2 s bound, as a starved thread's can be; the worker reads it as it loads.
  Deno.env.set("VDE_TEST_WARMUP_MS", "20000");
  const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK);
  try {
    // Loaded and warming on most machines by then; stopped before it warms, it must not warm at all.
    await new Promise((resolve) => setTimeout(resolve, 1000));
  } finally {
    await thread.stop();
    Deno.env.delete("VDE_TEST_WARMUP_MS");
  }
  // Null had the stop waited out its bound: the warm-up ran on, and the thread was left with its fds.
  assert.equal(typeof await thread.warmed, "number");
});

for (
  const [how, frameAtMs] of [["an idle port does not end it", null], [
    "a frame waiting on it does",
    300,
  ]] as const
) {
  Deno.test(`a switch thread given a port as it starts warms up on: ${how}`, async () => {
    const c = libc();
    const pair = datagramPair()!;
    // Stretched past any load's, so that only the port can end it early.
    Deno.env.set("VDE_TEST_WARMUP_MS", "3000");
    const thread = new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      // As `vde switch --tap` posts its tap: before the worker has even loaded.
      thread.addFd(1, pair[0]!, "dgram");
      if (frameAtMs !== null) timer = setTimeout(() => c.write(pair[1]!, new Uint8Array(60), 60), frameAtMs);
      const warmed = await thread.warmed;
      assert.equal(typeof warmed, "number");
      if (frameAtMs === null) assert.ok(warmed! >= 2500, `warmed in ${warmed} ms, an idle port ended it`);
      else assert.ok(warmed! < 2500, `warmed in ${warmed} ms, the waiting frame did not end it`);
    } finally {
      clearTimeout(timer);
      Deno.env.delete("VDE_TEST_WARMUP_MS");
      await thread.stop();
      for (const fd of pair) c.close(fd);
    }
  });
}
