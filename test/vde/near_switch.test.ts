/** A switch path a letter off a serving switch's directory is answered with that directory. */
import assert from "node:assert/strict";
import { nearSwitchClause, nearSwitchDirs } from "../../src/vde/near_switch.ts";

/** A directory with switches `net` and `nett` (a `ctl` socket each) and `nut`, a directory that is no switch. */
async function withSwitchDirs(fn: (dir: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-near-" });
  const ctls: Deno.Listener[] = [];
  try {
    for (const sw of ["net", "nett"]) {
      await Deno.mkdir(`${dir}/${sw}`);
      ctls.push(Deno.listen({ transport: "unix", path: `${dir}/${sw}/ctl` }));
    }
    await Deno.mkdir(`${dir}/nut`);
    fn(dir);
  } finally {
    for (const l of ctls) l.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a missing switch path a letter off a switch beside it names that switch, the nearest only", async () => {
  await withSwitchDirs((dir) => {
    assert.deepEqual(nearSwitchDirs(`${dir}/nte`), [`${dir}/net`], "a swap is one edit; nett is two");
    assert.deepEqual(nearSwitchDirs(`${dir}/ne/`), [`${dir}/net`], "a trailing slash");
    assert.deepEqual(nearSwitchDirs(`${dir}/netx`), [`${dir}/net`, `${dir}/nett`], "both one edit off");
    assert.equal(nearSwitchClause(`${dir}/nte`), ` (did you mean ${dir}/net?)`);
    assert.deepEqual(nearSwitchDirs(`${dir}/nux`), [], "nut has no ctl socket: no switch");
    assert.deepEqual(nearSwitchDirs(`${dir}/elsewhere`), [], "nothing near");
    assert.equal(nearSwitchClause(`${dir}/elsewhere`), "");
    assert.deepEqual(
      nearSwitchDirs(`${dir}/missing/net`),
      [],
      "an unreadable or missing parent gives no hint",
    );
  });
});
