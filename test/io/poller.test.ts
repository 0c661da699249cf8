/**
 * The data-plane poller (src/io/poller.ts) with real eventfds: what its
 * loop reports, and that no event it takes from the kernel is lost, above
 * all for edge-triggered fds (the libc TCP sockets), which the kernel
 * reports once per edge and never again.
 */
import assert from "node:assert/strict";
import { C, libc } from "../../ffi/libc.ts";
import { Poller } from "../../src/io/poller.ts";

/** epoll: edge-triggered (1 << 31 as epoll_event's u32 holds it). */
const EPOLLET = 0x80000000;

function eventFd(): number {
  const fd = libc().eventfd(0, C.EFD_CLOEXEC | C.EFD_NONBLOCK);
  assert.ok(fd >= 0, "eventfd");
  return fd;
}

function signal(fd: number): void {
  const one = new Uint8Array(8);
  one[0] = 1;
  assert.equal(libc().write(fd, one, 8), 8);
}

function drain(fd: number): void {
  libc().read(fd, new Uint8Array(8), 8);
}

Deno.test("poller dispatches an edge that arrives while a round overruns its busy budget", async () => {
  const p = new Poller();
  const slow = eventFd();
  const late = eventFd();
  try {
    const { promise: heard, resolve } = Promise.withResolvers<void>();
    p.add(late, {
      onReadable: () => {
        drain(late);
        resolve();
      },
    }, C.EPOLLIN | EPOLLET);
    p.add(slow, {
      onReadable: () => {
        drain(slow);
        // A round longer than the 2 ms budget (a busy machine), during which
        // another fd gets its one edge: the round's zero-timeout wait would
        // take that edge from the kernel, and the loop must still deliver it.
        const until = performance.now() + 10;
        while (performance.now() < until) { /* busy */ }
        signal(late);
      },
    }, C.EPOLLIN | EPOLLET);
    signal(slow);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lost = new Promise<never>((_, reject) => {
      // Generous: the edge is either delivered within a loop turn or never.
      timer = setTimeout(() => reject(new Error("the late fd's edge was never dispatched")), 10_000);
    });
    await Promise.race([heard, lost]).finally(() => clearTimeout(timer));
  } finally {
    p.remove(slow);
    p.remove(late);
    await p.stop();
    libc().close(slow);
    libc().close(late);
  }
});

Deno.test("poller never hands an event for a closed fd to a new fd that got its number in the same round", async () => {
  const p = new Poller(true);
  const first = eventFd();
  let old = eventFd();
  let reused = -1;
  let newOwnerCalls = 0;
  try {
    p.add(first, {
      onReadable: () => {
        drain(first);
        // A handler ends another connection and accepts a new one, which the
        // kernel numbers with the lowest free fd: the one just closed.
        p.remove(old);
        libc().close(old);
        reused = eventFd();
        p.add(reused, { onReadable: () => newOwnerCalls++ });
        old = -1;
      },
    });
    p.add(old, { onReadable: () => assert.fail("the closed fd's handler ran after its removal") });
    signal(first);
    signal(old);
    const oldNumber = old;
    assert.equal(p.turn(1_000), 2, "both fds ready in one round");
    assert.equal(reused, oldNumber, "the new fd took the closed fd's number (the case under test)");
    assert.equal(newOwnerCalls, 0, "the new fd, never ready, got the old fd's event");
    signal(reused);
    assert.equal(p.turn(1_000), 1);
    assert.equal(newOwnerCalls, 1, "the new fd's own events still arrive");
  } finally {
    p.remove(first);
    libc().close(first);
    if (reused >= 0) {
      p.remove(reused);
      libc().close(reused);
    }
    await p.stop();
  }
});
