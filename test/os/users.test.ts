/** What a "permission denied" says of a file: its owner and mode, or nothing when the file cannot be read. */
import assert from "node:assert/strict";
import { ownerAndMode, sessionGroups, userName } from "../../src/os/users.ts";
import { run } from "../helpers/processes.ts";

Deno.test("ownerAndMode names the owner and the mode with its special bits, and is empty for a file it cannot stat", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owner-" });
  try {
    await Deno.chmod(dir, 0o1750);
    assert.equal(ownerAndMode(dir), `owner ${userName(Deno.uid() ?? -1)}, mode 1750`);
    assert.equal(ownerAndMode(`${dir}/missing`), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sessionGroups are the groups this process holds, as id -G lists them for a child it starts", async () => {
  const listed = (await run(["id", "-G"])).stdout.trim().split(/\s+/).map(Number);
  assert.deepEqual([...sessionGroups()].sort((a, b) => a - b), [...new Set(listed)].sort((a, b) => a - b));
});
