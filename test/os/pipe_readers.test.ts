/**
 * pipeHasReader: a pipe some process holds open for reading has a reader; once the last such
 * process is gone it has none, though its write end is still open here.
 */
import assert from "node:assert/strict";
import { pipeHasReader, pipeOpenIn } from "../../src/os/pipe_readers.ts";

Deno.test("a pipe has a reader while a child holds its read end, and none once the child is gone", async () => {
  const child = new Deno.Command("sleep", { args: ["60"], stdin: "piped" }).spawn();
  try {
    const pipe = pipeOpenIn(child.pid, 0);
    assert.ok(pipe !== undefined, "the child's stdin is a pipe");
    assert.equal(pipeHasReader(pipe), true);
    child.kill("SIGKILL");
    await child.status;
    // Our write end is open still (child.stdin): a writer is no reader.
    assert.equal(pipeHasReader(pipe), false);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.stdin.close().catch(() => {});
  }
});
