/**
 * `vde up` as a user other than root, as a student would run it (a user
 * made for the test): their lab lives in their runtime directory, closed
 * to everyone else, so a switch's `group` would share it with no one. It
 * is refused in one line at its FILE:LINE:COL (then the count of errors,
 * as every error in a lab file), before anything is made;
 * the file without it comes up, and the lab's shell (`add`, `apply FILE`)
 * refuses a group as `vde up` does. Another user naming its switch by path
 * is told the runtime directory is there but closed to them, whose it is.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, hasCommand, hasRoot, run, RUN_STUDENT, skipUnless } from "../helpers/processes.ts";
import { withStudent } from "../helpers/student.ts";

/** `text` matched literally in a RegExp. */
const escape = (text: string) => text.replace(/[()]/g, "\\$&");

async function capability(): Promise<string | null> {
  const root = hasRoot();
  if (root !== null) return root;
  for (const cmd of ["useradd", "userdel", "setpriv"]) {
    if (!(await hasCommand(cmd))) return `${cmd} is not installed`;
  }
  return null;
}

Deno.test("vde up as a user other than root refuses a switch's group in one FILE:LINE:COL line and makes nothing; without it the lab comes up, its shell's add and apply refuse a group as vde up does, and another user's vde capture and vde term of its path are told whose closed directory refuses them", async (t) => {
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
    // Live too, with a group of the user's own (which chown would take): the lab shell's `add` and
    // `apply FILE` refuse it as vde up does, before anything changes.
    const own = (await s.as(["id", "-gn"])).stdout.trim();
    const add = await s.as(["vde", "term", "shared", "-c", `add switch sw2 group ${own}`]);
    assert.equal(add.code, 1);
    assert.match(
      add.stderr,
      new RegExp(`^vde: add switch sw2 group ${own}: sw2: group ${own}: ${escape(closed)}\\)`),
    );
    await Deno.writeTextFile(`${s.tmp}/home/more.yaml`, lab(`, group: ${own}`).replace("sw1", "sw3"));
    const apply = await s.as(["vde", "term", "shared", "-c", "apply more.yaml"]);
    assert.equal(apply.code, 1);
    assert.match(
      apply.stderr,
      new RegExp(`^vde: apply more.yaml: \\S+/more.yaml:4:44: sw3: group ${own}: ${escape(closed)}\\)`),
    );
    const status = await s.as(["vde", "status", "shared"]);
    assert.match(status.stdout, /\nsw1 +switch/, "the lab runs on as it was");
    assert.doesNotMatch(status.stdout, /sw2|sw3/);
    // Another student (nobody, running the same vde) naming the lab's switch by its path: it is there, only
    // behind the student's runtime directory (700), which is said as `ls -ld` would, not "no such switch".
    const dd = `${s.tmp}/nobody-deno`;
    await Deno.mkdir(dd);
    await run(["chown", "65534:65534", dd]);
    const other = (args: string[]) =>
      run([
        ...AS_NOBODY,
        "env",
        "-i",
        `HOME=${dd}`,
        `DENO_DIR=${dd}`,
        `PATH=${s.tmp}/bin:/usr/bin:/bin`,
        "vde",
        ...args,
      ], {
        check: false,
        timeoutMs: 60_000,
        cwd: dd,
      });
    const closedTo = `${s.tmp}/xdg \\(owner ${RUN_STUDENT}, mode 700\\) does not let you through to it`;
    const capture = await other(["capture", `${runtime}/shared/sw1`, "-c", "1", "-w", `${dd}/out.pcap`]);
    assert.equal(capture.code, 1, capture.stdout);
    assert.match(
      capture.stderr,
      new RegExp(
        `^vde: permission denied on ${runtime}/shared/sw1: ${closedTo}; run vde capture as its owner \\(or root\\)\n$`,
      ),
    );
    for (const path of [`${runtime}/shared/sw1`, `${runtime}/shared/ctl`]) {
      const term = await other(["term", path, "-c", "help"]);
      assert.equal(term.code, 1, term.stdout);
      assert.match(
        term.stderr,
        new RegExp(
          `^vde: cannot open the management socket ${path}: permission denied: ${closedTo}; run vde term as its owner \\(or root\\)\n$`,
        ),
      );
    }
    const down = await s.as(["vde", "down", "shared"]);
    assert.equal(down.code, 0, down.stderr);
    await s.noneLeft("the lab to end with vde down");
  });
});
