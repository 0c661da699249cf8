/**
 * What a user refused by a switch shared with a group is told: to be added
 * to the group when not in it, to log in again when added since the session
 * started. Played with a user and group of this test's own (removed at the
 * end), the session's groups given as setpriv --clear-groups would leave them.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { groupHint } from "../../src/link/vde_link.ts";

Deno.test("a switch shared with a group tells one outside it to be added, and one added since login to log in again", async (t) => {
  if (skipUnlessRoot(t)) return;
  const user = `vdeperm${Deno.pid}`;
  const group = `vdepermg${Deno.pid}`;
  await run(["groupadd", group]);
  await run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", user]);
  const tmp = await Deno.makeTempDir({ prefix: "vde-group-hint-" });
  try {
    const uid = Number((await run(["id", "-u", user])).stdout.trim());
    const gid = Number((await run(["getent", "group", group])).stdout.split(":")[2]);
    // The directory --mode 660 --group GROUP gives a root switch.
    const dir = `${tmp}/sw`;
    await Deno.mkdir(dir);
    await Deno.chown(dir, 0, gid);
    await Deno.chmod(dir, 0o3770);
    const session = new Set([65534]);
    assert.equal(
      groupHint(dir, uid, session),
      `it is group ${group}'s (owner root, mode 3770), and ${user} is not in ${group}: ask its admin to add you ` +
        `(usermod -aG ${group} ${user}), then log in again`,
    );
    await run(["usermod", "-aG", group, user]);
    assert.equal(
      groupHint(dir, uid, session),
      `it is group ${group}'s (owner root, mode 3770), and you were added to ${group} after this session ` +
        `started: log in again (or run newgrp ${group})`,
    );
    // Holding the group, or owning the switch, or a switch not shared with its group: nothing to say of groups.
    assert.equal(groupHint(dir, uid, new Set([gid])), undefined);
    assert.equal(groupHint(dir, 0, session), undefined);
    await Deno.chmod(dir, 0o2700);
    assert.equal(groupHint(dir, uid, session), undefined);
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await run(["userdel", user], { check: false });
    await run(["groupdel", group], { check: false });
  }
});
