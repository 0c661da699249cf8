/** `--http-token FILE`: the token is the file's first line, and a bad file is one clear error. */
import assert from "node:assert/strict";
import { readTokenFile } from "../../src/cli/web.ts";

Deno.test("--http-token: the first line is the token; a missing file or a short token is a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    await Deno.writeTextFile(`${dir}/ok`, "  0123456789abcdef \nignored\n", { mode: 0o600 });
    assert.equal(readTokenFile(`${dir}/ok`), "0123456789abcdef");
    await Deno.writeTextFile(`${dir}/short`, "abc\n", { mode: 0o600 });
    assert.throws(() => readTokenFile(`${dir}/short`), /8 characters or more/);
    assert.throws(() => readTokenFile(`${dir}/none`), /--http-token: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--http-token: a device or a FIFO is refused in one line, not read without end or waited on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    assert.ok((await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output()).success);
    assert.throws(
      () => readTokenFile(`${dir}/fifo`),
      { message: `--http-token: cannot read ${dir}/fifo: it is a named pipe, not a regular file` },
    );
    assert.throws(
      () => readTokenFile("/dev/zero"),
      { message: "--http-token: cannot read /dev/zero: it is a character device, not a regular file" },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--http-token: a token file others may read, or a link to /dev/zero, is refused at once, not read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    await Deno.writeTextFile(`${dir}/open`, "0123456789abcdef\n");
    await Deno.chmod(`${dir}/open`, 0o644);
    assert.throws(
      () => readTokenFile(`${dir}/open`),
      /--http-token: \S+\/open is readable by group or others \(mode 0644\): chmod 600 /,
    );
    await Deno.symlink("/dev/zero", `${dir}/zero`);
    assert.throws(() => readTokenFile(`${dir}/zero`), /it is a character device, not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
