/**
 * A stand-in for the switch's data-plane worker whose ringOut had no room
 * for the record that says where its snooping machine started our querier
 * (SNOOP_QUERIER): for each `setQuerier` command it puts only ticks of its
 * machine (1 s and 10.5 s into its clock for the first, 20 s for the second,
 * 21 s for the third), each saying whether our querier runs there (the
 * command's argument), as the real worker's ticks do. The console's copy must then
 * follow the ticks (switch_thread_querier.test.ts). Commands other than
 * that are ignored; its stop is never answered.
 */
import { direct } from "../../ffi/libc.ts";
import { FrameRing } from "../../src/dataplane/frame_ring.ts";
import { type PostedCommand, SNOOP_TICK, type SwitchStart } from "../../src/dataplane/switch_layout.ts";
import { announceLoaded } from "../../src/dataplane/worker_loaded.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<SwitchStart | PostedCommand>) => void) | null;
};
let ringOut: FrameRing | null = null;
let notifyFd = -1;
const record = new Uint8Array(16);
const time = new Float64Array(record.buffer, 0, 1);
/** The ticks (ms) put for each `setQuerier` command, in turn. */
const SCHEDULE = [[1000, 10_500], [20_000], [21_000]];
let commands = 0;
scope.onmessage = (e) => {
  if ("ringOut" in e.data) {
    ringOut = FrameRing.attach(e.data.ringOut);
    notifyFd = e.data.notifyFd;
    return;
  }
  const { cmd } = e.data;
  if (ringOut === null || cmd.op !== "snoop" || cmd.method !== "setQuerier") return;
  let at = ringOut.writePosition;
  for (const ms of SCHEDULE[commands++] ?? []) {
    time[0] = ms;
    record[8] = cmd.args[0] === true ? 1 : 0;
    at = ringOut.putTagged(SNOOP_TICK, record.subarray(0, 9), at);
  }
  ringOut.publish(at);
  direct.write(notifyFd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 8);
};
announceLoaded();
