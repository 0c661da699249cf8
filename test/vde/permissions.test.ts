/**
 * The directory and socket modes `--mode`/`--dirmode` give: vde_switch's
 * derivation, plus the sticky bit on a directory its group or others may
 * write, so a member of a shared switch's group can bind its own client
 * socket there but cannot move the switch's ctl or mgmt aside for its own.
 */
import assert from "node:assert/strict";
import { resolveModes, resolveOwnGroup } from "../../src/vde/permissions.ts";

Deno.test("no --mode: the directory and sockets are the owner's alone, with no sticky bit to add", () => {
  assert.deepEqual(resolveModes(), { socketMode: 0o600, dirMode: 0o2700 });
  assert.deepEqual(resolveModes(0o600), { socketMode: 0o600, dirMode: 0o2700 });
  assert.deepEqual(resolveModes(0o640), { socketMode: 0o640, dirMode: 0o2750 });
});

Deno.test("--mode 660 or 666: the directory the group or others may write is sticky", () => {
  assert.deepEqual(resolveModes(0o660), { socketMode: 0o660, dirMode: 0o3770 });
  assert.deepEqual(resolveModes(0o666), { socketMode: 0o666, dirMode: 0o3777 });
});

Deno.test("--dirmode that lets others write is made sticky too; one that does not is taken as given", () => {
  assert.deepEqual(resolveModes(undefined, 0o2770), { socketMode: 0o660, dirMode: 0o3770 });
  assert.deepEqual(resolveModes(0o660, 0o777), { socketMode: 0o660, dirMode: 0o1777 });
  assert.deepEqual(resolveModes(0o660, 0o2750), { socketMode: 0o660, dirMode: 0o2750 });
});

Deno.test("--group a user is not in is refused in words before anything is made; root may give any group", () => {
  const nobody = new Set([65534]);
  assert.throws(
    () => resolveOwnGroup("root", "--group", 65534, nobody),
    new Error(
      "--group root: nobody is not in group root, and only root may give files to a group it is not in: " +
        "give one of yours (id -Gn lists them)",
    ),
  );
  assert.equal(resolveOwnGroup("nogroup", "--mgmtgroup", 65534, nobody), 65534);
  assert.equal(resolveOwnGroup("root", "--group", 0, new Set([0])), 0);
  assert.equal(resolveOwnGroup("65534", "--group", 0, new Set([0])), 65534);
});
