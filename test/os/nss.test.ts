/**
 * Users and groups are NSS's (src/os/nss.ts through src/os/users.ts): on this machine, whose users and groups
 * are in the files, every answer is the files'; a user and group only a second source knows (systemd's
 * userdb drop-ins, read by nss-systemd as this machine's nsswitch.conf asks, in a mount namespace of the
 * test's own) resolve; and a name service that hangs costs one bounded wait, then the files, and the
 * trusted-path check does not take a group NSS could not tell as ours alone.
 */
import assert from "node:assert/strict";
import { nssListsEveryUser, nssQuery } from "../../src/os/nss.ts";
import {
  groupMembers,
  groupMembersInFiles,
  groupName,
  isGroupMember,
  lookupGroup,
  lookupUser,
  userName,
} from "../../src/os/users.ts";
import { parseRows } from "../../src/os/passwd_rows.ts";
import { inTempDir } from "../helpers/temp_dir.ts";
import { inOwnMounts } from "../helpers/mount_namespace.ts";
import { run } from "../helpers/processes.ts";

const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const SRC = new URL("../../src/os/", import.meta.url).pathname;

Deno.test("NSS answers as /etc/passwd and /etc/group do for every user and group here", () => {
  const users = parseRows(Deno.readTextFileSync("/etc/passwd"));
  const groups = parseRows(Deno.readTextFileSync("/etc/group"));
  assert.ok(users.length > 5 && groups.length > 5, `${users.length} users, ${groups.length} groups`);
  assert.ok(Array.isArray(nssQuery("passwd", "root")), "NSS cannot be asked here: nothing compared");
  let withMembers = 0;
  for (const g of groups) {
    const files = sorted(groupMembersInFiles(g.id));
    if (files.length > 0) withMembers++;
    assert.deepEqual(sorted(groupMembers(g.id) ?? []), files, `group ${g.id}`);
    assert.equal(groupName(g.id), g.name);
    assert.equal(lookupGroup(g.name), g.id);
  }
  assert.ok(withMembers > 0, "no group here has a member: nothing compared");
  for (const u of users) {
    assert.equal(userName(u.id), u.name);
    assert.equal(lookupUser(u.name), u.id);
    // Its groups and a few others: each answer is a getent run or three.
    for (
      const g of groups.filter((g, i) =>
        i < 3 || Number(u.extra) === g.id || g.extra.split(",").includes(u.name)
      )
    ) {
      const files = Number(u.extra) === g.id || g.extra.split(",").includes(u.name);
      assert.equal(isGroupMember(u.id, g.id), files, `${u.name} in ${g.name}`);
    }
  }
  assert.equal(userName(3_999_999_999), "3999999999");
  assert.equal(groupName(3_999_999_999), "3999999999");
  assert.equal(lookupUser("no-such-user-here"), undefined);
});

/** Runs `body` (statements with the users.ts/nss.ts imports in scope) in a new mount namespace after `setup` (sh). */
async function inMountNamespace(dir: string, setup: string, body: string): Promise<string> {
  await Deno.writeTextFile(
    `${dir}/probe.ts`,
    `import * as users from "${SRC}users.ts";\nimport * as nss from "${SRC}nss.ts";\n` +
      `import { untrustedStep } from "${SRC}trusted_path.ts";\n${body}\n`,
  );
  const r = await run(inOwnMounts(setup, "sh", [Deno.execPath(), "run", "-A", `${dir}/probe.ts`]), {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/**
 * Writes `dir`/getent, a script that runs `before` (sh) and then the system's getent (copied into `dir`, as the
 * script is bound over it); the system getent's path, for the bind.
 */
async function wrappedGetent(dir: string, before: string): Promise<string> {
  const real = (await run(["sh", "-c", "command -v getent"])).stdout.trim();
  await Deno.copyFile(real, `${dir}/real-getent`);
  await Deno.writeTextFile(`${dir}/getent`, `#!/bin/sh\n${before}\nexec "${dir}/real-getent" "$@"\n`);
  await Deno.chmod(`${dir}/getent`, 0o755);
  return real;
}

Deno.test("a user and group known only to a second NSS source (systemd's userdb) resolve, and the user is the group's member", async () => {
  assert.equal(Deno.uid(), 0, "this test makes a mount namespace: run as root");
  await inTempDir("vde-nss-userdb-", async (dir) => {
    const user = `{"userName":"vdenssonly","uid":61237,"gid":61237,"homeDirectory":"/nonexistent"}`;
    const group = `{"groupName":"vdensscrew","gid":61238,"members":["vdenssonly"]}`;
    const setup = `mount -t tmpfs tmpfs /run; mkdir /run/userdb; cd /run/userdb
echo '${user}' > vdenssonly.user; ln -s vdenssonly.user 61237.user
echo '${group}' > vdensscrew.group; ln -s vdensscrew.group 61238.group`;
    const out = await inMountNamespace(
      dir,
      setup,
      `console.log(JSON.stringify([users.userName(61237), users.lookupUser("vdenssonly"), users.groupName(61238),
        users.lookupGroup("vdensscrew"), users.isGroupMember(61237, 61238), users.isGroupMember(0, 61238),
        users.groupMembers(61238), users.groupMembersInFiles(61238)]));`,
    );
    assert.deepEqual(JSON.parse(out), ["vdenssonly", 61237, "vdensscrew", 61238, true, false, [61237], []]);
  });
});

Deno.test("a name service that hangs is given up on after the timeout, then not asked for a while; the files answer, and a group it cannot tell is not taken as ours alone", async () => {
  assert.equal(Deno.uid(), 0, "this test makes a mount namespace: run as root");
  await inTempDir("vde-nss-hang-", async (dir) => {
    const real = await wrappedGetent(dir, "exec sleep 30");
    await Deno.mkdir(`${dir}/shared`);
    await Deno.chmod(`${dir}/shared`, 0o770);
    const setup = `mount --bind "${dir}/getent" "${real}"`;
    const out = await inMountNamespace(
      dir,
      setup,
      `nss.setNssTimeout(500);
      let t = performance.now();
      const first = users.userName(0);
      const firstMs = performance.now() - t;
      t = performance.now();
      const second = [users.userName(0), users.groupName(0), users.lookupUser("root"), users.isGroupMember(0, 0)];
      const secondMs = performance.now() - t;
      const step = untrustedStep("${dir}/shared/x", [0]);
      console.log(JSON.stringify({ first, firstMs, second, secondMs, members: users.groupMembers(0) ?? null,
        step: step?.kind ?? null }));`,
    );
    const r = JSON.parse(out);
    assert.equal(r.first, "root");
    assert.ok(r.firstMs >= 400 && r.firstMs < 5_000, `first lookup took ${r.firstMs} ms`);
    assert.deepEqual(r.second, ["root", "root", 0, true]);
    assert.ok(r.secondMs < 400, `lookups during the back-off took ${r.secondMs} ms`);
    assert.equal(r.members, null);
    assert.equal(r.step, "writable");
  });
});

Deno.test("a getent without one of the databases (musl's has no initgroups) is not taken as a name service down: the trusted path still knows the group's members", async () => {
  assert.equal(Deno.uid(), 0, "this test makes a mount namespace: run as root");
  await inTempDir("vde-nss-nodb-", async (dir) => {
    const real = await wrappedGetent(
      dir,
      `[ "$1" = initgroups ] && { echo "Unknown database: $1" >&2; exit 1; }`,
    );
    await Deno.mkdir(`${dir}/shared`);
    await Deno.chmod(`${dir}/shared`, 0o770);
    const out = await inMountNamespace(
      dir,
      `mount --bind "${dir}/getent" "${real}"`,
      `const member = users.isGroupMember(0, 3_999_999_998);
      console.log(JSON.stringify([member, users.groupMembers(0) ?? null, untrustedStep("${dir}/shared/x", [0])?.kind ?? null]));`,
    );
    assert.deepEqual(JSON.parse(out), [false, groupMembersInFiles(0), null]);
  });
});

Deno.test("the same questions asked for each of 30 ports (a client's port request) run getent once each, not once a port, and a name not found is asked again", async () => {
  assert.equal(Deno.uid(), 0, "this test makes a mount namespace: run as root");
  // Ports set to a group (nogroup here) that root is not in.
  await inTempDir("vde-nss-cache-", async (dir) => {
    const real = await wrappedGetent(dir, `echo "$@" >> "${dir}/runs"`);
    await Deno.writeTextFile(`${dir}/runs`, "");
    const out = await inMountNamespace(
      dir,
      `mount --bind "${dir}/getent" "${real}"`,
      `const answers = [];
      for (let port = 0; port < 30; port++) answers.push(users.isGroupMember(0, 65534));
      for (let i = 0; i < 2; i++) answers.push(users.lookupUser("no-such-user-here") ?? null);
      console.log(JSON.stringify([...new Set(answers)]));`,
    );
    assert.deepEqual(JSON.parse(out), [false, null]);
    const runs = (await Deno.readTextFile(`${dir}/runs`)).trim().split("\n");
    assert.deepEqual(runs, [
      "passwd -- 0",
      "group -- 65534",
      "initgroups -- root",
      "passwd -- no-such-user-here",
      "passwd -- no-such-user-here",
    ]);
  });
});

Deno.test("nsswitch.conf's passwd line tells whether getent lists every user: the files and local records do, a directory service need not", async () => {
  await inTempDir("vde-nss-conf-", async (dir) => {
    const says = async (text: string) => {
      await Deno.writeTextFile(`${dir}/nsswitch.conf`, text);
      return nssListsEveryUser(`${dir}/nsswitch.conf`);
    };
    assert.equal(await says("passwd:         files systemd\ngroup: files systemd\n"), true);
    assert.equal(await says("passwd: compat [NOTFOUND=return] files\n"), true);
    assert.equal(await says("passwd: files # sss\n"), true, "a comment names no source");
    assert.equal(await says("group: files sss\n"), true, "no passwd line: glibc's default");
    assert.equal(await says("passwd:     files sss systemd\n"), false);
    assert.equal(await says("  passwd: files [ SUCCESS=return ] LDAP\n"), false);
    assert.equal(await says("passwd: files winbind\n"), false);
    assert.equal(nssListsEveryUser(`${dir}/none`), true, "no file: glibc's default");
  });
});

Deno.test("where a source of NSS does not list its users (SSSD's default), a group-writable directory's group is not taken as having no one else, save a user's private group", async () => {
  assert.equal(Deno.uid(), 0, "this test makes a mount namespace: run as root");
  await inTempDir("vde-nss-unlisted-", async (dir) => {
    // vdeteam (61241) lists no one: under SSSD an LDAP user whose primary group it is would not show.
    await Deno.writeTextFile(
      `${dir}/passwd`,
      (await Deno.readTextFile("/etc/passwd")) + "vdeupg:x:61240:61240::/nonexistent:/bin/false\n",
    );
    await Deno.writeTextFile(
      `${dir}/group`,
      (await Deno.readTextFile("/etc/group")) + "vdeupg:x:61240:\nvdeteam:x:61241:\n",
    );
    for (const [name, gid] of [["team", 61241], ["upg", 61240]] as const) {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.chown(`${dir}/${name}`, 0, gid);
      await Deno.chmod(`${dir}/${name}`, 0o2775);
    }
    const probe = `console.log(JSON.stringify([untrustedStep("${dir}/team/x", [0])?.kind ?? null,
      untrustedStep("${dir}/upg/x", [0, 61240])?.kind ?? null, users.groupMembers(61241) ?? null,
      users.groupMembers(61240) ?? null]));`;
    const judged = (sources: string) =>
      inMountNamespace(
        dir,
        `printf 'passwd: ${sources}\\ngroup: ${sources}\\n' > "${dir}/nsswitch.conf"
mount --bind "${dir}/nsswitch.conf" /etc/nsswitch.conf
mount --bind "${dir}/passwd" /etc/passwd; mount --bind "${dir}/group" /etc/group`,
        probe,
      );
    assert.deepEqual(JSON.parse(await judged("files systemd")), [null, null, [], [61240]]);
    assert.deepEqual(JSON.parse(await judged("files sss")), ["writable", null, null, [61240]]);
  });
});
