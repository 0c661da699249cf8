/**
 * Root's `vde term` and `vde capture` open a socket they were named only
 * through a way of root's or the socket owner's alone (src/os/root_way.ts):
 * a directory a real second user may write without the sticky bit, or a
 * symlink of theirs, is refused in one line naming the step; the usual
 * places (root's own directory in /tmp, /run) are opened as before.
 */
import assert from "node:assert/strict";
import { run, RUN_PREFIX, RUN_STUDENT, skipUnlessRoot } from "../helpers/processes.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { ourCli, waitUntilSocketAccepts } from "../helpers/vde_clients.ts";
import { withStudent } from "../helpers/student.ts";

function vde(args: string[]) {
  return run([...ourCli(), ...args], { check: false, timeoutMs: 60_000 });
}

/** Our switch as root serving DIR in `sock` and its console at `mgmt`, for `fn`; stopped after. */
async function withSwitch(
  sock: string,
  mgmt: string,
  fn: (sw: SwitchHandle) => Promise<void>,
): Promise<void> {
  const sw = await startOurSwitch(sock, { extraArgs: ["-M", mgmt] });
  try {
    await waitUntilSocketAccepts(mgmt, 20_000);
    await fn(sw);
  } finally {
    await sw.stop();
  }
}

/** What `vde term PATH -c port/showinfo` prints first when it reaches the switch. */
const REACHED = /^Numports=32\n/;

Deno.test("root refuses vde term of a management socket in a directory a member of its group may write without the sticky bit, and opens it once the directory is sticky or the group's write is taken", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async () => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-group-` });
    try {
      await Deno.chmod(tmp, 0o755);
      const shared = `${tmp}/shared`;
      await Deno.mkdir(shared);
      // Root's directory, its group the student's (a member who may write it): /some/dir of a team.
      await run(["chgrp", RUN_STUDENT, shared]);
      await Deno.chmod(shared, 0o775);
      const mgmt = `${shared}/sw.mgmt`;
      await withSwitch(`${tmp}/sw`, mgmt, async () => {
        const refused = await vde(["term", mgmt, "-c", "port/showinfo"]);
        assert.equal(refused.code, 1, refused.stdout);
        assert.equal(refused.stdout, "");
        assert.equal(
          refused.stderr,
          `vde: cannot open the management socket ${mgmt}: ${mgmt} is reached through ${shared}, a directory ` +
            `group ${RUN_STUDENT} may write (mode 0775): root does not open a management socket another user ` +
            `may have put at its name (chmod g-w ${shared} (or +t), or give a path through directories of ` +
            "yours or root's alone); not connected\n",
        );
        for (const mode of [0o1775, 0o755]) {
          await Deno.chmod(shared, mode);
          const opened = await vde(["term", mgmt, "-c", "port/showinfo"]);
          assert.equal(opened.code, 0, opened.stderr);
          assert.match(opened.stdout, REACHED);
        }
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }, { bundle: false });
});

Deno.test("root refuses vde term and vde capture through a symlink of another user's, and follows one of its own to the same switch", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async ({ uid }) => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-link-` });
    try {
      await Deno.chmod(tmp, 0o755);
      const sock = `${tmp}/sw`;
      const mgmt = `${tmp}/sw.mgmt`;
      await withSwitch(sock, mgmt, async () => {
        // The student's links to root's own switch: where they lead is theirs to change at any moment.
        for (const [link, to] of [["mgmt-link", mgmt], ["sw-link", sock]]) {
          await Deno.symlink(to!, `${tmp}/${link}`);
          await run(["chown", "-h", `${uid}:${uid}`, `${tmp}/${link}`]);
        }
        const advice = "(give a path through directories of yours or root's alone); not connected";
        const term = await vde(["term", `${tmp}/mgmt-link`, "-c", "port/showinfo"]);
        assert.equal(term.code, 1, term.stdout);
        assert.equal(
          term.stderr,
          `vde: cannot open the management socket ${tmp}/mgmt-link: ${tmp}/mgmt-link is reached through ` +
            `${tmp}/mgmt-link, a symbolic link of ${RUN_STUDENT}'s: root does not open a management socket ` +
            `another user may have put at its name ${advice}\n`,
        );
        const capture = await vde(["capture", `${tmp}/sw-link`, "-c", "1", "-w", `${tmp}/out.pcap`]);
        assert.equal(capture.code, 1, capture.stdout);
        assert.equal(
          capture.stderr,
          `vde: cannot reach the switch's capture socket ${tmp}/sw-link/capture: ${tmp}/sw-link/capture is ` +
            `reached through ${tmp}/sw-link, a symbolic link of ${RUN_STUDENT}'s: root does not read frames ` +
            `from a capture socket another user may have put at its name ${advice}\n`,
        );
        // Nothing was written for a capture refused.
        assert.equal(await Deno.stat(`${tmp}/out.pcap`).then(() => true, () => false), false);
        // A link of root's own to the very same console is followed.
        await Deno.symlink(mgmt, `${tmp}/roots-link`);
        const opened = await vde(["term", `${tmp}/roots-link`, "-c", "port/showinfo"]);
        assert.equal(opened.code, 0, opened.stderr);
        assert.match(opened.stdout, REACHED);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }, { bundle: false });
});

Deno.test("root's vde term opens a console of its own in /run as before", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = `/run/${RUN_PREFIX}sec8`;
  await Deno.mkdir(dir, { mode: 0o755 });
  try {
    const mgmt = `${dir}/sw.mgmt`;
    await withSwitch(`${dir}/sw`, mgmt, async () => {
      for (const path of [mgmt, `${dir}/sw`]) {
        const opened = await vde(["term", path, "-c", "port/showinfo"]);
        assert.equal(opened.code, 0, opened.stderr);
        assert.match(opened.stdout, REACHED);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a user who is not root opens a console through a directory others may write as before: only root's ways are judged", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (student) => {
    const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-user-` });
    try {
      await Deno.chmod(tmp, 0o755);
      const shared = `${tmp}/shared`;
      await Deno.mkdir(shared);
      // A way root refuses (anyone may put a socket at its names), but the student may reach only what
      // others already let them: their `vde term` connects as it did before root's ways were judged.
      await Deno.chmod(shared, 0o777);
      const mgmt = `${shared}/sw.mgmt`;
      const sw = await startOurSwitch(`${tmp}/sw`, { extraArgs: ["-M", mgmt, "--mgmtmode", "666"] });
      try {
        await waitUntilSocketAccepts(mgmt, 20_000);
        const refused = await vde(["term", mgmt, "-c", "port/showinfo"]);
        assert.equal(refused.code, 1, refused.stdout);
        assert.match(refused.stderr, /a directory anyone may write \(mode 0777\): root does not open/);
        const opened = await student.as(["vde", "term", mgmt, "-c", "port/showinfo"], 60_000);
        assert.equal(opened.code, 0, opened.stderr);
        assert.match(opened.stdout, REACHED);
      } finally {
        await sw.stop();
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
});

Deno.test("root's vde term of a name through a file or a symlink loop says so in the errno's words, not 'no such socket'", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-errno-` });
  try {
    await Deno.writeTextFile(`${tmp}/file`, "");
    await Deno.symlink(`${tmp}/loop`, `${tmp}/loop`);
    for (
      const [path, words] of [[`${tmp}/file/mgmt`, "not a directory"], [
        `${tmp}/loop/mgmt`,
        "too many levels of symbolic links",
      ]]
    ) {
      const r = await vde(["term", path!, "-c", "port/showinfo"]);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.stderr, `vde: cannot open the management socket ${path}: ${words}: ${path}\n`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("root's vde term opens another user's console at a name in a sticky directory, as vde2's vdeterm would: the way is judged, not whose socket ends it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (student) => {
    // A /tmp of the test's own: root's, anyone may make a name in it, only its maker remove it.
    const sticky = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}sec8-sticky-` });
    try {
      await Deno.chmod(sticky, 0o1777);
      const mgmt = `${sticky}/sw.mgmt`;
      // No switch of root's has the name: the student's (Debian's vde_switch, its console theirs alone) takes it.
      const started = await student.as([
        "vde_switch",
        "-s",
        `${sticky}/theirs`,
        "-M",
        mgmt,
        "--mgmtmode",
        "600",
        "-d",
        "-p",
        `${student.tmp}/home/sw.pid`,
      ]);
      assert.equal(started.code, 0, started.stderr);
      await waitUntilSocketAccepts(mgmt, 20_000);
      assert.equal((await Deno.stat(mgmt)).uid, student.uid);
      const opened = await vde(["term", mgmt, "-c", "port/showinfo"]);
      assert.equal(opened.code, 0, opened.stderr);
      assert.match(opened.stdout, REACHED);
      Deno.kill(Number((await Deno.readTextFile(`${student.tmp}/home/sw.pid`)).trim()), "SIGTERM");
      await student.noneLeft("the student's vde_switch, signalled");
    } finally {
      await Deno.remove(sticky, { recursive: true });
    }
  }, { bundle: false });
});
