/**
 * The console's output queue as a file's writer sees it: a disk that fills takes part of a write and fails
 * the next, and `whole` says where the last push written entire ends, for the file's owner to cut back to.
 */
import assert from "node:assert/strict";
import { OutputQueue } from "../../src/console/output_queue.ts";

Deno.test("an output queue whose writes fail part-way says where the last push written whole ends", async () => {
  // A disk with room for 250 bytes: takes what fits, then fails every write, as ENOSPC does.
  const room = 250;
  let taken = 0;
  const disk = {
    write(p: Uint8Array): Promise<number> {
      if (taken >= room) return Promise.reject(new Error("No space left on device (os error 28)"));
      const n = Math.min(p.length, room - taken);
      taken += n;
      return Promise.resolve(n);
    },
  };
  const failures: unknown[] = [];
  const queue = new OutputQueue(disk, (err) => failures.push(err));
  // Records of 100 bytes, joined into one write: the third is cut at 50 of its bytes.
  for (let i = 0; i < 5; i++) queue.pushBytes(new Uint8Array(100));
  await queue.below(0);
  assert.equal(failures.length, 1);
  assert.equal(taken, 250);
  assert.equal(queue.whole, 200, "two records whole, the third cut");
});

Deno.test("an output queue written in full counts every push whole", async () => {
  const disk = { write: (p: Uint8Array) => Promise.resolve(Math.min(p.length, 7)) };
  const queue = new OutputQueue(disk, () => assert.fail("no write failed"));
  for (const n of [3, 10, 1, 70_000]) queue.pushBytes(new Uint8Array(n));
  await queue.below(0);
  assert.equal(queue.whole, 70_014);
});
