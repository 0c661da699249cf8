import assert from "node:assert/strict";
import { AS_NOBODY, hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { asRootWithoutSudo, giveToNobody, vouchedKey } from "../helpers/root_files.ts";
import { stepText, untrustedStep, vouchedSteps } from "../../src/os/trusted_path.ts";
import { VOUCHED_VARIABLE } from "../../src/os/user_namespace.ts";
import { readSecretFile, readTrustedFile, secretRefusal } from "../../src/os/owned_file.ts";
import { readScript } from "../../src/console/session_commands.ts";
import { runStartupScript } from "../../src/console/script.ts";
import { CommandRegistry } from "../../src/console/registry.ts";
import { Errno } from "../../src/console/reply_format.ts";

/** As user nobody, in the shell: what another user does to a directory they may write. */
async function asNobody(script: string, ...args: string[]): Promise<void> {
  const r = await run(
    [...AS_NOBODY, "sh", "-c", script, "sh", ...args],
    { check: false },
  );
  assert.equal(r.code, 0, r.stderr);
}

/** `dir` made as /tmp (anyone may make a name, none may take another's), with root's 0600 root-only/key. */
async function stickyWithRootOnlyKey(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o1777);
  await Deno.mkdir(`${dir}/root-only`, { mode: 0o700 });
  await Deno.writeTextFile(`${dir}/root-only/key`, "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
}

/**
 * What root's secret, script and lab file reads of `path` got for 3 s while nobody made and removed `link` ->
 * `target` as fast as they could: each read that met root's file, in words (none is right).
 */
async function readsWhileNobodyFlips(target: string, link: string, path: string): Promise<string[]> {
  const [setpriv, ...asNobodyArgs] = AS_NOBODY;
  const flipper = new Deno.Command(setpriv!, {
    args: [
      ...asNobodyArgs,
      "sh",
      "-c",
      // TERM is taken between commands (sh runs a trap once its foreground child is done), and the
      // trap removes the name: a bare kill let an `ln` already started outlive sh and leave nobody's
      // link in place, so the test's own next write went through it.
      'trap \'rm -f "$2"; exit 0\' TERM; while :; do ln -s "$1" "$2" 2>/dev/null; rm -f "$2"; done',
      "sh",
      target,
      link,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const leaks: string[] = [];
  try {
    let reads = 0;
    for (const end = Date.now() + 3000; Date.now() < end; reads++) {
      const read = readSecretFile(path, 100);
      if (typeof read === "object" && "text" in read) leaks.push(`secret: ${read.text.trim()}`);
      const lines = await readScript(path);
      if (Array.isArray(lines)) leaks.push(`script: ${lines.join()}`);
      // A lab file to run is read as a script is (lab_text.ts).
      const lab = readTrustedFile(path, 100);
      if (typeof lab === "object" && "text" in lab) leaks.push(`lab file: ${lab.text.trim()}`);
    }
    assert.ok(reads > 100, `only ${reads} reads`);
  } finally {
    flipper.kill();
    await flipper.status;
  }
  // No link of nobody's is left at the name for what the caller does next.
  assert.throws(() => Deno.lstatSync(link), Deno.errors.NotFound);
  return leaks;
}

Deno.test("root's secret and script reads refuse a name another user's symlink leads to a root-only directory (nobody's /tmp/x -> /root-only, root's 0600 file read as /tmp/x/secret)", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await stickyWithRootOnlyKey(dir);
    await asNobody(`ln -s "$1/root-only" "$1/x"`, dir);
    const path = `${dir}/x/key`;
    const refused = readSecretFile(path, 100);
    assert.deepEqual(refused, { openTo: 0o777, owner: 65534, link: true });
    assert.match(secretRefusal(path, refused as { openTo: number }), /symbolic link of (nobody|65534)'s/);
    assert.equal(await readScript(path), Errno.EPERM);
    await assert.rejects(
      runStartupScript(path, new CommandRegistry(), () => {}),
      /cannot read the startup script .*: it is reached through .*\/x, a symbolic link of (nobody|65534)'s/,
    );
    // Root's own way to it is read.
    const read = readSecretFile(`${dir}/root-only/key`, 100);
    assert.equal(
      typeof read === "string" || "openTo" in read ? read : read.text,
      "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    );
  });
});

Deno.test("a secret or script under another user's directory is refused: its owner may swap what lies beyond at will", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await Deno.chmod(dir, 0o1777);
    await asNobody(`mkdir -m 755 "$1/theirs"`, dir);
    // Root's 0600 file in it (it could be a directory of root's renamed in by its owner, or a link swapped in).
    await Deno.writeTextFile(`${dir}/theirs/key`, "s3cret\n", { mode: 0o600 });
    const refused = readSecretFile(`${dir}/theirs/key`, 100);
    assert.equal(typeof refused === "object" && "through" in refused, true, JSON.stringify(refused));
    assert.match(
      secretRefusal(`${dir}/theirs/key`, refused as { openTo: number }),
      /is reached through .*\/theirs, a directory of (nobody|65534)'s, which may lead the name to any file/,
    );
    assert.equal(await readScript(`${dir}/theirs/key`), Errno.EPERM);
  });
});

Deno.test("a directory on the way that others or another's group may write refuses the read, unless sticky; a group of trusted users alone may write", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await Deno.mkdir(`${dir}/d`);
    await Deno.writeTextFile(`${dir}/d/key`, "s3cret\n", { mode: 0o600 });
    const text = (r: ReturnType<typeof readSecretFile>) =>
      typeof r === "string" || "openTo" in r ? r : r.text;
    // Anyone may write it: a user renames root's key away and puts a link or another file in its place.
    await Deno.chmod(`${dir}/d`, 0o777);
    assert.deepEqual(untrustedStep(`${dir}/d/key`, [0])?.kind, "writable");
    assert.match(
      secretRefusal(`${dir}/d/key`, readSecretFile(`${dir}/d/key`, 100) as { openTo: number }),
      /a directory anyone may write \(mode 0777\), which may lead the name to any file of ours: chmod o-w .*\/d \(or \+t\)/,
    );
    // The sticky bit keeps root's names root's (as /tmp).
    await Deno.chmod(`${dir}/d`, 0o1777);
    assert.equal(text(readSecretFile(`${dir}/d/key`, 100)), "s3cret\n");
    // Group nogroup (nobody's) may write: refused; group root (root's alone here) may.
    await Deno.chmod(`${dir}/d`, 0o770);
    await Deno.chown(`${dir}/d`, 0, 65534);
    assert.equal(untrustedStep(`${dir}/d/key`, [0])?.kind, "writable");
    assert.equal(await readScript(`${dir}/d/key`), Errno.EPERM);
    // A shared setgid directory (a home under a 2775 /srv/team): its owner may narrow it, and the line says so.
    await Deno.chmod(`${dir}/d`, 0o2775);
    assert.match(
      secretRefusal(`${dir}/d/key`, readSecretFile(`${dir}/d/key`, 100) as { openTo: number }),
      /a directory group nogroup may write \(mode 2775\), .*: chmod g-w .*\/d \(or \+t\), or give a path/,
    );
    await assert.rejects(
      runStartupScript(`${dir}/d/key`, new CommandRegistry(), () => {}),
      /its lines would run as ours: chmod g-w .*\/d \(or \+t\)/,
    );
    await Deno.chown(`${dir}/d`, 0, 0);
    assert.equal(untrustedStep(`${dir}/d/key`, [0]), undefined);
    assert.deepEqual(await readScript(`${dir}/d/key`), ["s3cret"]);
  });
});

Deno.test("the way is judged as the kernel resolves it: a trusted link's target and .. after it are judged, a relative path from the working directory", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await Deno.chmod(dir, 0o1777);
    await asNobody(`mkdir -m 755 "$1/theirs" && mkdir -m 755 "$1/theirs/sub"`, dir);
    await Deno.mkdir(`${dir}/ours`);
    await Deno.writeTextFile(`${dir}/ours/key`, "s3cret\n", { mode: 0o600 });
    // Root's link into nobody's directory, and back out by ..: the way runs through theirs.
    await Deno.symlink(`${dir}/theirs/sub`, `${dir}/ours/in`);
    assert.equal(untrustedStep(`${dir}/ours/in/../../ours/key`, [0])?.path, `${dir}/theirs`);
    assert.equal(untrustedStep(`${dir}/ours/key`, [0]), undefined);
    const cwd = Deno.cwd();
    try {
      Deno.chdir(`${dir}/theirs`);
      assert.equal(untrustedStep("sub/x", [0])?.path, `${dir}/theirs`);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("a name on the way that is not there is not opened: another user's link made there between the walk and the open no longer leads root's read to a root-only file", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await stickyWithRootOnlyKey(dir);
    const path = `${dir}/y/key`;
    // Not there: answered as the open would, without opening.
    assert.equal(untrustedStep(path, [0])?.kind, "missing");
    assert.equal(readSecretFile(path, 100), "no such file");
    assert.equal(await readScript(path), Errno.ENOENT);
    // Nobody makes and removes y -> root-only as fast as they can; before, 20 reads in 10^5 met the link
    // at the open after missing it at the walk, and read root's key.
    assert.deepEqual(await readsWhileNobodyFlips(`${dir}/root-only`, `${dir}/y`, path), []);
  });
});

Deno.test("a script read through root's link whose target is not there is the file judged after the open: another user's link made there and gone again no longer leads the read to a root-only file", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await stickyWithRootOnlyKey(dir);
    // Root's link to a script not made yet, in a directory anyone may add names to.
    await Deno.symlink(`${dir}/rc`, `${dir}/sw.rc`);
    assert.equal(await readScript(`${dir}/sw.rc`), Errno.ENOENT);
    // Before, 21 reads in 46,000 held root's key through nobody's rc -> root-only/key at the open and found
    // the name root's link at the look after.
    assert.deepEqual(await readsWhileNobodyFlips(`${dir}/root-only/key`, `${dir}/rc`, `${dir}/sw.rc`), []);
    // A script of root's there is read through the link.
    await Deno.writeTextFile(`${dir}/rc`, "showinfo\n");
    assert.deepEqual(await readScript(`${dir}/sw.rc`), ["showinfo"]);
  });
});

Deno.test("a relative name in a working directory that was removed is answered as not there, not thrown out of the read (load, --rc, a key)", async () => {
  const cwd = Deno.cwd();
  const gone = await Deno.makeTempDir({ prefix: "vde-trusted-cwd-" });
  try {
    Deno.chdir(gone);
    await Deno.remove(gone);
    assert.equal(untrustedStep("key", [0])?.kind, "missing");
    assert.equal(readSecretFile("key", 100), "no such file");
    assert.equal(await readScript("rc"), Errno.ENOENT);
  } finally {
    Deno.chdir(cwd);
  }
});

/**
 * `dir` as a user's rootless lab meets it: nobody's own `ours/key`, and beside it uid 4242's (a user the
 * namespace does not map, as the machine's root is not) link `x` -> ours and sticky directory `theirs`
 * holding nobody's `theirs/key`.
 */
async function anotherUsersWays(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o1777);
  await Deno.mkdir(`${dir}/ours`, { mode: 0o755 });
  await Deno.writeTextFile(`${dir}/ours/key`, "s3cret\n", { mode: 0o600 });
  await Deno.mkdir(`${dir}/theirs`, { mode: 0o1777 });
  await Deno.chmod(`${dir}/theirs`, 0o1777);
  await Deno.writeTextFile(`${dir}/theirs/key`, "s3cret\n", { mode: 0o600 });
  await run(["chown", "-R", "65534:65534", `${dir}/ours`, `${dir}/theirs/key`]);
  await Deno.symlink(`${dir}/ours`, `${dir}/x`);
  await run(["chown", "-h", "4242:4242", `${dir}/x`, `${dir}/theirs`]);
}

/** What untrustedStep says of each of `paths` as nobody, root of a user namespace of theirs, handed `vouched`. */
async function stepsInNamespace(paths: string[], vouched?: string): Promise<(string | null)[]> {
  const mod = (m: string) => new URL(`../../src/os/${m}`, import.meta.url).href;
  const code = `import { stepText, untrustedStep } from "${mod("trusted_path.ts")}";\n` +
    `const paths = ${JSON.stringify(paths)};\n` +
    "console.log(JSON.stringify(paths.map((p) => { const s = untrustedStep(p, [0]); " +
    "return s === undefined ? null : stepText(s); })));";
  const env = vouched === undefined ? [] : [`${VOUCHED_VARIABLE}=${vouched}`];
  const r = await run(
    [...AS_NOBODY, "env", ...env, "unshare", "--user", "--map-root-user", Deno.execPath(), "eval", code],
    { check: false },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test("the host side vouches for the trusted steps of users the namespace will not map on the ways it is given, and for none past an untrusted one", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await anotherUsersWays(dir);
    const key = vouchedKey;
    // Root's `/` and the way to dir (the directory itself judged too); nobody's `ours` is theirs to map.
    const vouched = vouchedSteps([`${dir}/ours`], [65534, 0], [0]).split(" ");
    assert.ok(vouched.includes(key("/")) && vouched.includes(key(dir)), vouched.join(" "));
    assert.ok(!vouched.includes(key(`${dir}/ours`)));
    // Past uid 4242's link or directory nothing is vouched for, and they are not.
    const past = vouchedSteps([`${dir}/x/sub`, `${dir}/theirs/sub`], [65534, 0], [0, 65534]).split(" ");
    assert.ok(past.includes(key(dir)));
    for (const p of [`${dir}/x`, `${dir}/ours`, `${dir}/theirs`]) assert.ok(!past.includes(key(p)), p);
    // A `/` others may write vouches for nothing (judged as any step).
    assert.equal(vouchedSteps([dir], [65534], [0]), "");
    // A file the caller judged (the lab file, read again inside): itself, where root owns it, not nobody.
    await Deno.writeTextFile(`${dir}/lab.yaml`, "");
    await Deno.writeTextFile(`${dir}/ours/lab.yaml`, "");
    giveToNobody(`${dir}/ours/lab.yaml`);
    const files = vouchedSteps([dir], [65534, 0], [0], [`${dir}/lab.yaml`, `${dir}/ours/lab.yaml`]).split(
      " ",
    );
    assert.ok(files.includes(key(`${dir}/lab.yaml`)) && !files.includes(key(`${dir}/ours/lab.yaml`)));
  });
});

Deno.test("inside a user namespace another user's link or directory is refused as outside, root's steps only where the host side vouched for them", async (t) => {
  if (skipUnless(t, (await hasCommand("unshare")) ? null : "util-linux's unshare is not installed")) return;
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await anotherUsersWays(dir);
    const paths = [`${dir}/ours/key`, `${dir}/x/key`, `${dir}/theirs/key`];
    const unmapped = "a user this user namespace does not map (root or another)";
    // As the host side of nobody's lab would hand them in: root's steps on the way to dir.
    const vouched = vouchedSteps([dir], [65534, 0], [0]);
    assert.deepEqual(await stepsInNamespace(paths, vouched), [
      null,
      `${dir}/x, a symbolic link of ${unmapped}`,
      `${dir}/theirs, a directory of ${unmapped}`,
    ]);
    // Nothing handed in (a namespace that is no lab's): not even root's `/` is told from another user's.
    assert.deepEqual(await stepsInNamespace(paths), paths.map(() => `/, a directory of ${unmapped}`));
    // Outside, the same ways, judged for nobody.
    assert.equal(untrustedStep(`${dir}/ours/key`, [65534, 0]), undefined);
    assert.equal(stepText(untrustedStep(`${dir}/x/key`, [65534, 0])!), `${dir}/x, a symbolic link of 4242's`);
  });
});

Deno.test("inside a user namespace a vouched directory removed and its inode handed to another user's new one is that user's, refused (birth time)", async () => {
  await asRootWithoutSudo("vde-trusted-", async (dir) => {
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/gone`, { mode: 0o755 });
    const vouched = vouchedSteps([`${dir}/gone`], [65534, 0], [0]);
    const ino = Deno.statSync(`${dir}/gone`).ino;
    await Deno.remove(`${dir}/gone`);
    // ext4 hands out the lowest free inode of the group again: a few directories made get it.
    let reused: string | undefined;
    for (let i = 0; i < 20_000 && reused === undefined; i++) {
      Deno.mkdirSync(`${dir}/n${i}`, { mode: 0o755 });
      if (Deno.statSync(`${dir}/n${i}`).ino === ino) reused = `${dir}/n${i}`;
    }
    assert.ok(reused !== undefined, `inode ${ino} not handed out again here: nothing to check`);
    await Deno.writeTextFile(`${reused}/key`, "s3cret\n", { mode: 0o600 });
    await run(["chown", "65534:65534", `${reused}/key`]);
    await run(["chown", "4242:4242", reused]);
    assert.deepEqual(await stepsInNamespace([`${reused}/key`], vouched), [
      `${reused}, a directory of a user this user namespace does not map (root or another)`,
    ]);
  });
});
