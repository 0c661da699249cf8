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

Deno.test("a management socket refused in a directory that exists does not call it missing", async () => {
  const tc = makeConsole(4);
  try {
    // /proc takes no new files: bind says ENOENT, though /proc is there.
    const err = await MgmtServer.start(tc.commands, tc.ctx, { path: "/proc/vde-mgmt", log: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(err !== undefined, "served a socket in /proc");
    assert.doesNotMatch(err.message, /does not exist/);
  } finally {
    tc.close();
  }
});
