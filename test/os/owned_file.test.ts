import assert from "node:assert/strict";
import { openRegularFile, readSecretFile, readSmallFile, whyUnopenable } from "../../src/os/owned_file.ts";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";

Deno.test("a name leading to a socket is refused as a socket, seen before any open (which a socket fails with ENXIO)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owned-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/s` });
  try {
    assert.equal(readSmallFile(`${dir}/s`, 100), "it is a socket, not a regular file");
    assert.equal(whyUnopenable(`${dir}/s`), "it is a socket, not a regular file");
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a name leading to a device is refused without the device being opened (its open alone can act)", async () => {
  // /dev/tty's open fails (ENXIO) in a process with no controlling terminal, so an open would show as
  // that error; seen from a bare handle, it is the character device it is, and not opened.
  const module = new URL("../../src/os/owned_file.ts", import.meta.url).href;
  const code = `import { readSmallFile, whyUnopenable } from ${JSON.stringify(module)};
    console.log(JSON.stringify([readSmallFile("/dev/tty", 100), whyUnopenable("/dev/tty") ?? null]));`;
  const out = await new Deno.Command("setsid", {
    args: ["-w", Deno.execPath(), "eval", code],
    stdin: "null",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), [
    "it is a character device, not a regular file",
    null,
  ]);
});

Deno.test("a final symlink is refused where it is not followed, and read where it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owned-" });
  try {
    await Deno.writeTextFile(`${dir}/f`, "42\n");
    await Deno.symlink(`${dir}/f`, `${dir}/l`);
    assert.equal(readSmallFile(`${dir}/l`, 100, true), "it is a symlink");
    const read = readSmallFile(`${dir}/l`, 100);
    assert.equal(typeof read === "string" ? read : read.text, "42\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret file is read only when neither group nor others may read it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owned-" });
  try {
    await Deno.writeTextFile(`${dir}/k`, "s3cret\n", { mode: 0o600 });
    await Deno.chmod(`${dir}/k`, 0o600);
    const read = readSecretFile(`${dir}/k`, 100);
    assert.equal(typeof read === "string" || "openTo" in read ? read : read.text, "s3cret\n");
    for (const mode of [0o640, 0o604]) {
      await Deno.chmod(`${dir}/k`, mode);
      assert.deepEqual(readSecretFile(`${dir}/k`, 100), { openTo: mode });
    }
    // Root's own file too: the mode alone refuses it.
    assert.deepEqual(readSecretFile(`${dir}/k`, 100), { openTo: 0o604 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret file another user owns is refused whatever its mode (its owner may read it), but for root the sudo user's is taken", async () => {
  const { secretRefusal } = await import("../../src/os/owned_file.ts");
  assert.equal(Deno.uid(), 0, "run as root: it chowns a file to another user");
  const dir = await Deno.makeTempDir({ prefix: "vde-owned-" });
  const sudo = Deno.env.get("SUDO_UID");
  try {
    Deno.env.delete("SUDO_UID");
    await Deno.writeTextFile(`${dir}/k`, "s3cret\n");
    await Deno.chmod(`${dir}/k`, 0o600);
    await Deno.chown(`${dir}/k`, 65534, 65534);
    const refused = readSecretFile(`${dir}/k`, 100);
    assert.deepEqual(refused, { openTo: 0o600, owner: 65534 });
    assert.match(
      secretRefusal(`${dir}/k`, refused as { openTo: number }),
      /k belongs to (nobody|65534), who may read it/,
    );
    Deno.env.set("SUDO_UID", "65534");
    const read = readSecretFile(`${dir}/k`, 100);
    assert.equal(typeof read === "string" || "openTo" in read ? read : read.text, "s3cret\n");
  } finally {
    if (sudo === undefined) Deno.env.delete("SUDO_UID");
    else Deno.env.set("SUDO_UID", sudo);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a secret file named through another user's symlink is refused (root's 0600 file at its end, an ssh key's known first line, taken as a token), through our own symlink read", async () => {
  const { secretRefusal } = await import("../../src/os/owned_file.ts");
  await asRootWithoutSudo("vde-owned-", async (dir) => {
    await Deno.writeTextFile(`${dir}/id_ed25519`, "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    await Deno.chmod(`${dir}/id_ed25519`, 0o600);
    // Theirs, as a user's symlink in /tmp where root's --http-token names a file: the link's owner.
    await Deno.symlink(`${dir}/id_ed25519`, `${dir}/theirs`);
    giveToNobody(`${dir}/theirs`);
    const refused = readSecretFile(`${dir}/theirs`, 100);
    assert.deepEqual(refused, { openTo: 0o777, owner: 65534, link: true });
    assert.match(
      secretRefusal(`${dir}/theirs`, refused as { openTo: number }),
      /theirs is, or leads through, a symbolic link of (nobody|65534)'s, not followed/,
    );
    // Ours, to it by a relative target, and ours to theirs: the first followed, the second refused at theirs.
    await Deno.symlink("id_ed25519", `${dir}/ours`);
    const read = readSecretFile(`${dir}/ours`, 100);
    assert.equal(
      typeof read === "string" || "openTo" in read ? read : read.text,
      "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    );
    await Deno.symlink(`${dir}/theirs`, `${dir}/ours2`);
    assert.deepEqual(readSecretFile(`${dir}/ours2`, 100), { openTo: 0o777, owner: 65534, link: true });
  });
});

Deno.test("a file opened inside a directory is refused when the kernel names it outside, as through a swapped-in link", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-owned-" });
  try {
    await Deno.mkdir(`${dir}/root`);
    await Deno.writeTextFile(`${dir}/root/in`, "in");
    await Deno.writeTextFile(`${dir}/out`, "out");
    await Deno.symlink(`${dir}`, `${dir}/root/up`);
    const root = Deno.realPathSync(`${dir}/root`);
    const inside = openRegularFile(`${root}/in`, { inside: root });
    assert.notEqual(typeof inside, "string");
    if (typeof inside !== "string") inside.close();
    // A directory component that is a link out of the root: only the kernel's name for the file tells.
    assert.equal(openRegularFile(`${root}/up/out`, { inside: root }), `it lies outside ${root}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
