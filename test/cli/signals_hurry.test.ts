/**
 * A second stop signal hurries a process that is stopping: a data-plane
 * thread that Deno still loads is no longer waited for (its load bound is a
 * minute), while the first signal alone leaves the stop waiting for it. In
 * a file of its own: hurrying lasts for the rest of the module's life.
 */
import assert from "node:assert/strict";
import { untilSignal } from "../../src/cli/signals.ts";
import { WorkerHandle } from "../../src/dataplane/worker_handle.ts";
import { settledAfter } from "../helpers/settled.ts";

Deno.test("a second stop signal ends the wait for a thread still loading; the first alone does not", async () => {
  // SIGUSR2 stands in for SIGTERM/SIGINT: this test process must not take them for its own stop.
  const signals = untilSignal(["SIGUSR2"]);
  const channel = new BroadcastChannel("slow-load-worker");
  const loading = new Promise((resolve) => channel.onmessage = resolve);
  const handle = new WorkerHandle("rx_worker", new URL("../dataplane/_slow_load_worker.ts", import.meta.url));
  try {
    await loading;
    Deno.kill(Deno.pid, "SIGUSR2");
    assert.equal(await signals.stopped, "SIGUSR2");
    const stopping = handle.stop(new Promise(() => {}), 100);
    assert.equal(await settledAfter(stopping, 400), false, "one signal: the stop still waits for the load");
    Deno.kill(Deno.pid, "SIGUSR2");
    assert.equal(await settledAfter(stopping, 400), true, "a second signal: it does not wait any more");
    assert.equal(await stopping, false, "the worker never answered");
    assert.equal(
      await settledAfter(handle.released, 50),
      false,
      "what was lent to it stays lent: it may run",
    );
  } finally {
    signals.remove();
    channel.close();
  }
});
