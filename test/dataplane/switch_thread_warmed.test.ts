/**
 * A switch thread's `warmed` settles however the thread ends: a lab's
 * bring-up waits on it (runner.ts), so a thread that never warms must not
 * hold `vde up` for good.
 */
import assert from "node:assert/strict";
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
