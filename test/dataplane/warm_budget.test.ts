/**
 * The warm-ups' budget: the thread's own CPU time, with a cap on the clock,
 * so a starved thread warms as far as an idle one, but not for ever.
 */
import assert from "node:assert/strict";
import { threadCpuMs } from "../../ffi/libc.ts";
import { warmBudget } from "../../src/dataplane/warm_budget.ts";

function busy(ms: number): void {
  const end = threadCpuMs() + ms;
  while (threadCpuMs() < end) { /* spin */ }
}

Deno.test("a warm budget counts the thread's CPU: time asleep does not spend it, work does", async () => {
  const spent = warmBudget(30, 60_000);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(spent(), false, "100 ms asleep spent a 30 ms CPU budget");
  busy(40);
  assert.equal(spent(), true);
});

Deno.test("a warm budget ends at its wall-clock cap however little CPU the thread had", async () => {
  const spent = warmBudget(60_000, 50);
  assert.equal(spent(), false);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assert.equal(spent(), true);
});
