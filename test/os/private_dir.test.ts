/**
 * A user's own directory under a shared one (/tmp/vde-UID for labs and
 * cable locks) is taken only when it is theirs: one another user made
 * first, or a symlink, is refused in one line; one of theirs that others
 * may write is narrowed to 700.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { privateDir } from "../../src/os/private_dir.ts";
import { inTempDir } from "../helpers/temp_dir.ts";

function withTmp(body: (tmp: string) => Promise<void>): Promise<void> {
  return inTempDir("vde-private-dir-", body);
}

Deno.test("a missing directory is made mode 700; one of the user's own that others may write is narrowed to 700", () =>
  withTmp(async (tmp) => {
    assert.equal(privateDir(`${tmp}/mine`), `${tmp}/mine`);
    assert.equal((await Deno.stat(`${tmp}/mine`)).mode! & 0o777, 0o700);
    await Deno.chmod(`${tmp}/mine`, 0o777);
    privateDir(`${tmp}/mine`);
    assert.equal((await Deno.stat(`${tmp}/mine`)).mode! & 0o777, 0o700);
  }));

Deno.test("a directory another user made first is refused with whose it is, and left as it is", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withTmp(async (tmp) => {
    const theirs = `${tmp}/vde-1001`;
    await Deno.mkdir(theirs);
    await Deno.chmod(theirs, 0o777);
    await Deno.chown(theirs, 65534, 65534);
    assert.throws(
      () => privateDir(theirs, 1001),
      new Error(
        `${theirs} is not a directory of yours alone (owner nobody, mode 777): another user made it first, where ` +
          `your labs and cable locks would go; have it removed (root: rm -r ${theirs}), or set XDG_RUNTIME_DIR to a ` +
          "directory of yours",
      ),
    );
    assert.equal((await Deno.stat(theirs)).mode! & 0o777, 0o777);
  });
});

Deno.test("a symlink in its place, even to a directory of the user's own, is refused", () =>
  withTmp(async (tmp) => {
    await Deno.mkdir(`${tmp}/real`);
    await Deno.symlink(`${tmp}/real`, `${tmp}/link`);
    assert.throws(() => privateDir(`${tmp}/link`), /link is not a directory of yours alone \(a symlink\)/);
  }));
