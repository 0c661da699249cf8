/** `vde tap create` tells a new tap from one that was already there. */
import assert from "node:assert/strict";
import { ROOT_IF_PREFIX, run, skipUnlessRoot } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("vde tap create says 'created' for a new tap and 'already exists' for an existing one", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}tc`;
  try {
    const first = await run([...ourCli(), "tap", "create", name], { timeoutMs: 30_000 });
    assert.equal(first.stdout, `tap ${name} created\n`);
    const again = await run([...ourCli(), "tap", "create", name], { timeoutMs: 30_000 });
    assert.equal(again.stdout, `tap ${name} already exists; kept\n`);
  } finally {
    await run([...ourCli(), "tap", "delete", name], { check: false, timeoutMs: 30_000 });
  }
});
