/**
 * An output file (`--logfile`, `--pcap`, `vde capture -w`) is opened so that
 * a name another user made first (in /tmp, where root's examples put them)
 * cannot lead the writes elsewhere: no symlink is followed, no file or pipe
 * of another user's is written, no hard-linked file, no FIFO blocks a log.
 */
import assert from "node:assert/strict";
import { openOutputFile, OutputFileRefused } from "../../src/os/output_file.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { inTempDir } from "../helpers/temp_dir.ts";

/** Asserts `fn` is refused as OutputFileRefused, its message matching `why`. */
function refused(fn: () => unknown, why = /./): void {
  assert.throws(fn, (e: unknown) => e instanceof OutputFileRefused && why.test(e.message));
}

function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  return inTempDir("vde-output-file-", fn);
}

/** Makes `link` -> `target` as another user's (nobody's) symlink. */
async function theirLink(target: string, link: string): Promise<void> {
  await Deno.symlink(target, link);
  await new Deno.Command("chown", { args: ["-h", "65534:65534", link] }).output();
}

Deno.test("an output file that is another user's symlink is refused, and the file it points at is neither emptied nor written", async (t) => {
  if (skipUnlessRoot(t)) return; // a symlink of another user's is made by chown -h
  await inTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/precious`, "precious\n");
    await theirLink(`${dir}/precious`, `${dir}/x.pcap`);
    for (const o of [{ truncate: true }, { append: true }, { pipes: true }]) {
      refused(() => openOutputFile(`${dir}/x.pcap`, o), /symbolic link of nobody's/);
    }
    // A dangling one is not made through either (O_CREAT would create its target).
    await theirLink(`${dir}/made`, `${dir}/y.log`);
    refused(() => openOutputFile(`${dir}/y.log`, { append: true }));
    assert.equal(await Deno.readTextFile(`${dir}/precious`), "precious\n");
    await assert.rejects(Deno.stat(`${dir}/made`), Deno.errors.NotFound);
  });
});

Deno.test("an output file behind a directory that is another user's symlink is refused, and the file there is neither emptied nor made", async (t) => {
  if (skipUnlessRoot(t)) return; // a symlink of another user's is made by chown -h
  await inTemp(async (dir) => {
    await Deno.mkdir(`${dir}/roots`);
    await Deno.writeTextFile(`${dir}/roots/precious`, "precious\n");
    await theirLink(`${dir}/roots`, `${dir}/theirs`);
    refused(
      () => openOutputFile(`${dir}/theirs/precious`, { truncate: true }),
      /theirs on its way is a symbolic link of nobody's/,
    );
    refused(() => openOutputFile(`${dir}/theirs/new.pcap`, { truncate: true }));
    assert.equal(await Deno.readTextFile(`${dir}/roots/precious`), "precious\n");
    await assert.rejects(Deno.stat(`${dir}/roots/new.pcap`), Deno.errors.NotFound);
    // Our own directory link, relative, is followed.
    await Deno.symlink("roots", `${dir}/ours`);
    openOutputFile(`${dir}/ours/mine.log`, { append: true }).close();
    assert.ok((await Deno.stat(`${dir}/roots/mine.log`)).isFile);
  });
});

Deno.test("a symlink of our own (an admin's log name pointing elsewhere) is followed, relative or not, to a file judged as any", () =>
  inTemp(async (dir) => {
    await Deno.mkdir(`${dir}/logs`);
    await Deno.symlink("logs/real.log", `${dir}/vde.log`);
    await Deno.symlink(`${dir}/vde.log`, `${dir}/again.log`);
    for (const name of ["vde.log", "again.log"]) {
      const f = openOutputFile(`${dir}/${name}`, { append: true });
      f.writeSync(new TextEncoder().encode(`${name}\n`));
      f.close();
    }
    assert.equal(await Deno.readTextFile(`${dir}/logs/real.log`), "vde.log\nagain.log\n");
    // A bare name: its link counts from the current directory.
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      openOutputFile("vde.log", { truncate: true }).close();
    } finally {
      Deno.chdir(cwd);
    }
    assert.equal(await Deno.readTextFile(`${dir}/logs/real.log`), "");
    await Deno.symlink("loop", `${dir}/loop`);
    assert.throws(() => openOutputFile(`${dir}/loop`, {}));
  }));

Deno.test("an output file of another user's, or a pipe of theirs, is refused naming its owner", async (t) => {
  if (skipUnlessRoot(t)) return;
  await inTemp(async (dir) => {
    await Deno.writeTextFile(`${dir}/x.log`, "theirs\n");
    await Deno.chown(`${dir}/x.log`, 65534, 65534);
    refused(() => openOutputFile(`${dir}/x.log`, { append: true }), /belongs to nobody/);
    await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
    await Deno.chown(`${dir}/pipe`, 65534, 65534);
    refused(() => openOutputFile(`${dir}/pipe`, { pipes: true }), /belongs to nobody/);
    assert.equal(await Deno.readTextFile(`${dir}/x.log`), "theirs\n");
  });
});

Deno.test("a FIFO is refused as a log at once (no blocking open), and a hard-linked file is refused", () =>
  inTemp(async (dir) => {
    await new Deno.Command("mkfifo", { args: [`${dir}/pipe`] }).output();
    refused(() => openOutputFile(`${dir}/pipe`, { append: true }), /not a regular file/);
    await Deno.writeTextFile(`${dir}/a`, "a\n");
    await Deno.link(`${dir}/a`, `${dir}/b`);
    refused(() => openOutputFile(`${dir}/b`, { truncate: true }), /2 names/);
    assert.equal(await Deno.readTextFile(`${dir}/a`), "a\n");
  }));

Deno.test("a directory named as an output file (out/, out, .) is refused as no regular file, not as a directory swapped", () =>
  inTemp(async (dir) => {
    await Deno.mkdir(`${dir}/out`);
    for (const path of [`${dir}/out/`, `${dir}/out`, `${dir}/out/.`]) {
      refused(() => openOutputFile(path, { truncate: true }), /^it is not a regular file/);
    }
  }));

Deno.test("an output file of ours is made with its mode, appended to or emptied as asked; /dev/null takes a capture", () =>
  inTemp(async (dir) => {
    const made = openOutputFile(`${dir}/x.log`, { append: true, mode: 0o600 });
    made.writeSync(new TextEncoder().encode("one\n"));
    made.close();
    assert.equal((await Deno.stat(`${dir}/x.log`)).mode! & 0o777, 0o600);
    const again = openOutputFile(`${dir}/x.log`, { append: true });
    again.writeSync(new TextEncoder().encode("two\n"));
    again.close();
    assert.equal(await Deno.readTextFile(`${dir}/x.log`), "one\ntwo\n");
    openOutputFile(`${dir}/x.log`, { truncate: true }).close();
    assert.equal(await Deno.readTextFile(`${dir}/x.log`), "");
    openOutputFile("/dev/null", { pipes: true }).close();
    refused(() => openOutputFile("/dev/null", {}));
  }));

Deno.test("an output file in a directory that does not exist or may not be written fails as Deno's own open does; made once it does", () =>
  inTemp(async (dir) => {
    assert.throws(() => openOutputFile(`${dir}/no/x.log`, { append: true }), Deno.errors.NotFound);
    await Deno.mkdir(`${dir}/no`);
    openOutputFile(`${dir}/no/x.log`, { append: true }).close();
  }));

Deno.test("/dev/stdout, /dev/fd/1 and /proc/self/fd/1 write to a pipe that is stdout (capture -w /dev/stdout | tshark -r -)", async () => {
  const module = new URL("../../src/os/output_file.ts", import.meta.url).href;
  for (const name of ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]) {
    const code = `import { openOutputFile } from "${module}";
      const f = openOutputFile("${name}", { truncate: true, pipes: true });
      f.writeSync(new TextEncoder().encode("frames"));
      f.close();`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(
      new TextDecoder().decode(out.stdout),
      "frames",
      `${name}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
});
