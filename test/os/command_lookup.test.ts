import assert from "node:assert/strict";
import { onPath, unrunnable } from "../../src/os/command_lookup.ts";

Deno.test("a command not on the PATH is 127 and one found but not executable 126, as a shell and nsenter say; the first executable one wins", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [a, b] = [`${dir}/a`, `${dir}/b`];
    await Deno.mkdir(a);
    await Deno.mkdir(b);
    await Deno.writeTextFile(`${a}/tool`, "#!/bin/sh\n", { mode: 0o644 });
    await Deno.writeTextFile(`${b}/tool`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.mkdir(`${a}/sub`);
    assert.deepEqual(unrunnable("nosuch", `${a}:${b}`), { status: 127, why: "command not found" });
    assert.equal(unrunnable("tool", `${a}:${b}`), undefined, "b's executable one, after a's that is not");
    assert.deepEqual(unrunnable("tool", a), { status: 126, why: "permission denied (not executable)" });
    assert.deepEqual(
      unrunnable("sub", a),
      { status: 127, why: "command not found" },
      "a directory is passed over",
    );
    assert.deepEqual(unrunnable("", a), { status: 127, why: "command not found" });
    // A name with a slash is that file, whatever the PATH.
    assert.equal(unrunnable(`${b}/tool`, ""), undefined);
    assert.deepEqual(unrunnable(`${a}/tool`, b), { status: 126, why: "permission denied (not executable)" });
    assert.deepEqual(unrunnable(`${a}/sub`, b), { status: 126, why: "is a directory" });
    assert.deepEqual(unrunnable(`${a}/none`, b), { status: 127, why: "no such file or directory" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `body` in a temp directory made the cwd (an empty $PATH entry names it), $PATH and the cwd restored after. */
async function inLookupDir(body: (dir: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir();
  const [cwd, env] = [Deno.cwd(), Deno.env.get("PATH")];
  try {
    Deno.chdir(dir);
    body(dir);
  } finally {
    Deno.chdir(cwd);
    if (env === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", env);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("unrunnable reads an empty $PATH entry as the current directory and counts a fifo there as found, not executable (126), as execvp does", async () => {
  await inLookupDir((dir) => {
    Deno.writeTextFileSync(`${dir}/here`, "#!/bin/sh\n", { mode: 0o755 });
    new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).outputSync();
    assert.equal(unrunnable("here", ""), undefined, "the cwd's, by the empty entry");
    assert.equal(unrunnable("here", `/nonexistent-u19:`), undefined);
    assert.deepEqual(unrunnable("pipe", dir), { status: 126, why: "permission denied (not executable)" });
    Deno.symlinkSync(`${dir}/here`, `${dir}/link`);
    assert.equal(unrunnable("link", dir), undefined, "a link to an executable file, followed");
  });
});

Deno.test("onPath (the lab shell's 'is this a program' for its hint) counts any regular file in a $PATH directory, skips an empty entry, and is false for a fifo, a directory or a path", async () => {
  await inLookupDir((dir) => {
    Deno.writeTextFileSync(`${dir}/plain`, "text\n", { mode: 0o644 });
    Deno.writeTextFileSync(`${dir}/here`, "#!/bin/sh\n", { mode: 0o755 });
    new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).outputSync();
    Deno.mkdirSync(`${dir}/sub`);
    Deno.env.set("PATH", dir);
    assert.equal(onPath("plain"), true, "a file without its x bit is still a program's name");
    assert.equal(onPath("here"), true);
    assert.equal(onPath("pipe"), false);
    assert.equal(onPath("sub"), false);
    assert.equal(onPath(`${dir}/here`), false);
    assert.equal(onPath(""), false);
    Deno.env.set("PATH", ":/nonexistent-u19");
    assert.equal(onPath("here"), false, "an empty entry is not the current directory here");
  });
});

Deno.test("onPath finds a program by its bare name in $PATH, and never a path or an empty name", () => {
  assert.equal(onPath("sh"), true);
  assert.equal(onPath("no-such-program-u19"), false);
  assert.equal(onPath("/bin/sh"), false);
  assert.equal(onPath(""), false);
});
