/** `--http-token FILE`: the token is the file's first line, and a bad file is one clear error. */
import assert from "node:assert/strict";
import { readTokenFile } from "../../src/cli/web.ts";

Deno.test("--http-token: the first line is the token; a missing file or a short token is a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    await Deno.writeTextFile(`${dir}/ok`, "  0123456789abcdef \nignored\n", { mode: 0o600 });
    assert.equal(await readTokenFile(`${dir}/ok`), "0123456789abcdef");
    await Deno.writeTextFile(`${dir}/short`, "abc\n", { mode: 0o600 });
    await assert.rejects(readTokenFile(`${dir}/short`), /8 characters or more/);
    await assert.rejects(readTokenFile(`${dir}/none`), /--http-token: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--http-token: a token file others may read, a FIFO or a link to /dev/zero is refused at once, not waited on or read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    await Deno.writeTextFile(`${dir}/open`, "0123456789abcdef\n");
    await Deno.chmod(`${dir}/open`, 0o644);
    await assert.rejects(
      readTokenFile(`${dir}/open`),
      /--http-token: \S+\/open is readable by group or others \(mode 0644\): chmod 600 /,
    );
    await new Deno.Command("mkfifo", { args: ["-m", "600", `${dir}/fifo`] }).output();
    await assert.rejects(readTokenFile(`${dir}/fifo`), /is not a regular file/);
    await Deno.symlink("/dev/zero", `${dir}/zero`);
    await assert.rejects(readTokenFile(`${dir}/zero`), /is not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
