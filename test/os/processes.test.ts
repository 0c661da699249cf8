/** Whether a recorded pid still runs: a lab's vde up, a switch's pid file. */
import assert from "node:assert/strict";
import { processAlive } from "../../src/os/processes.ts";

Deno.test("a process killed but not yet reaped (a zombie) is not alive; a running one is", async () => {
  // `sleep 60` is killed by its shell, which then becomes a `sleep` that never waits for it.
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 60 & p=$!; kill -9 $p; echo $p; exec sleep 60"],
    stdout: "piped",
  }).spawn();
  try {
    const reader = parent.stdout.getReader();
    const { value } = await reader.read();
    reader.releaseLock();
    await parent.stdout.cancel();
    const zombie = Number(new TextDecoder().decode(value).trim());
    assert.ok(zombie > 0);
    for (let i = 0; i < 100 && !Deno.readTextFileSync(`/proc/${zombie}/stat`).includes(") Z"); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(processAlive(zombie), false);
    assert.equal(processAlive(parent.pid), true);
  } finally {
    parent.kill("SIGKILL");
    await parent.status;
  }
  assert.equal(processAlive(parent.pid), false, "reaped: gone");
});
