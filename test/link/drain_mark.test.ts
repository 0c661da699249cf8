/**
 * A link that queues bytes to write is congested from a quarter of its bound, and owes the source that
 * found it so one `onDrain` once a write takes it below that mark; a source that never asked is owed none.
 */
import assert from "node:assert/strict";
import { DrainMark } from "../../src/link/drain_mark.ts";

Deno.test("a link is congested from a quarter of its bound, and calls onDrain once below it, only for a source that found it so", () => {
  const link = { onDrain: null as (() => void) | null };
  let drains = 0;
  link.onDrain = () => drains++;
  const mark = new DrainMark(4000, link, () => assert.fail("onDrain did not throw"));
  assert.equal(mark.congested(999), false);
  mark.tookOut(0);
  assert.equal(drains, 0, "nobody found it congested: no call");
  assert.equal(mark.congested(1000), true);
  mark.tookOut(1000);
  assert.equal(drains, 0, "still at the mark");
  mark.tookOut(999);
  mark.tookOut(0);
  assert.equal(drains, 1, "once below it, and once only");
});

Deno.test("a throwing onDrain is handed to the link's own failure handler, and owed no second call", () => {
  const failures: unknown[] = [];
  const mark = new DrainMark(4000, {
    onDrain: () => {
      throw new Error("the source's own");
    },
  }, (err) => failures.push(err));
  mark.congested(2000);
  mark.tookOut(0);
  mark.tookOut(0);
  assert.equal(failures.length, 1);
  assert.match(String(failures[0]), /the source's own/);
});
