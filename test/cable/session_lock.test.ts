/**
 * One connecting process per cable session on a host: the lock is taken,
 * refused to a second holder with the first one's pid, given back, and
 * taken over from a holder that died without giving it back.
 */
import assert from "node:assert/strict";
import { AS_OTHER_USER, run, skipUnlessRoot } from "../helpers/processes.ts";
import { fileIdentity, lockSession, removeIfStill, sessionLockPath } from "../../src/cable/session_lock.ts";

const ID = new Uint8Array(16).fill(0x19);

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
    const again = await lockSession(dir, ID, 0);
    assert.ok("release" in again);
    again.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock left by a holder that died (its socket file, nobody listening) is taken over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    const path = sessionLockPath(dir, ID);
    // A holder killed with SIGKILL: its listening socket's file stays behind.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } }); console.log("up"); setInterval(() => {}, 1000);`,
      ],
      stdout: "piped",
    }).spawn();
    await holder.stdout.pipeTo(new WritableStream({ write: () => holder.kill("SIGKILL") }));
    await holder.status;
    assert.ok(Deno.lstatSync(path).isSocket, "the dead holder's socket file is there");
    const lock = await lockSession(dir, ID, 0);
    assert.ok("release" in lock);
    lock.release();
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound, "released, the file goes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock that cannot be had (directory not makeable, name too long for a socket) is said unavailable, not thrown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    Deno.writeTextFileSync(`${dir}/file`, "");
    const underFile = await lockSession(`${dir}/file/vde`, ID, 0);
    assert.ok("unavailable" in underFile, "a directory under a file cannot be made");
    assert.match(underFile.unavailable, /cannot make .*\/file\/vde/);
    const long = `${dir}/${"d".repeat(100)}`;
    const tooLong = await lockSession(long, ID, 0);
    assert.ok("unavailable" in tooLong, "a socket path longer than sun_path");
    assert.match(tooLong.unavailable, /cannot listen on /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock whose holder listens but never answers (stopped with Ctrl-Z) is held by pid 0, not waited on forever", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  // Bound, never accepted: the kernel completes the connection, and nobody writes on it.
  const mute = Deno.listen({ transport: "unix", path: sessionLockPath(dir, ID) });
  try {
    assert.deepEqual(await lockSession(dir, ID, 0), { heldBy: 0 });
  } finally {
    mute.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a dead holder's name is removed only while it is the file found dead, not one another taker bound since", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    const path = sessionLockPath(dir, ID);
    Deno.writeTextFileSync(path, "");
    const seen = fileIdentity(path);
    // Another taker's new name, in place before the old one goes: a different file for sure.
    Deno.writeTextFileSync(`${path}.new`, "");
    Deno.renameSync(`${path}.new`, path);
    assert.equal(removeIfStill(path, seen), false);
    assert.ok(Deno.lstatSync(path).isFile, "the other taker's name stays");
    assert.equal(removeIfStill(path, fileIdentity(path)), true);
    assert.throws(() => Deno.lstatSync(path), Deno.errors.NotFound);
    assert.equal(removeIfStill(path, undefined), false, "nothing was there when found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a session lock in a switch's shared directory may be asked by another user: its socket is mode 666", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  try {
    const lock = await lockSession(dir, ID, 0);
    assert.ok("release" in lock);
    assert.equal(Deno.lstatSync(sessionLockPath(dir, ID)).mode! & 0o777, 0o666);
    lock.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("another user's session lock that may not be asked is unavailable there, neither taken for dead nor removed", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-session-lock-" });
  const path = sessionLockPath(dir, ID);
  // Nobody's live holder whose socket others may not connect to (an older vde, or before its chmod).
  const holder = Deno.listen({ transport: "unix", path });
  try {
    await Deno.chmod(dir, 0o1777);
    await Deno.chmod(path, 0o600);
    await Deno.chown(path, 65534, 65534);
    const module = new URL("../../src/cable/session_lock.ts", import.meta.url).href;
    const code = `import { lockSession } from "${module}";\n` +
      `console.log(JSON.stringify(await lockSession(${
        JSON.stringify(dir)
      }, new Uint8Array(16).fill(0x19), 0)));`;
    const r = await run([...AS_OTHER_USER, Deno.execPath(), "eval", code], { timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(r.stdout), {
      unavailable: `${path} is another user's that this one may not ask`,
    });
    assert.ok(Deno.lstatSync(path).isSocket, "the holder's name stays");
  } finally {
    holder.close();
    await Deno.remove(dir, { recursive: true });
  }
});
