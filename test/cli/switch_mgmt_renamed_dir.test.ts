/**
 * A root switch given `--mgmt DIR/NAME` (its console socket in its own
 * directory) whose directory another user renames away and replaces with
 * theirs: the console socket is removed, as ctl is, in the directory it
 * was made in, and nothing of theirs at NAME is touched at its stop.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, run, skipUnlessRoot } from "../helpers/processes.ts";
import { renamedDirScene } from "../helpers/renamed_dir.ts";
import { startOurSwitch } from "../helpers/switches.ts";

Deno.test("a root switch's --mgmt socket named inside its directory is removed in that directory once it was renamed away, not in nobody's put at its name", async (t) => {
  if (skipUnlessRoot(t)) return;
  const { tmp, dir, away, target } = await renamedDirScene("vde-mgmt-renamed-");
  const sw = await startOurSwitch(dir, { extraArgs: ["--mgmt", `${dir}/console`] });
  try {
    assert.ok(Deno.lstatSync(`${dir}/console`).isSocket, "the console socket is made in DIR");
    await run([
      ...AS_NOBODY,
      "sh",
      "-c",
      `set -e; mv '${dir}' '${away}'; mkdir '${dir}'; ln -s '${target}/console' '${dir}/console'`,
    ]);
    await sw.stop();
    assert.equal(
      Deno.readLinkSync(`${dir}/console`),
      `${target}/console`,
      "nobody's link at the console's name is left",
    );
    assert.throws(
      () => Deno.lstatSync(`${away}/console`),
      Deno.errors.NotFound,
      "the console socket is removed",
    );
  } finally {
    await sw.stop().catch(() => {});
    await Deno.remove(tmp, { recursive: true });
  }
});
