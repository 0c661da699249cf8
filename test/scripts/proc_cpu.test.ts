/**
 * scripts/proc_cpu.ts: the cores the rest of the machine kept busy while a latency row ran, from
 * /proc/stat's busy time less the row's own processes' CPU, over the readings' wall time.
 */
import assert from "node:assert/strict";
import { cpuWithChildrenSeconds, othersCores } from "../../scripts/proc_cpu.ts";

Deno.test("others' cores are the machine's busy time less the row's own, over the wall time", () => {
  // Two cores for 1.5 s (3 core-seconds in all): 2.1 busy, 0.9 of it the row's own.
  const before = { busy: 100, total: 400 };
  const after = { busy: 102.1, total: 403 };
  assert.ok(Math.abs(othersCores(before, after, 0.9, 2) - 0.8) < 1e-9);
});

Deno.test("others' cores are never below 0 (the two clocks' ticks differ) nor NaN for no time at all", () => {
  assert.equal(othersCores({ busy: 1, total: 2 }, { busy: 1.5, total: 3 }, 0.52, 2), 0);
  assert.equal(othersCores({ busy: 1, total: 2 }, { busy: 1, total: 2 }, 0, 2), 0);
});

Deno.test("a process's CPU with its reaped children counts a child's work once it has ended", async () => {
  const before = await cpuWithChildrenSeconds(Deno.pid);
  // A child that spins for ~0.3 s of CPU, then is reaped by this process.
  const child = new Deno.Command("sh", { args: ["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"] });
  const { success } = await child.output();
  assert.ok(success);
  const after = await cpuWithChildrenSeconds(Deno.pid);
  assert.ok(after - before >= 0.1, `counted ${after - before} s`);
});
