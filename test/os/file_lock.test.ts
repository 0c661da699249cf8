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
