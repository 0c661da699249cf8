/**
 * The slirp warm-up (src/slirp/warmup.ts): throwaway connections through a
 * twin stack, played to the end through real loopback sockets, bounded,
 * and leaving nothing behind.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/slirp/config.ts";
import { warmSlirp } from "../../src/slirp/warmup.ts";
import { poller } from "../../src/io/poller.ts";

/** This process's open fds, by number. */
function openFds(): string[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => e.name).sort();
}

Deno.test("slirp warm-up plays whole connections through a twin stack within its budget", () => {
  const started = performance.now();
  const { played, host } = warmSlirp({ ...defaultConfig(), mtu: 9000 });
  const ms = performance.now() - started;
  // A connection counts once our FIN went out and the guest's last ACK came back; the time budget is
  // looked at every 16 connections, so at least that many always run.
  assert.ok(played >= 16, `${played} connections played`);
  // The forward's host side as real connections take it: a libc listener, loopback clients.
  assert.equal(host, "loopback");
  assert.ok(ms < 5000, `bounded (${ms.toFixed(0)} ms)`);
  assert.ok(warmSlirp(defaultConfig()).played >= 16, "and again, on a warm thread");
  const memory = warmSlirp(defaultConfig(), true);
  assert.ok(memory.played >= 16 && memory.host === "memory", "and with its host side in memory");
});

Deno.test("slirp warm-up leaves no socket, poller entry or output behind", () => {
  const own = poller();
  const before = openFds();
  const sizeBefore = own.size;
  const logged: unknown[] = [];
  const { log, error } = console;
  console.log = console.error = (...a: unknown[]) => logged.push(a);
  let played: number;
  try {
    played = warmSlirp(defaultConfig()).played;
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.ok(played >= 16, `${played} connections played`);
  // Its listener, its clients and the accepted sockets closed, its own epoll set and eventfd too.
  assert.deepEqual(openFds(), before);
  // The thread's poller never saw the warm-up's sockets.
  assert.equal(own.size, sizeBefore);
  assert.deepEqual(logged, []);
});
