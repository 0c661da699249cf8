/**
 * The cost-ratio rig itself: a one-off cost in the first call of an input
 * (a lazy compile, a collection) must not shrink that input's rounds to a
 * few calls, where every sample is the timer's cost, not the input's.
 */
import assert from "node:assert/strict";
import { costRatio, cpuMs, describeCost, use } from "./cost_ratio.ts";

/** A cheap call whose first run burns `firstMs` of this thread's CPU. */
function withFirstCost(firstMs: number): () => void {
  let first = true;
  let x = 0;
  return () => {
    if (first) {
      first = false;
      const until = cpuMs() + firstMs;
      while (cpuMs() < until) x++;
    }
    for (let i = 0; i < 100; i++) x = (x * 31 + i) | 0;
    use(x);
  };
}

Deno.test("cost ratio sizes rounds past a one-off cost in an input's first call", () => {
  const c = costRatio(withFirstCost(2), withFirstCost(0));
  console.log(describeCost("same call, one slow first run", c));
  assert.ok(c.worstCalls >= 100, `${c.worstCalls} calls per round of a sub-microsecond call`);
  assert.ok(c.ratio < 3, `the same call measured ${c.ratio.toFixed(1)}x itself`);
});
