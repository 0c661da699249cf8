/** The pid file a program writes is never writable by others, even under umask 000. */
import assert from "node:assert/strict";
import { evalUnderUmask000 } from "../helpers/umask.ts";

Deno.test("a pid file written under umask 000 is mode 644, not one anyone could point at another process", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-pidfile-mode-" });
  try {
    const program = new URL("../../src/cli/program.ts", import.meta.url).href;
    await evalUnderUmask000(`import { writePidfile } from "${program}"; writePidfile("${tmp}/sw.pid");`);
    assert.equal((await Deno.stat(`${tmp}/sw.pid`)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
