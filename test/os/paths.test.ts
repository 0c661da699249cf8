/** What a path is: its one name from anywhere. */
import assert from "node:assert/strict";
import { wholePath } from "../../src/os/paths.ts";

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
