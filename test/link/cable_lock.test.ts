/**
 * A cable's end removes its switch's directory once the switch is gone and
 * the directory empty, as the switch would have, but never while a switch
 * is starting in it (the start holds it: os/held_dir.ts).
 */
import assert from "node:assert/strict";
import { localSwitch, lockCable } from "../../src/link/cable_lock.ts";
import { holdDirectory, holdForStart } from "../../src/os/held_dir.ts";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { renamedDirScene } from "../helpers/renamed_dir.ts";

const ID = new Uint8Array(16).fill(0x17);

Deno.test("a cable's end leaves its switch's directory to a switch starting in it, and removes it once unserved and idle", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-lock-" });
  const dir = `${tmp}/sw`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
    const starting = holdDirectory(dir);
    assert.equal(await holdForStart(starting, dir), true);
    const lock = await lockCable(ID, { name: dir, dir });
    // The switch's ctl not bound yet: what a cable ending then finds.
    lock.release();
    assert.ok(Deno.lstatSync(dir).isDirectory, "the starting switch keeps its directory");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the lock's file went");
    starting.close();
    const again = await lockCable(ID, { name: dir, dir });
    again.release();
    assert.throws(() => Deno.lstatSync(dir), Deno.errors.NotFound, "idle and unserved: removed");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("root's cable whose switch directory nobody renamed away and replaced leaves nobody's directory at its name as it ends", async (t) => {
  if (skipUnlessRoot(t)) return;
  const { tmp, dir, away } = await renamedDirScene("vde-cable-lock-renamed-", "sw");
  try {
    Deno.mkdirSync(dir, { mode: 0o755 });
    const lock = await lockCable(ID, { name: dir, dir });
    // As nobody: the switch's directory renamed away, an empty one of theirs at its name.
    await run([...AS_NOBODY, "sh", "-c", `set -e; mv '${dir}' '${away}'; mkdir '${dir}'`]);
    lock.release();
    assert.equal(Deno.lstatSync(dir).uid, 65534, "nobody's directory at the name stays");
    assert.deepEqual([...Deno.readDirSync(away)], [], "the lock's file went from the directory it was in");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("root's cable whose switch directory nobody swapped for a symlink to a root-only directory makes no lock file there", async (t) => {
  if (skipUnlessRoot(t)) return;
  const { tmp, dir, away, target } = await renamedDirScene("vde-cable-lock-swapped-", "sw");
  try {
    Deno.mkdirSync(dir, { mode: 0o755 });
    await Deno.chmod(target, 0o700);
    // Resolved while the name held the switch's directory.
    const local = localSwitch(dir);
    assert.equal(local.dir, dir);
    // As nobody, before the lock is taken: the directory renamed away, a symlink to root's in its place.
    await run([...AS_NOBODY, "sh", "-c", `set -e; mv '${dir}' '${away}'; ln -s '${target}' '${dir}'`]);
    const lock = await lockCable(ID, local);
    try {
      assert.deepEqual([...Deno.readDirSync(target)], [], "nothing made where the symlink leads");
      assert.deepEqual([...Deno.readDirSync(away)], [], "nor in the directory renamed away");
    } finally {
      lock.release();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
