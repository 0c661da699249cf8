/**
 * A stand-in for a switch worker whose loop throws long after it warmed:
 * it warms at once, answers `sync` and `removeFd` as the real one does, and
 * when a command sets the engine's `expireSeconds` (the test's trigger) it
 * dies as switch_worker.ts does when its loop throws: "stopped" with the
 * error, and nothing more. When one sets `gcIntervalSeconds` it throws the
 * same words uncaught instead, ending as a worker whose error escapes its
 * loop does: an error event, no last word. A stop before either is
 * answered as usual (switch_thread_warmed.test.ts, test/lab/runner.test.ts).
 */
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";
import { CTL_STOP, type PostedCommand, type SwitchStart } from "../../src/dataplane/switch_layout.ts";
import { DYING_WORDS } from "./_dying_words.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<unknown>) => void) | null;
  postMessage(m: unknown): void;
};
let handled = 0;
let stopWatch: ReturnType<typeof setInterval> | undefined;

function end(message: unknown): void {
  clearInterval(stopWatch);
  scope.onmessage = () => {};
  scope.postMessage(message);
}

scope.onmessage = (e) => {
  const control = new Int32Array((e.data as SwitchStart).control);
  // The real loop sees the stop flag on its wake-up; this one has no loop, so it looks.
  stopWatch = setInterval(() => {
    if (Atomics.load(control, CTL_STOP) !== 0) end({ stopped: true });
  }, 10);
  scope.postMessage({ warmed: 0 });
  scope.onmessage = (e) => {
    const { cmd } = e.data as PostedCommand;
    handled++;
    if (cmd.op === "sync") scope.postMessage({ applied: handled });
    else if (cmd.op === "removeFd") scope.postMessage({ released: cmd.fd });
    else if (cmd.op === "set" && cmd.prop === "expireSeconds") {
      end({ stopped: true, error: DYING_WORDS });
    } else if (cmd.op === "set" && cmd.prop === "gcIntervalSeconds") {
      clearInterval(stopWatch);
      throw new Error(DYING_WORDS);
    }
  };
};
announceLoaded();
