/**
 * NSS's answer for a group's members (src/os/nss.ts) is the files' answer on a machine whose users and
 * groups are in the files alone, as here: every group of /etc/group, and none for a group that is not.
 */
import assert from "node:assert/strict";
import { nssGroupMembers } from "../../src/os/nss.ts";
import { groupMembers, groupMembersInFiles } from "../../src/os/users.ts";

const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

Deno.test("NSS names the same members as /etc/group and /etc/passwd for every group here", () => {
  const gids = Deno.readTextFileSync("/etc/group").split("\n").map((l) => l.split(":")[2]).filter((g) =>
    g !== undefined && /^\d+$/.test(g)
  ).map(Number);
  assert.ok(gids.length > 5, `groups read: ${gids.length}`);
  let withMembers = 0;
  for (const gid of gids) {
    const files = sorted(groupMembersInFiles(gid));
    if (files.length > 0) withMembers++;
    const nss = nssGroupMembers(gid);
    assert.ok(nss !== null, `NSS does not know group ${gid}`);
    assert.deepEqual(sorted(nss), files, `group ${gid}`);
    assert.deepEqual(sorted(groupMembers(gid)), files, `group ${gid}`);
  }
  assert.ok(withMembers > 0, "no group here has a member: nothing compared");
});

Deno.test("NSS knows no group that the files do not", () => {
  assert.equal(nssGroupMembers(3_999_999_999), null);
});
