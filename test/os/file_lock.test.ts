/**
 * tryLockFile's answers (held, busy with the holder's pid, unavailable) and
 * flockHolder's reading of /proc/locks.
 */
import assert from "node:assert/strict";
import { flockHolder, tryLockFile } from "../../src/os/file_lock.ts";

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
