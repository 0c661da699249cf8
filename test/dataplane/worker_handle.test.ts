/**
 * The main thread's hold on a data-plane worker: stop waits for the
 * worker's last word, but no longer than its bound, and closes the wake
 * eventfd only after the wait, either way.
 */
import assert from "node:assert/strict";
import { WorkerHandle } from "../../src/dataplane/worker_handle.ts";
import { libc } from "../../ffi/libc.ts";

const F_GETFD = 1;

function isOpen(fd: number): boolean {
  return libc().fcntl(fd, F_GETFD, 0) >= 0;
}

Deno.test("a worker that never says it stopped is terminated after the bound, and its eventfd closed", async () => {
  // Never started (no start message): it will not answer.
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const fd = handle.wakeFd;
  assert.ok(isOpen(fd));
  const never = new Promise<string>(() => {});
  const t0 = performance.now();
  assert.equal(await handle.stop(never, 200, "late"), "late");
  assert.ok(performance.now() - t0 >= 190, "it waited for the bound");
  assert.equal(isOpen(fd), false);
});

Deno.test("a worker's last word ends the wait at once and is what stop returns", async () => {
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const fd = handle.wakeFd;
  const t0 = performance.now();
  assert.equal(await handle.stop(Promise.resolve("stopped"), 10_000, "late"), "stopped");
  assert.ok(performance.now() - t0 < 5_000, "not the bound");
  assert.equal(isOpen(fd), false);
});
