/**
 * scripts/ping_stall_trace.ts: a slow ping's flight is read from perf sched timehist's wake-ups, and
 * what held the cores meanwhile (per thread name and process) from its run lines.
 */
import assert from "node:assert/strict";
import { chainDelays, flights, heldDuring, parseTimehist } from "../../scripts/ping_stall_trace.ts";

// Trimmed from a trace of the list-ping row: the switch's data-plane thread (worker-1) waited 3.99 ms
// behind its own process's V8 helper on CPU 0 while CPU 1 sat idle.
const TRACE = `
           time    cpu  task name                       wait time  sch delay   run time
                        [tid/pid]                          (msec)     (msec)     (msec)
--------------- ------  ------------------------------  ---------  ---------  ---------
   47123.943913 [0001]  ping[2619]                                                       awakened: vde_plug[2549]
   47123.943918 [0001]  ping[2619]                         14.579      0.007      0.059
   47123.943946 [0001]  vde_plug[2549]                                                   awakened: worker-1[2548/2511]
   47123.943952 [0001]  vde_plug[2549]                     15.300      0.004      0.033
   47123.947900 [0000]  V8 DefaultWorke[2515/2511]         14.681      0.038      5.007
   47123.947934 [0001]  <idle>                              0.098      0.000      3.977
   47123.947999 [0001]  worker-1[2548/2511]                                              awakened: vde_plug[2552]
   47123.948018 [0001]  worker-1[2548/2511]                19.246      3.987      0.084
   47123.948109 [0001]  deno[2511]                                                       awakened: unixcmd[2658]
   47123.948139 [0001]  deno[2511]                          0.005      0.000      0.046
   47123.948846 [0001]  vde_plug[2549]                                                   awakened: ping[2619]
   47123.948852 [0001]  vde_plug[2549]                      4.873      0.043      0.026
   47123.950000 [0000]  swapper                                                          awakened: ping[2619]
   not a timehist line
`;

Deno.test("run lines carry thread, process, core and wait; idle and other lines are skipped", () => {
  const { runs, wakes } = parseTimehist(TRACE);
  assert.equal(runs.length, 6);
  const helper = runs.find((r) => r.comm === "V8 DefaultWorke")!;
  assert.deepEqual([helper.tid, helper.pid, helper.cpu], [2515, 2511, 0]);
  assert.ok(Math.abs(helper.start - (47123.9479 - 0.005007)) < 1e-9);
  assert.equal(runs.find((r) => r.comm === "worker-1")!.schDelayMs, 3.987);
  assert.equal(runs.find((r) => r.comm === "ping")!.pid, 2619);
  // The idle task's wake-up (a timer) has no [tid] and is not taken for anyone's.
  assert.equal(wakes.length, 5);
});

Deno.test("a ping's flight runs from ping's wake-up of the chain to the peer's wake-up of ping", () => {
  const { wakes } = parseTimehist(TRACE);
  const [f, ...rest] = flights(wakes, "vde_plug", 2619);
  assert.equal(rest.length, 0);
  assert.ok(Math.abs(f!.ms - 4.933) < 1e-6);
  // Another peer's name finds no reply.
  assert.equal(flights(wakes, "worker-2", 2619).length, 0);
});

Deno.test("what held the cores is summed per thread name and process, and the chain's waits listed", () => {
  const { runs, wakes } = parseTimehist(TRACE);
  const f = flights(wakes, "vde_plug", 2619)[0]!;
  const held = heldDuring(runs, f);
  // The helper's 5 ms stretch began before the request: only its part inside the flight counts.
  assert.ok(Math.abs(held.get("V8 DefaultWorke/2511")! - (47123.9479 - 47123.943913) * 1000) < 1e-6);
  assert.ok(held.has("worker-1/2511") && held.has("deno/2511"));
  assert.deepEqual(chainDelays(runs, f, 0.3).map((r) => r.comm), ["worker-1"]);
});
