/**
 * Console clients come and go for weeks on a switch left running: each that lists, subscribes to the
 * switch's events (`debug/add`) and hangs up, politely or not, must leave nothing behind. Counted, not
 * timed: after N clients the server's sessions and the event subscribers are back at their baseline.
 */
import assert from "node:assert/strict";
import { RawMgmtClient, withMgmtServer } from "./_helpers.ts";
import { waitFor } from "../helpers/processes.ts";

Deno.test("console clients that list, subscribe to events and hang up leave no session or subscriber behind", async () => {
  await withMgmtServer(async ({ tc, server, path }) => {
    assert.equal(server.clientCount, 0);
    assert.equal(tc.ctx.debug.listeners, 0);
    for (let i = 0; i < 40; i++) {
      const c = await RawMgmtClient.connect(path);
      await c.waitFor((t) => t.endsWith("vde$ "), "the prompt");
      await c.command("port/allprint");
      await c.command("debug/add port");
      if (i % 2 === 0) {
        // Half in the middle of a command whose reply they never read.
        await c.send("hash/print\n");
      } else {
        await c.command("logout");
      }
      c.close();
      await c.done;
    }
    await waitFor(() => server.clientCount === 0, {
      timeoutMs: 10_000,
      what: `every session gone (${server.clientCount} left)`,
    });
    assert.equal(tc.ctx.debug.listeners, 0, "a session that ended still subscribes to events");
  });
});
