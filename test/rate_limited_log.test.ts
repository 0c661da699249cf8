/**
 * The rate-limited log: a flood past the budget is counted in one line at the interval's end, also when
 * the flood stopped (no later line to carry the count), and at close; nothing is left scheduled.
 */
import assert from "node:assert/strict";
import { RateLimitedLog } from "../src/rate_limited_log.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a flood that stops is counted at its interval's end, with no later line to carry the count", async () => {
  const lines: string[] = [];
  const log = new RateLimitedLog((m) => lines.push(m), 2, 100);
  for (let i = 0; i < 1000; i++) log.line(`refused ${i}`);
  assert.deepEqual(lines, ["refused 0", "refused 1"]);
  await sleep(200);
  assert.deepEqual(lines, [
    "refused 0",
    "refused 1",
    "998 more refused connection(s) not logged in the last 0.1 s",
  ]);
  log.close();
  assert.equal(lines.length, 3);
});

Deno.test("close says what the log holds back and leaves no timer", () => {
  const lines: string[] = [];
  const log = new RateLimitedLog((m) => lines.push(m), 1, 60_000);
  log.line("a");
  log.line("b");
  log.line("c");
  log.close();
  assert.deepEqual(lines, ["a", "2 more refused connection(s) not logged in the last 60 s"]);
  log.line("d");
  log.line("e");
  assert.deepEqual(lines.length, 2);
});
