/** What a "permission denied" says of a file: its owner and mode, or nothing when the file cannot be read. */
import assert from "node:assert/strict";
import { lookupGroup, lookupUser, ownerAndMode, sessionGroups, userName } from "../../src/os/users.ts";
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

Deno.test("a group or user named like a number is that entry, as chown reads it; a number that names none is the id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-r15a-users-" });
  try {
    await Deno.writeTextFile(`${dir}/group`, "students:x:2000:\n1234:x:2001:ann\n");
    await Deno.writeTextFile(`${dir}/passwd`, "4321:x:3000:3000::/:/bin/sh\n");
    assert.equal(lookupGroup("1234", `${dir}/group`), 2001);
    assert.equal(lookupGroup("students", `${dir}/group`), 2000);
    assert.equal(lookupGroup("2000", `${dir}/group`), 2000);
    assert.equal(lookupGroup("999", `${dir}/group`), 999);
    assert.equal(lookupGroup("teachers", `${dir}/group`), undefined);
    assert.equal(lookupUser("4321", `${dir}/passwd`), 3000);
    assert.equal(lookupUser("77", `${dir}/passwd`), 77);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
