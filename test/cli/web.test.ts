/** `--http-token FILE`: the token is the file's first line, and a bad file is one clear error. */
import assert from "node:assert/strict";
import { readTokenFile } from "../../src/cli/web.ts";

Deno.test("--http-token: the first line is the token; a missing file or a short token is a clear error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-web-token-" });
  try {
    await Deno.writeTextFile(`${dir}/ok`, "  0123456789abcdef \nignored\n");
    assert.equal(await readTokenFile(`${dir}/ok`), "0123456789abcdef");
    await Deno.writeTextFile(`${dir}/short`, "abc\n");
    await assert.rejects(readTokenFile(`${dir}/short`), /8 characters or more/);
    await assert.rejects(readTokenFile(`${dir}/none`), /--http-token: cannot read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
