/** What a path is: onPath finds a program as a shell would, by its bare name in $PATH. */
import assert from "node:assert/strict";
import { onPath, wholePath } from "../../src/os/paths.ts";

Deno.test("onPath finds a program by its bare name in $PATH, and never a path or an empty name", () => {
  assert.equal(onPath("sh"), true);
  assert.equal(onPath("no-such-program-u19"), false);
  assert.equal(onPath("/bin/sh"), false);
  assert.equal(onPath(""), false);
});

Deno.test("wholePath names a path by its real path, or by its parent's and its name where it does not exist yet", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "vde-whole-path-" }));
  try {
    await Deno.mkdir(`${tmp}/real`);
    await Deno.symlink(`${tmp}/real`, `${tmp}/link`);
    assert.equal(wholePath(`${tmp}/./real/`), `${tmp}/real`);
    assert.equal(wholePath(`${tmp}/link`), `${tmp}/real`);
    assert.equal(wholePath(`${tmp}/link/new`), `${tmp}/real/new`, "not there yet: its parent, whole");
    assert.equal(wholePath(`${tmp}/./new/`), `${tmp}/new`);
    assert.equal(wholePath("/"), "/");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
