/**
 * The one wording of a file that cannot be read, for the lab file and the
 * files it names: the reason alone, without the OS's repeat of the path.
 */
import assert from "node:assert/strict";
import { cannotRead, unreadableReason } from "../../src/lab/unreadable.ts";

function readError(path: string): unknown {
  try {
    Deno.readTextFileSync(path);
  } catch (err) {
    return err;
  }
  throw new Error(`${path} was read`);
}

Deno.test("a file that cannot be read is said in one wording, with the reason in words and the path once", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(
      cannotRead(`${dir}/x.yaml`, unreadableReason(readError(`${dir}/x.yaml`))),
      `cannot read ${dir}/x.yaml: no such file`,
    );
    assert.equal(unreadableReason(readError(dir)), "it is a directory");
    assert.equal(
      cannotRead("/a/b.rc", "no such file", "rc file"),
      "cannot read the rc file /a/b.rc: no such file",
    );
    // Another OS error: its words, without "(os error N)" and the call's repeat of the path.
    assert.equal(
      unreadableReason(new Error(`Too many levels of symbolic links (os error 40): readfile '${dir}/loop'`)),
      "Too many levels of symbolic links",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
