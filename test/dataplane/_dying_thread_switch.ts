/**
 * A Switch whose data-plane thread is _dying_worker.ts, and the trigger
 * that makes that thread die: for tests of what a dead switch says and
 * refuses. Its default log line is silenced (the tests read the state).
 */
import { Switch } from "../../src/switch/switch.ts";
import { waitFor } from "../helpers/processes.ts";

/** A threaded switch of 4 ports on the stand-in thread, warmed. */
export async function dyingSwitch(): Promise<Switch> {
  const sw = new Switch({
    numPorts: 4,
    dataplane: "thread",
    threadFile: new URL("./_dying_worker.ts", import.meta.url),
    onThreadFailure: () => {},
  });
  await sw.warmed;
  return sw;
}

/** Makes `sw`'s stand-in thread die (a mirrored set of expireSeconds) and waits until the switch knows. */
export async function killThread(sw: Switch): Promise<void> {
  sw.engine.expireSeconds = 30;
  await waitFor(() => sw.threadFailure !== null, { timeoutMs: 5000, what: "the thread's death" });
}
