import assert from "node:assert/strict";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";
import { AS_NOBODY, hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { labFileText, trustedLabText } from "../../src/lab/lab_file.ts";
import { vouchedSteps } from "../../src/os/trusted_path.ts";
import { VOUCHED_VARIABLE } from "../../src/os/user_namespace.ts";

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

Deno.test("inside a rootless lab's user namespace root's lab file is read only as the host side vouched for it; another of root's is refused as a user the namespace does not map", async (t) => {
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  await asRootWithoutSudo("vde-lab-text-", async (dir) => {
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/lab.yaml`, LAB);
    await Deno.writeTextFile(`${dir}/other.yaml`, LAB);
    // As the host side of nobody's lab hands them in: root's steps to dir, and the lab file it judged.
    const vouched = vouchedSteps([dir], [65534, 0], [0], [`${dir}/lab.yaml`]);
    const mod = new URL("../../src/lab/lab_file.ts", import.meta.url).href;
    const code = `import { trustedLabText } from "${mod}";\n` +
      `console.log(JSON.stringify(${
        JSON.stringify([`${dir}/lab.yaml`, `${dir}/other.yaml`])
      }.map((p) => {\n` +
      "  try { return trustedLabText(p); } catch (err) { return `refused: ${err.message}`; }\n})));";
    const r = await run(
      [
        ...AS_NOBODY,
        "env",
        `${VOUCHED_VARIABLE}=${vouched}`,
        "unshare",
        "--user",
        "--map-root-user",
        Deno.execPath(),
        "eval",
        code,
      ],
      { check: false },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [
      LAB,
      "refused: it is a user's this user namespace does not map (root or another), and its commands would run " +
      "as root: copy it into a directory of your own",
    ]);
  });
});
