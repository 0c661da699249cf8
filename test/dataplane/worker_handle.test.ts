/**
 * The main thread's hold on a data-plane worker: stop waits for the
 * worker's last word, but no longer than its bound, and closes the wake
 * eventfd only after the worker answered (one that did not may still be in
 * a system call on it), a bound that counts from when the worker's code
 * runs, not while Deno still loads it; the worker's word that its code has
 * loaded reaches the listeners, not the owner.
 */
import assert from "node:assert/strict";
import { WorkerHandle } from "../../src/dataplane/worker_handle.ts";
import { onWorkerLoaded } from "../../src/dataplane/worker_loaded.ts";
import { direct, libc } from "../../ffi/libc.ts";
import { settledAfter } from "../helpers/settled.ts";

const F_GETFD = 1;

function isOpen(fd: number): boolean {
  return libc().fcntl(fd, F_GETFD, 0) >= 0;
}

/** A count no other eventfd in this process holds, so the handle's own is told apart by it. */
const MARK = 0x5eed000n;

/** Adds MARK to the eventfd's count (the handle's stop adds its own wake-up to it). */
function mark(fd: number): void {
  const v = new Uint8Array(8);
  new DataView(v.buffer).setBigUint64(0, MARK, true);
  assert.equal(libc().write(fd, v, 8), 8);
}

/**
 * Whether `fd` still is the marked eventfd. Closed, its number may already serve another file:
 * the worker's thread starts meanwhile and takes the lowest free numbers (seen in a run with other
 * test files: the number was open again), maybe for an eventfd of its own, but not with MARK.
 */
function isMarkedEventFd(fd: number): boolean {
  if (!isOpen(fd)) return false;
  let info: string;
  try {
    info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
  } catch {
    return false;
  }
  const count = info.match(/^eventfd-count:\s*([0-9a-f]+)$/m)?.[1];
  return count !== undefined && BigInt(`0x${count}`) >= MARK && BigInt(`0x${count}`) < MARK + 16n;
}

Deno.test("a worker that never says it stopped is terminated after the bound, its eventfd left open for it", async () => {
  // Never started (no start message): it will not answer.
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const fd = handle.wakeFd;
  mark(fd);
  assert.ok(isMarkedEventFd(fd));
  const never = new Promise<string>(() => {});
  const t0 = performance.now();
  assert.equal(await handle.stop(never, 200), false, "stop says the worker did not answer");
  assert.ok(performance.now() - t0 >= 190, "it waited for the bound");
  assert.equal(
    isMarkedEventFd(fd),
    true,
    "its number is not freed for another file while the worker may use it",
  );
  libc().close(fd);
});

Deno.test("a worker's last word ends the wait at once, and stop says it answered", async () => {
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const fd = handle.wakeFd;
  mark(fd);
  assert.ok(isMarkedEventFd(fd));
  const t0 = performance.now();
  assert.equal(await handle.stop(Promise.resolve("stopped"), 10_000), true);
  assert.ok(performance.now() - t0 < 5_000, "not the bound");
  assert.equal(isMarkedEventFd(fd), false);
  await handle.released;
});

Deno.test("a worker's word that it has loaded tells the listeners, and its owner's onmessage never sees it", async () => {
  let told = 0;
  const unwatch = onWorkerLoaded(() => told++);
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const seen: unknown[] = [];
  handle.worker.onmessage = (e) => seen.push(e.data);
  try {
    await handle.loaded;
    assert.equal(told, 1);
    assert.deepEqual(seen, []);
  } finally {
    unwatch();
    // Never started: nothing more will come.
    await handle.stop(Promise.resolve(), 1000);
  }
});

Deno.test("a stop that comes while the worker still loads waits for its code to run: it answers, and what was lent comes back", async () => {
  const channel = new BroadcastChannel("slow-load-worker");
  const loading = new Promise((resolve) => channel.onmessage = resolve);
  const handle = new WorkerHandle("rx_worker", new URL("./_slow_load_worker.ts", import.meta.url));
  const ended = new Promise((resolve) => handle.worker.onmessage = resolve);
  try {
    await loading;
    // Stopped as it loads (a link lends its fd to a plug thread just after starting its receive thread).
    const stopping = handle.stop(ended, 100);
    assert.equal(await settledAfter(stopping, 400), false, "the bound does not run while the worker loads");
    channel.postMessage({ go: true });
    assert.equal(await stopping, true, "it answered once it ran");
    await handle.released;
  } finally {
    channel.close();
  }
});

/** Resolves at `worker`'s error event, which it keeps from failing the test. */
function errorEvent(worker: Worker): Promise<void> {
  return new Promise((resolve) =>
    worker.onerror = (e) => {
      e.preventDefault();
      resolve();
    }
  );
}

Deno.test("a worker whose load fails is not waited for: stop says it did not answer, and what was lent to it is handed back (it never ran)", async () => {
  const handle = new WorkerHandle("rx_worker", new URL("./_failed_load_worker.ts", import.meta.url));
  const failed = errorEvent(handle.worker);
  await failed;
  // Its load bound is a minute: the test would time out long before, were it waited for.
  assert.equal(await handle.stop(new Promise(() => {}), 100), false);
  assert.equal(await settledAfter(handle.released, 50), true, "its fds are handed back: its code never ran");
  assert.equal(libc().fcntl(handle.wakeFd, 1, /* F_GETFD */ 0), -1, "its eventfd is closed");
});

Deno.test("a worker that ran and died of an uncaught error is not waited for: stop returns at once and hands back what was lent (it runs nothing more)", async () => {
  const handle = new WorkerHandle("rx_worker", new URL("./_erring_worker.ts", import.meta.url));
  const failed = errorEvent(handle.worker);
  await handle.loaded;
  await failed;
  const t0 = performance.now();
  // No last word will come: only its error event says it ended.
  assert.equal(await handle.stop(new Promise(() => {}), 2000), true, "it ended: as good as an answer");
  assert.ok(performance.now() - t0 < 1000, `stop took ${performance.now() - t0} ms, the bound is 2 s`);
  assert.equal(await settledAfter(handle.released, 50), true, "its fds are handed back");
  assert.equal(libc().fcntl(handle.wakeFd, 1, /* F_GETFD */ 0), -1, "its eventfd is closed");
});

Deno.test("wake writes the worker's eventfd through direct, as every per-batch call, not glibc's wrapper", async () => {
  const handle = new WorkerHandle("rx_worker", new URL("../../src/dataplane/rx_worker.ts", import.meta.url));
  const write = direct.write;
  const written: number[] = [];
  direct.write = (fd, buf, length) => {
    written.push(fd);
    return write(fd, buf, length);
  };
  try {
    handle.wake();
  } finally {
    direct.write = write;
  }
  assert.deepEqual(written, [handle.wakeFd]);
  assert.equal(await handle.stop(new Promise(() => {}), 100), false);
});
