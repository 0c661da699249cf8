/**
 * The slirp warm-up (src/slirp/warmup.ts): throwaway connections through a
 * twin stack, played to the end, bounded.
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../src/slirp/config.ts";
import { warmSlirp } from "../../src/slirp/warmup.ts";

Deno.test("slirp warm-up plays whole connections through a twin stack within its budget", () => {
  const started = performance.now();
  const played = warmSlirp({ ...defaultConfig(), mtu: 9000 });
  const ms = performance.now() - started;
  // A connection counts once our FIN went out and the guest's last ACK came back; the time budget is
  // looked at every 64 connections, so at least that many always run.
  assert.ok(played >= 64, `${played} connections played`);
  assert.ok(ms < 5000, `bounded (${ms.toFixed(0)} ms)`);
  assert.ok(warmSlirp(defaultConfig()) >= 64, "and again, on a warm thread");
});
