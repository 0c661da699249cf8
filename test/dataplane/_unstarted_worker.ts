/**
 * A stand-in for a switch worker whose loop could not start (switch_worker.ts
 * when `loop.ok` is false, its epoll set not made): it says it loaded, takes
 * its start message and says "stopped" at once, never "warmed"
 * (switch_thread_warmed.test.ts).
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<unknown>) => void) | null;
  postMessage(m: unknown): void;
};
scope.onmessage = () => {
  scope.onmessage = () => {};
  scope.postMessage({ stopped: true });
};
announceLoaded();
