/**
 * A user made for a test, removed after it: no root, a home and a runtime
 * directory of their own, and the bundle (scripts/bundle.ts) as their `vde`
 * command, so they run vde as a student on a shared machine would
 * (rootless.test.ts, lab_users_own.test.ts).
 *
 * The user is the run's (`vderl<id>`, processes.ts) and their directory is
 * named for the run (`vdet<id>x...`), so a run that does not get to its
 * `finally` leaves nothing either: a SIGTERM (a CI timeout) runs the same
 * removal from a signal listener while the user exists; a SIGINT under
 * `deno test` (whose runner exits without calling listeners) or a SIGKILL
 * leaves it to the run's reaper, and the next run's sweep (netns.ts) removes
 * what a run over left, reaper and all killed.
 */
import assert from "node:assert/strict";
import { registerCleanup, run, RUN_PREFIX, RUN_STUDENT, waitFor } from "./processes.ts";
import { removeUser, sweepStale } from "./netns.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** A user of the test's own, a directory (mode 755) with the bundle and their home; both removed after. */
export interface Student {
  uid: number;
  tmp: string;
  /** Runs `cmd` as the user, with only a login's environment and `vde` on the PATH. */
  as(cmd: string[], timeoutMs?: number): ReturnType<typeof run>;
  /** The command line that runs `cmd` so (for a process the test signals itself). */
  argv(cmd: string[]): string[];
  /** Waits until no process of the user's runs (`what` names what should have ended them). */
  noneLeft(what: string): Promise<void>;
}

/**
 * Runs `fn` with a new user (the commands of `prefix` before theirs); removes the user and what they left
 * after. Without `bundle` they have no `vde` of their own (a test that has them run only Debian's tools or
 * a shell), and the minutes of its build are spared.
 */
export async function withStudent(
  prefix: string[],
  fn: (s: Student) => Promise<void>,
  { bundle = true }: { bundle?: boolean } = {},
): Promise<void> {
  const name = RUN_STUDENT;
  // Users (and their directories) of runs killed before their cleanup, reaper and all.
  await sweepStale();
  let tmp = "";
  // Whatever of the user's is left (a failed assertion before `vde down`), then the user and the directory.
  const remove = async () => {
    await removeUser(name);
    if (tmp !== "") await Deno.remove(tmp, { recursive: true }).catch(() => {});
  };
  // Before useradd: a signal between the two leaves no user. The removal of one never made says so only.
  const unregister = registerCleanup(remove);
  // The user first: a useradd refused (the name taken) leaves no directory.
  const added = await run(["useradd", "--no-create-home", "--user-group", name], { check: false });
  if (added.code !== 0) unregister();
  assert.equal(added.code, 0, `useradd ${name}: ${added.stderr.trim()}`);
  const uid = Number((await run(["id", "-u", name])).stdout.trim());
  const noneLeft = (what: string) =>
    waitFor(async () => (await run(["pgrep", "-u", String(uid)], { check: false })).stdout === "", {
      timeoutMs: 15_000,
      what,
    }).then(() => {});
  try {
    tmp = await Deno.makeTempDir({ prefix: `${RUN_PREFIX}student-` });
    await Deno.chmod(tmp, 0o755);
    if (bundle) {
      const built = await run([Deno.execPath(), "run", "-A", `${ROOT}scripts/bundle.ts`, `${tmp}/bin/vde`], {
        timeoutMs: 180_000,
      });
      assert.match(built.stderr, /^wrote /);
    }
    for (const d of ["home", "xdg"]) await Deno.mkdir(`${tmp}/${d}`, { mode: 0o700 });
    await run(["chown", "-R", `${name}:${name}`, `${tmp}/home`, `${tmp}/xdg`]);
    const env = [
      `HOME=${tmp}/home`,
      `XDG_RUNTIME_DIR=${tmp}/xdg`,
      `PATH=${tmp}/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
      `USER=${name}`,
    ];
    const argv = (cmd: string[]) => [
      ...prefix,
      "setpriv",
      `--reuid=${uid}`,
      `--regid=${uid}`,
      "--init-groups",
      "env",
      "-i",
      ...env,
      ...cmd,
    ];
    const as = (cmd: string[], timeoutMs = 60_000) =>
      run(argv(cmd), { check: false, timeoutMs, cwd: `${tmp}/home` });
    await fn({ uid, tmp, as, argv, noneLeft });
  } finally {
    unregister();
    await remove();
  }
}
