/**
 * spawnOnFds: a command gets the descriptors it is given as its stdin, stdout, 3 and 4, and no other copy
 * of them; its status is its own, also when it caught the signal it was sent.
 */
import assert from "node:assert/strict";
import { redirections, spawnOnFds } from "../../src/os/spawn_on_fds.ts";
import { closeOnExecPipe, libc } from "../../ffi/libc.ts";
import { listFdsScript, pipeFdsListed, pipesHeldHere } from "../helpers/pipe_fds.ts";

Deno.test("redirections move the descriptors handed over from fd 3 up to 0, 1, 3, 4 and close the rest", () => {
  assert.equal(redirections(2), "0<&3 1>&4 3<&- 4<&-");
  assert.equal(redirections(4), "0<&3 1>&4 3<&5 4>&6 5<&- 6<&-");
});

/** Four close-on-exec pipes, closed by `use`'s end. */
async function withPipes(use: (pipes: [number, number][]) => Promise<void>): Promise<void> {
  const pipes = Array.from({ length: 4 }, () => closeOnExecPipe());
  try {
    await use(pipes);
  } finally {
    for (const fd of pipes.flat()) libc().close(fd);
  }
}

const text = (s: string) => new TextEncoder().encode(s);

/** What is in the pipe read at `fd`, up to 100 bytes (its writers have written). */
function readNow(fd: number): string {
  const buf = new Uint8Array(100);
  const n = libc().read(fd, buf, buf.length);
  return new TextDecoder().decode(buf.subarray(0, Math.max(n, 0)));
}

Deno.test("a command started on pipes reads and writes them as its 0, 1, 3 and 4, holding no other copy", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-spawn-on-fds-test-" });
  const inherited = pipesHeldHere();
  try {
    await withPipes(async ([a, b, c, d]) => {
      libc().write(a![1], text("a\n"), 2);
      libc().write(c![1], text("c\n"), 2);
      // It lists its descriptors, then answers.
      const script = `${listFdsScript(`${dir}/fds`)}; read x; read y <&3; echo "$x$y"; echo "$y$x" >&4`;
      const child = await spawnOnFds(["sh", "-c", script], [a![0], b![1], c![0], d![1]]);
      assert.deepEqual(await child.status, { code: 0, signal: null });
      assert.deepEqual([readNow(b![0]), readNow(d![0])], ["ac\n", "ca\n"]);
      const fds = await pipeFdsListed(`${dir}/fds`, inherited);
      assert.deepEqual(fds, [0, 1, 3, 4]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a command that catches the signal it is sent exits with its own status; one that does not, with 128 + N", async () => {
  await withPipes(async ([a, b]) => {
    const script = `trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done`;
    for (
      const [argv, expected] of [
        [["sh", "-c", script], { code: 7, signal: null }],
        [["sh", "-c", "echo ready; exec sleep 30"], { code: 143, signal: "SIGTERM" }],
      ] as const
    ) {
      const child = await spawnOnFds(argv, [a![0], b![1]]);
      assert.equal(readNow(b![0]), "ready\n");
      child.kill("SIGTERM");
      assert.deepEqual(await child.status, expected);
    }
  });
});

Deno.test("the command is started whatever the PATH holds: one named in full runs with no sh on the PATH", async () => {
  // The PATH is the command's to search: Debian's dpipe runs /bin/echo under PATH=/nonexistent too.
  const path = Deno.env.get("PATH");
  Deno.env.set("PATH", "/nonexistent-vde-spawn-on-fds");
  try {
    await withPipes(async ([a, b]) => {
      const child = await spawnOnFds(["/bin/echo", "ran"], [a![0], b![1]]);
      assert.deepEqual(await child.status, { code: 0, signal: null });
      assert.equal(readNow(b![0]), "ran\n");
    });
  } finally {
    if (path !== undefined) Deno.env.set("PATH", path);
  }
});

Deno.test("an environment value that is not UTF-8 reaches the command byte for byte, as Debian's dpipe passes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-spawn-on-fds-test-" });
  try {
    // This process's own environment holds strings only: a shell gives a child of it the Latin-1 value.
    const script = `VDE_RAW=$(printf 'a\\377b\\nX'); export VDE_RAW="\${VDE_RAW%X}"; exec "$@"`;
    const child = `import { spawnOnFds } from "${new URL("../../src/os/spawn_on_fds.ts", import.meta.url)}";
      const c = await spawnOnFds(["sh", "-c", 'printf %s "\${VDE_RAW-unset}" > ${dir}/got'], []);
      Deno.exit((await c.status).code);`;
    const out = await new Deno.Command("sh", {
      args: ["-c", script, "sh", Deno.execPath(), "eval", child],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual([...await Deno.readFile(`${dir}/got`)], [0x61, 0xff, 0x62, 0x0a]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
