/**
 * A SwitchThreadSink that ignores everything the thread reports: for tests
 * that drive a switch thread's rings or its stop with a stand-in worker.
 */
import type { SwitchThreadSink } from "../../src/dataplane/switch_thread.ts";

const ignore = () => {};

export const QUIET_SINK: SwitchThreadSink = {
  frame: ignore,
  failed: ignore,
  event: ignore,
  observed: ignore,
  bpdu: ignore,
  snooped: ignore,
  snoopTick: ignore,
};
