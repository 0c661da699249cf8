/** Entries a typo away from a missing path, of the kind asked, written as the path was. */
import assert from "node:assert/strict";
import { nearEntries } from "../../src/os/near_entries.ts";
import { isFile } from "../../src/os/paths.ts";

Deno.test("near entries are the nearest ones the caller takes, written as the path was (relative, ./, absolute)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-near-entries-" });
  const cwd = Deno.cwd();
  try {
    await Deno.writeTextFile(`${dir}/lab.yaml`, "");
    await Deno.mkdir(`${dir}/lab.yam`);
    Deno.chdir(dir);
    assert.deepEqual(nearEntries("lab.yml", isFile), ["lab.yaml"], "the directory one edit off is not taken");
    assert.deepEqual(nearEntries("./lab.yml", isFile), ["./lab.yaml"]);
    assert.deepEqual(nearEntries(`${dir}/lab.yml`, isFile), [`${dir}/lab.yaml`]);
    assert.deepEqual(nearEntries("lab.yaml", isFile), [], "the name itself is no suggestion");
    assert.deepEqual(nearEntries("elsewhere.yml", isFile), []);
    assert.deepEqual(nearEntries("missing/lab.yml", isFile), [], "a missing parent gives no hint");
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});
