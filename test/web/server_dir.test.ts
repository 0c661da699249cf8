/**
 * The server directories killed servers leave: a new server removes those of its uid whose server is gone,
 * and nothing else (a live server's, one whose pid still runs, another user's symlink, other names).
 */
import assert from "node:assert/strict";
import { makeServerDir, SOCKET_NAME, sweepDeadServerDirs } from "../../src/web/server_dir.ts";
import { run, waitFor } from "../helpers/processes.ts";
import { spawnHttpSwitch } from "../helpers/switches.ts";

/** A pid that ran and is gone. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** A directory in `parent` named as pid `pid`'s server's, 0700, with a socket nobody listens on (or one that listens). */
async function serverDir(
  parent: string,
  pid: number,
  listening = false,
): Promise<{ dir: string; close(): void }> {
  const dir = `${parent}/vde-http-${pid}-abc${Math.random().toString(36).slice(2, 8)}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  const l = Deno.listen({ transport: "unix", path: `${dir}/${SOCKET_NAME}` });
  if (!listening) l.close();
  return { dir, close: () => listening && l.close() };
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test("server dir: a new server removes its uid's directories whose server is gone, and keeps every other", async () => {
  const parent = await Deno.makeTempDir({ prefix: "vde-sweep-" });
  const live = await serverDir(parent, await deadPid(), true);
  try {
    const dead = await serverDir(parent, await deadPid());
    const bare = `${parent}/vde-http-${await deadPid()}-xyz`;
    await Deno.mkdir(bare, { mode: 0o700 });
    const running = await serverDir(parent, 1);
    const other = `${parent}/vde-http-1234567-old`;
    await Deno.mkdir(`${parent}/target`, { mode: 0o700 });
    await Deno.symlink(`${parent}/target`, `${parent}/vde-http-${await deadPid()}-link`);
    await Deno.mkdir(other, { mode: 0o755 });
    const unnamed = `${parent}/vde-http-abcdef`;
    await Deno.mkdir(unnamed, { mode: 0o700 });
    const notSocket = `${parent}/vde-http-${await deadPid()}-file`;
    await Deno.mkdir(notSocket, { mode: 0o700 });
    await Deno.writeTextFile(`${notSocket}/${SOCKET_NAME}`, "not a socket\n");
    assert.equal(await sweepDeadServerDirs(parent, ""), 2);
    assert.equal(await exists(dead.dir), false, "a dead server's directory and socket go");
    assert.equal(await exists(bare), false, "so does one killed before it bound its socket");
    assert.ok(await exists(live.dir), "a server that answers keeps its directory (another pid namespace)");
    assert.ok(await exists(running.dir), "so does one whose pid runs");
    assert.ok(await exists(`${parent}/target`), "a symlink is not followed");
    assert.ok(await exists(other), "a directory not 0700 is not a server's");
    assert.ok(await exists(unnamed), "nor one without a pid");
    assert.ok(
      await exists(`${notSocket}/${SOCKET_NAME}`),
      "a regular file named s is not a server's socket: kept",
    );
  } finally {
    live.close();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("server dir: its name carries the pid, mode 0700", async () => {
  const dir = makeServerDir();
  try {
    assert.match(dir, new RegExp(`/vde-http-${Deno.pid}-[^/]+$`));
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("server dir: a SIGKILLed vde switch --http leaves its directory; the next server removes it, and its own goes at exit", async () => {
  const sock = await Deno.makeTempDir({ prefix: "vde-sweep-sw-" });
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const dirsOf = async (pid: number) => {
    const found: string[] = [];
    for await (const e of Deno.readDir(tmp)) if (e.name.startsWith(`vde-http-${pid}-`)) found.push(e.name);
    return found;
  };
  const start = (n: number) => spawnHttpSwitch(`${sock}/${n}`);
  const first = start(1);
  try {
    await waitFor(() => first.stderr.includes("web view on"), {
      timeoutMs: 30_000,
      what: "the first switch's web view",
    });
    assert.equal((await dirsOf(first.pid)).length, 1);
    first.kill("SIGKILL");
    await first.status;
    assert.equal((await dirsOf(first.pid)).length, 1, "SIGKILL leaves the directory");
    const second = start(2);
    try {
      await waitFor(() => second.stderr.includes("web view on"), {
        timeoutMs: 30_000,
        what: "the second switch's web view",
      });
      await waitFor(async () => (await dirsOf(first.pid)).length === 0, {
        timeoutMs: 5_000,
        what: "the stale directory to go",
      });
      assert.equal((await dirsOf(second.pid)).length, 1);
    } finally {
      await second.stop();
    }
    assert.deepEqual(await dirsOf(second.pid), [], "a stopped server leaves nothing");
  } finally {
    await first.stop().catch(() => {});
    await run(["rm", "-rf", sock]);
  }
});
