/**
 * `vde cable` at the command line: what a user types before any cable runs.
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("vde cable keygen - refuses in one line and writes no file named '-'", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-keygen-" });
  try {
    const r = await run([...ourCli(), "cable", "keygen", "-"], { check: false, timeoutMs: 60_000, cwd: tmp });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vde: keygen writes a file (mode 0600), not stdout: give its name, e.g. lab.key\n",
    );
    assert.equal(r.stdout, "");
    await assert.rejects(Deno.stat(`${tmp}/-`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
