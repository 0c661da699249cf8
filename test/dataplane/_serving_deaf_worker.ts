/**
 * A stand-in for the switch's data-plane worker that takes its start, says
 * it serves frames (CTL_SERVING, as the real one does once warmed) and that
 * it warmed (so a test knows when), and then never answers anything: a thread past its warm-up that is slow to take a
 * command, so a change must wait for it.
 */
import { CTL_SERVING, type SwitchReply, type SwitchStart } from "../../src/dataplane/switch_layout.ts";
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SwitchStart>) => void) | null;
  postMessage(message: SwitchReply): void;
};
scope.onmessage = (e) => {
  Atomics.store(new Int32Array(e.data.control), CTL_SERVING, 1);
  scope.postMessage({ warmed: 0 });
  scope.onmessage = () => {};
};
announceLoaded();
