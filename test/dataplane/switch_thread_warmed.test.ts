/**
 * A switch thread's `warmed` settles however the thread ends: a lab's
 * bring-up waits on it (runner.ts), so a thread that never warms must not
 * hold `vde up` for good.
 */
import assert from "node:assert/strict";
import { SwitchThread } from "../../src/dataplane/switch_thread.ts";
import { sharedEngineState } from "../../src/switch/engine.ts";
import { QUIET_SINK } from "./_quiet_sink.ts";

const start = (file: URL) =>
  new SwitchThread({ numPorts: 4, hashSeed: 1 }, sharedEngineState(), QUIET_SINK, file);

/** What `warmed` resolved with, or "pending" after 5 s (an unfixed thread: never). */
async function warmedWithin5s(thread: SwitchThread): Promise<number | null | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((resolve) => timer = setTimeout(() => resolve("pending"), 5_000));
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
      assert.equal(await warmedWithin5s(thread), null);
    } finally {
      await thread.stop();
    }
  });
}
