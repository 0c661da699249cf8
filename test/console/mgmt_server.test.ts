/** A management socket that cannot be made says why in the user's terms, not the kernel's `bind: ...`. */
import assert from "node:assert/strict";
import { MgmtServer } from "../../src/console/mgmt_server.ts";
import { makeConsole } from "./_helpers.ts";

Deno.test("a management socket in a directory that does not exist says so", async () => {
  const tc = makeConsole(4);
  try {
    const path = `/nonexistent-vde-${Deno.pid}/dir/mgmt`;
    await assert.rejects(
      () => MgmtServer.start(tc.commands, tc.ctx, { path, log: () => {} }),
      new Error(`the directory /nonexistent-vde-${Deno.pid}/dir does not exist`),
    );
  } finally {
    tc.close();
  }
});
