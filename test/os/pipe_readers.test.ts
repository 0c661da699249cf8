/**
 * pipeHasReader: a pipe some process holds open for reading has a reader; once the last such
 * process is gone it has none, though its write end is still open here.
 */
import assert from "node:assert/strict";
import {
  newPipeWrittenHere,
  pipeHasReader,
  pipeOpenIn,
  pipesWrittenHere,
} from "../../src/os/pipe_readers.ts";

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

Deno.test("a child that exited before its stdin was named has it named from our side: its background child still reads it", async () => {
  const written = pipesWrittenHere();
  // The shell leaves a reader of its stdin behind and exits: it may be gone before spawn returns.
  const child = new Deno.Command("sh", {
    args: ["-c", "exec 5<&0; sleep 60 <&5 >/dev/null & echo $!"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const pipe = newPipeWrittenHere(written);
  const reader = Number((await new Response(child.stdout).text()).trim());
  await child.status;
  try {
    assert.ok(pipe !== undefined, "one new pipe written here");
    // The same pipe the shell had on its stdin, held by its child now.
    assert.deepEqual(pipeOpenIn(reader, 0), pipe);
    assert.equal(pipeHasReader(pipe), true);
  } finally {
    if (reader > 0) Deno.kill(reader, "SIGKILL");
    await child.stdin.close().catch(() => {});
  }
});
