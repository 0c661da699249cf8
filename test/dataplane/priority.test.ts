/**
 * The real-time governor of the plug and slirp threads, on a virtual clock
 * with the scheduler calls recorded (the real ones would change the test
 * runner's own thread).
 */
import assert from "node:assert/strict";
import { RealtimeGovernor } from "../../src/dataplane/priority.ts";

function rig(realtime = true) {
  const clock = { now: 1000 };
  const calls: boolean[] = [];
  const governor = new RealtimeGovernor(() => clock.now, {
    raise: () => realtime,
    setRealtime: (on) => {
      calls.push(on);
      return true;
    },
  });
  return { clock, calls, governor };
}

Deno.test("the governor leaves real-time after more than 20 ms busy from its start, and takes it back before the next blocking wait", () => {
  const { clock, calls, governor } = rig();
  clock.now += 20;
  governor.busy();
  assert.deepEqual(calls, [], "20 ms busy is still a burst");
  clock.now += 1;
  governor.busy();
  governor.busy();
  assert.deepEqual(calls, [false], "demoted once");
  governor.idle();
  assert.deepEqual(calls, [false, true], "real-time again before it blocks");
  governor.idle();
  assert.deepEqual(calls, [false, true], "nothing to undo");
});

Deno.test("the governor's busy clock restarts after each blocking wait", () => {
  const { clock, calls, governor } = rig();
  clock.now += 15;
  governor.busy();
  governor.idle();
  clock.now += 100; // blocked
  governor.woke();
  clock.now += 15;
  governor.busy();
  assert.deepEqual(calls, []);
});

Deno.test("a thread that did not get real-time is never moved", () => {
  const { clock, calls, governor } = rig(false);
  clock.now += 100;
  governor.busy();
  governor.idle();
  assert.deepEqual(calls, []);
});
