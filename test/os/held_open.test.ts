import assert from "node:assert/strict";
import { heldOpen, heldOpenPerProc } from "../../src/os/held_open.ts";

Deno.test("a file is held open while a background process writes to it or a reader has it, and free once they are gone", async () => {
  const file = await Deno.makeTempFile({ prefix: "vde-held-" });
  try {
    assert.equal(heldOpen(file), false);
    // As a lab exec's `server &` does: the process keeps the output file as its stdout.
    const child = new Deno.Command("sh", { args: ["-c", 'exec sleep 30 >>"$0"', file] }).spawn();
    try {
      // It holds the file once the shell has opened it, which it does before exec.
      for (let i = 0; i < 200 && !heldOpen(file); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(heldOpen(file), true);
      // Where the kernel gives no lease, /proc says the same.
      assert.equal(heldOpenPerProc(file), true);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    assert.equal(heldOpen(file), false);
    assert.equal(heldOpenPerProc(file), false);
    // Open for reading counts too (this process's own files as well).
    const reader = await Deno.open(file, { read: true });
    assert.equal(heldOpen(file), true);
    reader.close();
    assert.equal(heldOpen(file), false);
  } finally {
    await Deno.remove(file);
  }
});
