/**
 * `vde up` as a user other than root, as a student would run it (a user
 * made for the test): their lab lives in their runtime directory, closed
 * to everyone else, so a switch's `group` would share it with no one. It
 * is refused in one line at its FILE:LINE:COL (then the count of errors,
 * as every error in a lab file), before anything is made;
 * the file without it comes up.
 */
import assert from "node:assert/strict";
import { hasCommand, hasRoot, skipUnless } from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";

async function capability(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  for (const cmd of ["useradd", "userdel", "setpriv"]) {
    if (!(await hasCommand(cmd))) return `${cmd} is not installed`;
  }
  return null;
}

Deno.test("vde up as a user other than root refuses a switch's group in one FILE:LINE:COL line and makes nothing; without it the lab comes up", async (t) => {
  if (skipUnless(t, await capability())) return;
  await withStudent([], async (s) => {
    const lab = (group: string) =>
      `name: shared\ntopology:\n  nodes:\n    sw1: { kind: switch, mode: 600${group} }\n`;
    await Deno.writeTextFile(`${s.tmp}/home/lab.yaml`, lab(", group: users"));
    const closed =
      "a lab of a user other than root is theirs alone (its runtime directory is closed to others";
    for (
      const [flags, why] of [[[], ""], [["--rootless"], ", and its user namespace maps no group"]] as const
    ) {
      const refused = await s.as(["vde", "up", "-d", ...flags, "lab.yaml"]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.equal(
        refused.stderr,
        `lab.yaml:4:44: sw1: group users: ${closed}${why}): drop \`group\`, or run vde up as root ` +
          "(vde switch --sock DIR --mode 660 --group G shares a switch of yours, which vde plug joins to the lab)" +
          "\nvde: 1 error in lab.yaml; nothing was created\n",
      );
      assert.equal(refused.stdout, "");
    }
    const runtime = `${s.tmp}/xdg/vde`;
    const made = await Deno.stat(`${runtime}/shared`).then(() => true, () => false);
    assert.equal(made, false, "no lab directory was made");

    await Deno.writeTextFile(`${s.tmp}/home/lab.yaml`, lab(""));
    const up = await s.as(["vde", "up", "-d", "lab.yaml"], 120_000);
    assert.equal(up.code, 0, up.stderr);
    const down = await s.as(["vde", "down", "shared"]);
    assert.equal(down.code, 0, down.stderr);
    await s.noneLeft("the lab to end with vde down");
  });
});
