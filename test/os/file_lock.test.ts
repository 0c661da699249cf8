/**
 * tryLockFile's answers (held, busy with the holder's pid, unavailable) and
 * flockHolder's reading of /proc/locks.
 */
import assert from "node:assert/strict";
import { flockHolder, tryLockFile } from "../../src/os/file_lock.ts";
import { exists } from "../../src/os/paths.ts";

Deno.test("flockHolder reads the holder of an inode's flock from /proc/locks, not a waiter, a POSIX lock or another inode", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-file-lock-" });
  try {
    await Deno.writeTextFile(
      `${dir}/locks`,
      "1: POSIX  ADVISORY  WRITE 111 08:01:1311 0 EOF\n" +
        "2: FLOCK  ADVISORY  WRITE 222 08:01:99 0 EOF\n" +
        "3: FLOCK  ADVISORY  WRITE 4242 00:2a:1311 0 EOF\n" +
        "3: -> FLOCK  ADVISORY  WRITE 333 00:2a:1311 0 EOF\n",
    );
    assert.equal(flockHolder(1311, `${dir}/locks`), 4242);
    assert.equal(flockHolder(7, `${dir}/locks`), 0, "no flock on it");
    assert.equal(flockHolder(1311, `${dir}/missing`), 0, "no /proc/locks to read");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tryLockFile: held once, busy to a second open of it with this pid, free again once released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-file-lock-" });
  try {
    const first = tryLockFile(`${dir}/l`);
    assert.ok("held" in first);
    assert.deepEqual(tryLockFile(`${dir}/l`), { busy: Deno.pid });
    first.held.release();
    first.held.release();
    const again = tryLockFile(`${dir}/l`);
    assert.ok("held" in again);
    again.held.release();
    // A FIFO is in the way, not waited on for a writer that never comes.
    await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
    const fifo = tryLockFile(`${dir}/fifo`);
    assert.deepEqual(fifo, { unavailable: `${dir}/fifo is in the way: no lock file` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tryLockFile: a directory is in the way, a planted hard link loses only its name, and no child inherits the lock's fd", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-file-lock-" });
  try {
    await Deno.mkdir(`${dir}/d`);
    assert.deepEqual(tryLockFile(`${dir}/d`), { unavailable: `${dir}/d is in the way: no lock file` });
    // A hard link to a file of the planter's: opened read-only, locked, its name removed at release, its data kept.
    await Deno.writeTextFile(`${dir}/target`, "kept\n");
    await Deno.link(`${dir}/target`, `${dir}/hard`);
    const hard = tryLockFile(`${dir}/hard`);
    assert.ok("held" in hard);
    hard.held.release();
    assert.equal(await Deno.readTextFile(`${dir}/target`), "kept\n");
    // O_CLOEXEC: a program started while it is held (a cmd:// end, a lab exec) holds nothing of it.
    const held = tryLockFile(`${dir}/l`);
    assert.ok("held" in held);
    const child = await new Deno.Command("sh", {
      args: ["-c", 'for f in /proc/$$/fd/*; do readlink "$f"; done'],
    }).output();
    assert.ok(
      !new TextDecoder().decode(child.stdout).includes(`${dir}/l`),
      "the child has no fd on the lock",
    );
    held.held.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tryLockFile: a released lock's file goes only where no one else can swap its name (sticky or private), stays in a shared directory without the sticky bit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-file-lock-" });
  try {
    for (const [mode, removed] of [[0o700, true], [0o1777, true], [0o2770, false], [0o777, false]] as const) {
      await Deno.chmod(dir, mode);
      const lock = tryLockFile(`${dir}/l`);
      assert.ok("held" in lock);
      lock.held.release();
      assert.equal(exists(`${dir}/l`), !removed, `directory mode ${mode.toString(8)}`);
      // Left, it is simply locked again by the next taker.
      const again = tryLockFile(`${dir}/l`);
      assert.ok("held" in again);
      again.held.release();
      await Deno.remove(`${dir}/l`).catch(() => {});
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tryLockFile: the lock's file is opened, checked and removed in the directory it was taken in, whatever the path leads to by release", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-file-lock-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    const lock = tryLockFile(`${dir}/a/l`);
    assert.ok("held" in lock);
    // The directory renamed away and another put at its path, holding a file of that name.
    await Deno.rename(`${dir}/a`, `${dir}/moved`);
    await Deno.mkdir(`${dir}/a`);
    await Deno.writeTextFile(`${dir}/a/l`, "another file\n");
    lock.held.release();
    assert.equal(await Deno.readTextFile(`${dir}/a/l`), "another file\n", "the file now at the path stays");
    assert.equal(exists(`${dir}/moved/l`), false, "the lock's own file went, where it was");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
