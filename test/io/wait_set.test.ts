/**
 * The data-plane threads' wait set (src/io/wait_set.ts) with real eventfds: what a wait reports
 * while the set is polled, and the same once it outgrew POLL_MAX and moved into an epoll set.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";
import { eventFd, signal } from "../helpers/eventfd.ts";
import { POLL_MAX, WaitSet } from "../../src/io/wait_set.ts";

/** What one look (no sleep) reports: fd to events. */
function ready(set: WaitSet): Map<number, number> {
  const n = set.wait(0);
  assert.ok(n >= 0, "wait");
  const out = new Map<number, number>();
  for (let i = 0; i < n; i++) out.set(set.fd(i), set.events(i));
  return out;
}

/** Runs `check` on a set holding `count` fresh eventfds, closing them after. */
function withFds(count: number, check: (set: WaitSet, fds: number[]) => void): void {
  const set = new WaitSet();
  const fds = Array.from({ length: count }, eventFd);
  try {
    for (const fd of fds) assert.ok(set.add(fd));
    check(set, fds);
  } finally {
    set.close();
    for (const fd of fds) libc().close(fd);
  }
}

for (const count of [3, POLL_MAX + 5]) {
  const how = count > POLL_MAX ? "in epoll beyond POLL_MAX fds" : "polled";
  Deno.test(`wait set, ${how}: reports the readable fds only, and none after they are removed`, () => {
    withFds(count, (set, fds) => {
      assert.equal(set.epoll, count > POLL_MAX);
      assert.deepEqual(ready(set), new Map());
      signal(fds[0]!);
      signal(fds[count - 1]!);
      assert.deepEqual(ready(set), new Map([[fds[0]!, C.EPOLLIN], [fds[count - 1]!, C.EPOLLIN]]));
      set.remove(fds[0]!);
      assert.deepEqual(ready(set), new Map([[fds[count - 1]!, C.EPOLLIN]]));
    });
  });

  Deno.test(`wait set, ${how}: a modified fd reports what it is watched for now`, () => {
    withFds(count, (set, fds) => {
      set.modify(fds[1]!, C.EPOLLIN | C.EPOLLOUT);
      assert.deepEqual(ready(set), new Map([[fds[1]!, C.EPOLLOUT]]));
      set.modify(fds[1]!, C.EPOLLIN);
      assert.deepEqual(ready(set), new Map());
    });
  });
}

Deno.test("wait set: a wait with a timeout returns when an fd becomes ready during it", () => {
  withFds(2, (set, fds) => {
    signal(fds[1]!);
    assert.equal(set.wait(1000), 1);
    assert.equal(set.fd(0), fds[1]);
  });
});
