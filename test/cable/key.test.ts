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

/** What loadKey throws for `path`, as its one line. */
async function refusal(path: string): Promise<string> {
  const { loadKey } = await import(MODULE);
  try {
    await loadKey(path);
  } catch (err) {
    return (err as Error).message;
  }
  return "loaded";
}

Deno.test("a key file that is a device is refused in one line, not read without end", async () => {
  assert.equal(
    await refusal("/dev/zero"),
    "cannot read key file /dev/zero: it is a character device, not a regular file",
  );
});

Deno.test("a key file that is a FIFO nobody writes is refused at once, not waited on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-" });
  try {
    const fifo = `${dir}/lab.key`;
    const made = await new Deno.Command("mkfifo", { args: ["-m", "600", fifo] }).output();
    assert.ok(made.success);
    assert.equal(await refusal(fifo), `cannot read key file ${fifo}: it is a named pipe, not a regular file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a key file far longer than a key is refused, naming the bound, not read whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-key-" });
  try {
    const big = `${dir}/lab.key`;
    Deno.writeTextFileSync(big, "0".repeat(64) + " ".repeat(8192), { mode: 0o600 });
    assert.equal(await refusal(big), `cannot read key file ${big}: longer than 4096 bytes`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
