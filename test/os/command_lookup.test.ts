import assert from "node:assert/strict";
import { unrunnable } from "../../src/os/command_lookup.ts";

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
