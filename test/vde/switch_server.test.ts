/**
 * Starting a switch on a directory another user owns (the default
 * /tmp/vde.ctl that another user's switch made its own) is refused in words
 * that name the owner and the way out, not as the kernel's bare "bind:
 * Permission denied". The other user is played as in plug_permission:
 * root without CAP_DAC_OVERRIDE, on a directory handed to nobody.
 */
import assert from "node:assert/strict";
import { AS_OTHER_USER, run, skipUnlessRoot } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("a switch on another user's directory says whose it is and to give --sock a directory of one's own", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-owner-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const dir = `${tmp}/sw`;
    await Deno.mkdir(dir, { mode: 0o2700 });
    await Deno.chmod(dir, 0o2700);
    await Deno.chown(dir, 65534, 65534);
    const r = await run([...AS_OTHER_USER, ...ourCli(), "switch", "-s", dir, "-d"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot serve ${dir}: permission denied (owner nobody, mode 2700; another user's switch?): ` +
        "give a directory of your own with --sock DIR\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
