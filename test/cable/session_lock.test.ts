/**
 * One connecting process per cable session on a host: the lock is taken,
 * refused to a second holder with the first one's pid, given back, and
 * free again the moment a holder dies however it dies, for another user
 * too, with nobody's file removed or changed.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { lockSession, sessionLockPath } from "../../src/cable/session_lock.ts";
import { evalUnderUmask000 } from "../helpers/umask.ts";
import { bindUnservedSockets } from "../helpers/stale_socket.ts";

const ID = new Uint8Array(16).fill(0x19);
const MODULE = new URL("../../src/cable/session_lock.ts", import.meta.url).href;

/** Deno code that takes the lock of ID in `dir` and says what it got (and with `hold`, keeps it). */
function takerCode(dir: string, hold = false): string {
  return `import { lockSession } from "${MODULE}";\n` +
    `const lock = await lockSession(${JSON.stringify(dir)}, new Uint8Array(16).fill(0x19), 0);\n` +
    `console.log("release" in lock ? "held" : JSON.stringify(lock));\n` +
    (hold ? "setInterval(() => {}, 1000);\n" : `if ("release" in lock) lock.release();\n`);
}

/** A holder of ID's lock in `dir`, killed with SIGKILL once it holds: what it leaves behind. */
async function killedHolder(dir: string): Promise<void> {
  const holder = new Deno.Command(Deno.execPath(), { args: ["eval", takerCode(dir, true)], stdout: "piped" })
    .spawn();
  await holder.stdout.pipeTo(new WritableStream({ write: () => holder.kill("SIGKILL") }));
  await holder.status;
}

Deno.test("a session lock is held once: a second taker is told the holder's pid, and takes it once released", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    const first = await lockSession(dir, ID, 0);
    assert.ok("release" in first);
    assert.deepEqual(await lockSession(dir, ID, 0), { heldBy: Deno.pid });
    const other = await lockSession(dir, new Uint8Array(16).fill(0x20), 0);
    assert.ok("release" in other, "another session has a lock of its own");
    other.release();
    first.release();
    assert.throws(
      () => Deno.lstatSync(sessionLockPath(dir, ID)),
      Deno.errors.NotFound,
      "released, the file goes",
    );
    const again = await lockSession(dir, ID, 0);
    assert.ok("release" in again);
    again.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock whose holder was killed with SIGKILL is free at once: its file stays, and is simply locked", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    await killedHolder(dir);
    assert.ok(Deno.lstatSync(sessionLockPath(dir, ID)).isFile, "the dead holder's file is there");
    const lock = await lockSession(dir, ID, 0);
    assert.ok("release" in lock);
    lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a holder stopped with Ctrl-Z still holds its session lock, and is named by its pid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  const holder = new Deno.Command(Deno.execPath(), { args: ["eval", takerCode(dir, true)], stdout: "piped" })
    .spawn();
  try {
    const reader = holder.stdout.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value).trim(), "held");
    reader.releaseLock();
    holder.kill("SIGSTOP");
    assert.deepEqual(await lockSession(dir, ID, 0), { heldBy: holder.pid });
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock that cannot be had (directory not makeable, a symlink or a socket in the way) is said unavailable, not thrown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    Deno.writeTextFileSync(`${dir}/file`, "");
    const underFile = await lockSession(`${dir}/file/vde`, ID, 0);
    assert.ok("unavailable" in underFile, "a directory under a file cannot be made");
    assert.match(underFile.unavailable, /cannot make .*\/file\/vde/);
    // A symlink is never followed to lock (or make) what it points at.
    Deno.symlinkSync(`${dir}/target`, sessionLockPath(dir, ID));
    const linked = await lockSession(dir, ID, 0);
    assert.ok("unavailable" in linked);
    assert.match(linked.unavailable, /^cannot open .*cable-[0-9a-f]{32}\.lock: /);
    assert.throws(() => Deno.lstatSync(`${dir}/target`), Deno.errors.NotFound, "nothing made through it");
    Deno.removeSync(sessionLockPath(dir, ID));
    // What an older vde left there: a lock that was a listening socket.
    bindUnservedSockets(sessionLockPath(dir, ID));
    const socket = await lockSession(dir, ID, 0);
    assert.ok("unavailable" in socket);
    assert.ok(Deno.lstatSync(sessionLockPath(dir, ID)).isSocket, "left as it was");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock file may be locked by the other users of a switch's directory: mode 644 whatever the umask", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    await evalUnderUmask000(takerCode(dir, true).replace("setInterval(() => {}, 1000);\n", ""));
    assert.equal(Deno.lstatSync(sessionLockPath(dir, ID)).mode! & 0o777, 0o644);
    await Deno.remove(sessionLockPath(dir, ID));
    await killedHolder(dir);
    assert.equal(Deno.lstatSync(sessionLockPath(dir, ID)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another user's session lock in a sticky directory: named by its pid while held, taken over once its holder is killed, never removed", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  const denoDir = await Deno.makeTempDir({ prefix: "vde-session-lock-deno-" });
  const asNobody = () =>
    run(
      [
        ...AS_NOBODY,
        "env",
        `DENO_DIR=${denoDir}`,
        `HOME=${denoDir}`,
        Deno.execPath(),
        "eval",
        takerCode(dir),
      ],
      {
        timeoutMs: 60_000,
      },
    );
  try {
    await Deno.chmod(dir, 0o1777);
    await Deno.chmod(denoDir, 0o777);
    const mine = await lockSession(dir, ID, 0);
    assert.ok("release" in mine);
    assert.equal((await asNobody()).stdout.trim(), JSON.stringify({ heldBy: Deno.pid }));
    mine.release();
    // Root's holder killed: its file stays, root's, which nobody may remove from the sticky directory.
    await killedHolder(dir);
    const before = Deno.lstatSync(sessionLockPath(dir, ID));
    assert.equal((await asNobody()).stdout.trim(), "held");
    const after = Deno.lstatSync(sessionLockPath(dir, ID));
    assert.deepEqual(
      [after.ino, after.uid, after.mode],
      [before.ino, 0, before.mode],
      "the file is as it was",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
