import assert from "node:assert/strict";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";
import { labFileText, trustedLabText } from "../../src/lab/lab_text.ts";

const LAB = "name: x\ntopology:\n  nodes: {}\n";

/** What trustedLabText says of `path`: its text, or its refusal's words. */
function toRun(path: string): string {
  try {
    return trustedLabText(path);
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}

Deno.test("a lab file to run that others may write, or another user's, is refused as an rc is, with the chmod or chown that fixes it; root's, or the sudo user's, is read", async () => {
  await asRootWithoutSudo("vde-lab-text-", async (dir) => {
    const file = `${dir}/lab.yaml`;
    await Deno.writeTextFile(file, LAB);
    await Deno.chmod(file, 0o644);
    assert.equal(toRun(file), LAB);
    // Anyone may write it: what they put in its hosts' exec lines would run as root.
    await Deno.chmod(file, 0o666);
    assert.equal(
      toRun(file),
      `refused: anyone may write it (mode 0666), and its commands would run as root: chmod go-w ${file}`,
    );
    // Group nogroup (nobody's) may write it.
    await Deno.chmod(file, 0o664);
    await Deno.chown(file, 0, 65534);
    assert.match(toRun(file), /^refused: group \S+ may write it \(mode 0664\), .*: chmod go-w /);
    // Another user's, whatever its mode.
    await Deno.chmod(file, 0o644);
    giveToNobody(file);
    assert.match(
      toRun(file),
      new RegExp(
        `^refused: it is (nobody|65534)'s, and its commands would run as root: read it, then chown root ${file}$`,
      ),
    );
    // Read only for its name, or to draw it, it is still read.
    assert.equal(labFileText(file), LAB);
    // Root run by sudo by that user: a file of theirs is theirs to run.
    Deno.env.set("SUDO_UID", "65534");
    assert.equal(toRun(file), LAB);
  });
});

Deno.test("a lab file to run reached through another user's link, or a directory others may write, is refused with what to do", async () => {
  await asRootWithoutSudo("vde-lab-text-", async (dir) => {
    await Deno.mkdir(`${dir}/d`);
    await Deno.writeTextFile(`${dir}/d/lab.yaml`, LAB);
    await Deno.symlink(`${dir}/d/lab.yaml`, `${dir}/link.yaml`);
    giveToNobody(`${dir}/link.yaml`);
    assert.match(
      toRun(`${dir}/link.yaml`),
      /^refused: it is reached through .*\/link\.yaml, a symbolic link of (nobody|65534)'s, which may lead the name to any file, and its commands would run as root: give a path through directories of yours or root's alone$/,
    );
    await Deno.chmod(`${dir}/d`, 0o777);
    assert.match(
      toRun(`${dir}/d/lab.yaml`),
      /^refused: it is reached through .*\/d, a directory anyone may write \(mode 0777\), .*: chmod o-w .*\/d \(or \+t\)/,
    );
    // Sticky, as /tmp: others may add names, not take root's.
    await Deno.chmod(`${dir}/d`, 0o1777);
    assert.equal(toRun(`${dir}/d/lab.yaml`), LAB);
    assert.equal(toRun(`${dir}/d/none.yaml`), "refused: no such file");
  });
});
