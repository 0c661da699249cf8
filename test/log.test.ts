/** The log file a program appends to is never writable by others, even under umask 000. */
import assert from "node:assert/strict";
import { evalUnderUmask000 } from "./helpers/umask.ts";

Deno.test("a log file made under umask 000 is mode 644, so no other user can add lines to it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-mode-" });
  try {
    const log = new URL("../src/log.ts", import.meta.url).href;
    await evalUnderUmask000(
      `import { log, setLogFile } from "${log}"; setLogFile("${tmp}/sw.log"); log("vde switch", "up");`,
    );
    assert.equal((await Deno.stat(`${tmp}/sw.log`)).mode! & 0o777, 0o644);
    assert.match(await Deno.readTextFile(`${tmp}/sw.log`), /vde switch: up\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
