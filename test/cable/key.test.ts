/**
 * The key file of `vde cable keygen`: mode 0600 from its creation, whatever
 * the umask, and never changed by name afterwards (a name in a shared
 * directory can be swapped for a symlink between the create and a chmod).
 */
import assert from "node:assert/strict";
import { evalUnderUmask000 } from "../helpers/umask.ts";

const MODULE = new URL("../../src/cable/key.ts", import.meta.url).href;

Deno.test("generateKeyFile makes the key 0600 at its open under umask 000, with no chmod by name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-" });
  try {
    const key = `${dir}/lab.key`;
    await evalUnderUmask000(
      `import { generateKeyFile } from "${MODULE}";\n` +
        // Any chmod by name after the create would follow what the name holds by then.
        `Deno.chmod = () => { throw new Error("chmod by name"); };\n` +
        `await generateKeyFile(${JSON.stringify(key)});\n`,
    );
    assert.equal(Deno.lstatSync(key).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(key), /^[0-9a-f]{64}\n$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
