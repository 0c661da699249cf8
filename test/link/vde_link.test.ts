/**
 * What a user refused by a switch shared with a group is told: to be added
 * to the group when not in it, to log in again when added since the session
 * started. Played with a user and group of this test's own (removed at the
 * end), the session's groups given as setpriv --clear-groups would leave them.
 */
import assert from "node:assert/strict";
import {
  AS_NOBODY,
  AS_NOGROUP_MEMBER,
  AS_OTHER_USER,
  run,
  skipUnless,
  skipUnlessRoot,
} from "../helpers/processes.ts";
import { groupHint } from "../../src/os/users.ts";
import { onPath } from "../../src/os/command_lookup.ts";
import { processAlive } from "../../src/os/processes.ts";
import { ourCli, until } from "../helpers/vde_clients.ts";
import { parseVdeVnl } from "../../src/link/vde_link.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { buildRefusal, busyReason, isBusyRefusal, MAX_REFUSAL_LEN } from "../../src/wire/vde_refusal.ts";

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

Deno.test("a plug joins another user's switch shared with its group (-m 660 -g G): its socket is given to G, as vde_plug's is", async (t) => {
  if (
    skipUnlessRoot(t) ||
    skipUnless(t, onPath("vde_switch") ? null : "vde_switch (Debian vde-switch) is missing")
  ) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-group-plug-" });
  await Deno.chmod(tmp, 0o755);
  const dir = `${tmp}/sw`;
  // The switch's user: nobody, sharing it with nogroup; the plug's: uid 12345, a member of nogroup only.
  const asSwitchUser = AS_NOBODY;
  // Deno's cache for uid 12345, which has no passwd entry: without HOME (as in some CI runners) Deno
  // finds no cache directory of its own and refuses to run.
  const denoDir = `${tmp}/deno`;
  await Deno.mkdir(denoDir);
  await Deno.chmod(denoDir, 0o777);
  await Deno.chown(tmp, 65534, 65534);
  await run([
    ...asSwitchUser,
    "vde_switch",
    "-s",
    dir,
    "-m",
    "660",
    "-g",
    "nogroup",
    "-d",
    "-p",
    `${tmp}/sw.pid`,
  ]);
  try {
    const link = new URL("../../src/link/vde_link.ts", import.meta.url).href;
    const plugWith = (vnl: string) =>
      run([
        ...AS_NOGROUP_MEMBER,
        Deno.execPath(),
        "eval",
        `import { openVdeLink } from "${link}";\n` +
        `try { (await openVdeLink(${JSON.stringify(vnl)})).close(); console.log("joined"); } ` +
        "catch (e) { console.log(e.message); }",
      ], { timeoutMs: 30_000, env: { DENO_DIR: denoDir } });
    assert.equal((await plugWith(dir)).stdout, "joined\n");
    // A group named in the VNL (vde plug -g nogroup) is given access too, not left at mode 700.
    assert.equal((await plugWith(`${dir}[group=nogroup]`)).stdout, "joined\n");
  } finally {
    const pid = Number((await Deno.readTextFile(`${tmp}/sw.pid`).catch(() => "0")).trim());
    if (pid > 0) Deno.kill(pid, "SIGTERM");
    // Gone, or a zombie where nothing reaps the daemon (a container whose pid 1 does not wait).
    await until("vde_switch to exit", () => pid === 0 || !processAlive(pid), 10_000);
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch inside a directory closed to others (a home of mode 700) names that directory, not the switch's modes", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-closed-home-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const home = `${tmp}/home`;
    await Deno.mkdir(`${home}/net`, { recursive: true });
    await Deno.chown(home, 65534, 65534);
    await Deno.chmod(home, 0o700);
    const link = new URL("../../src/link/vde_link.ts", import.meta.url).href;
    const code = `import { openVdeLink } from "${link}";\n` +
      `try { await openVdeLink("${home}/net"); } catch (e) { console.log(e.message); }`;
    const r = await run([...AS_OTHER_USER, Deno.execPath(), "eval", code], { timeoutMs: 30_000 });
    assert.equal(
      r.stdout,
      `permission denied on the switch at ${home}/net: ${home} (owner nobody, mode 700) does not let you through ` +
        `to it; its owner may open it (chmod o+x ${home}), or serve the switch from a directory others can reach\n`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch that answers with a socket outside its directory (or a symlink to one) is not connected to: another user's switch cannot aim root's frames at any socket", async () => {
  const { openVdeLink } = await import("../../src/link/vde_link.ts");
  const { buildSockaddrUn } = await import("../../src/wire/sockaddr_un.ts");
  const tmp = await Deno.makeTempDir({ prefix: "vde-answer-" });
  const outside = Deno.listen({ transport: "unix", path: `${tmp}/journal` });
  await Deno.mkdir(`${tmp}/sw`);
  await Deno.symlink(`${tmp}/journal`, `${tmp}/sw/001.7`);
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/sw/ctl` });
  try {
    for (const answer of [`${tmp}/journal`, `${tmp}/sw/001.7`]) {
      // The switch of this test: reads the request, answers with `answer`, as vde_switch answers with a port's socket.
      const serving = (async () => {
        const conn = await ctl.accept();
        await conn.read(new Uint8Array(4096));
        await conn.write(buildSockaddrUn(answer));
        return conn;
      })();
      await assert.rejects(
        openVdeLink(`${tmp}/sw`),
        new RegExp(
          `answered with "${answer}", no socket in its directory: not connected; ask its owner to restart it, ` +
            "or name another switch$",
        ),
      );
      (await serving).close();
    }
  } finally {
    ctl.close();
    outside.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a vde:// open whose opener stopped before it began never connects to the switch: a held one is not waited for", async () => {
  const { openVdeLink } = await import("../../src/link/vde_link.ts");
  const tmp = await Deno.makeTempDir({ prefix: "vde-stopped-first-" });
  await Deno.mkdir(`${tmp}/sw`);
  // A switch that never answers (as one stopped): a connection to it waits in its backlog.
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/sw/ctl` });
  const stop = new AbortController();
  stop.abort();
  try {
    await assert.rejects(openVdeLink(`${tmp}/sw`, { signal: stop.signal }), /^Error: stopped while joining/);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connected = await Promise.race([
      ctl.accept().then((conn) => (conn.close(), true)),
      new Promise<false>((done) => timer = setTimeout(done, 200, false)),
    ]);
    clearTimeout(timer);
    assert.equal(connected, false, "the stopped open connected to the switch");
    assert.deepEqual([...Deno.readDirSync(`${tmp}/sw`)].map((e) => e.name), ["ctl"]);
  } finally {
    ctl.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a vde:// open waiting for room in a full ctl queue gives up at once when its opener stops", async () => {
  const { openVdeLink, BACKLOG_WAIT_MS } = await import("../../src/link/vde_link.ts");
  const tmp = await Deno.makeTempDir({ prefix: "vde-stopped-queued-" });
  await Deno.mkdir(`${tmp}/sw`);
  // A switch that accepts nothing (stopped, or swamped by another user's connections): its queue fills.
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/sw/ctl` });
  const queued: Deno.Conn[] = [];
  try {
    for (;;) {
      try {
        queued.push(await Deno.connect({ transport: "unix", path: `${tmp}/sw/ctl` }));
      } catch (err) {
        if (err instanceof Deno.errors.WouldBlock) break;
        throw err;
      }
    }
    const stop = new AbortController();
    const opening = openVdeLink(`${tmp}/sw`, { signal: stop.signal });
    setTimeout(() => stop.abort(), 200);
    const began = Date.now();
    await assert.rejects(opening, /^Error: stopped while joining/);
    const took = Date.now() - began;
    assert.ok(took < BACKLOG_WAIT_MS / 5, `the stopped open went on waiting for room ${took} ms`);
    assert.deepEqual([...Deno.readDirSync(`${tmp}/sw`)].map((e) => e.name), ["ctl"]);
  } finally {
    for (const c of queued) c.close();
    ctl.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

/**
 * Runs `body` with a switch at `dir` that refuses its first `busy` connections as ours does when other
 * handshakes fill it (a user's 16 under way), then refuses for another reason; `seen` counts the
 * connections it took. Afterwards no handshake socket of the open may be left in `dir`.
 */
async function withBusySwitch(
  busy: number,
  body: (dir: string, seen: { connections: number }) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vde-busy-switch-" });
  const dir = `${tmp}/sw`;
  await Deno.mkdir(dir);
  const ctl = Deno.listen({ transport: "unix", path: `${dir}/ctl` });
  const seen = { connections: 0 };
  const serving = (async () => {
    for await (const conn of ctl) {
      seen.connections++;
      const reason = seen.connections <= busy
        ? "nobody has 16 handshakes under way here, the most one user may"
        : "bad request";
      await conn.write(buildRefusal(reason)).catch(() => {});
      conn.close();
    }
  })().catch(() => {});
  try {
    await body(dir, seen);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["ctl"], "no handshake socket left");
  } finally {
    ctl.close();
    await serving;
    await Deno.remove(tmp, { recursive: true });
  }
}

Deno.test("a vde:// open refused for a switch busy with other handshakes asks again, within BACKLOG_WAIT_MS, and is told the next answer", async () => {
  const { openVdeLink, BACKLOG_WAIT_MS } = await import("../../src/link/vde_link.ts");
  await withBusySwitch(3, async (dir, seen) => {
    const began = Date.now();
    // Before, the first busy refusal ended the open: "nobody has 16 handshakes under way here".
    await assert.rejects(openVdeLink(dir), /refused the connection: bad request$/);
    assert.equal(seen.connections, 4, "three busy refusals, then the answer");
    assert.ok(Date.now() - began < BACKLOG_WAIT_MS, "asked again within the wait");
  });
});

Deno.test("a vde:// open asking a busy switch again gives up at once when its opener stops, and after BACKLOG_WAIT_MS with the switch's reason", async () => {
  const { openVdeLink, BACKLOG_WAIT_MS } = await import("../../src/link/vde_link.ts");
  await withBusySwitch(Infinity, async (dir, seen) => {
    const stop = new AbortController();
    const opening = openVdeLink(dir, { signal: stop.signal });
    setTimeout(() => stop.abort(), 300);
    const began = Date.now();
    await assert.rejects(opening, /^Error: stopped while joining/);
    const took = Date.now() - began;
    assert.ok(took < BACKLOG_WAIT_MS / 5, `the stopped open went on asking ${took} ms`);
    assert.ok(seen.connections > 1, "asked again before the stop");
    // Busy for longer than the wait: the switch's own reason, as before.
    const again = Date.now();
    await assert.rejects(openVdeLink(dir), /16 handshakes under way here, the most one user may$/);
    const waited = Date.now() - again;
    assert.ok(
      waited >= BACKLOG_WAIT_MS - 100 && waited < BACKLOG_WAIT_MS + 3000,
      `gave up after ${waited} ms`,
    );
  });
});

Deno.test("the refusals of a switch busy with handshakes are told from the others", () => {
  for (
    const busy of [
      "the switch has 64 handshakes under way: try again",
      "alice has 16 handshakes under way here, the most one user may",
      "the switch has 56 handshakes of other users under way: try again",
      // And what the switch builds (switch_server.ts `#busy`), so a rewording there is still matched.
      busyReason.full(256),
      busyReason.user("bob", 16),
      busyReason.subordinate("root", 16),
      busyReason.subordinate("a".repeat(32), 16),
      busyReason.others(248),
    ]
  ) {
    assert.ok(isBusyRefusal(busy), busy);
    assert.ok(busy.length <= MAX_REFUSAL_LEN, `${busy}: longer than a refusal may be`);
  }
  for (const other of ["bad request", "client sent no socket path", "port 3 is taken"]) {
    assert.ok(!isBusyRefusal(other), other);
  }
});

Deno.test("a switch whose directory is swapped for a symlink elsewhere before it answers is not connected to: the answer is judged against the directory resolved when it was asked", async () => {
  const { openVdeLink } = await import("../../src/link/vde_link.ts");
  const { buildSockaddrUn } = await import("../../src/wire/sockaddr_un.ts");
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "vde-swap-" }));
  await Deno.mkdir(`${tmp}/elsewhere`);
  const outside = Deno.listen({ transport: "unix", path: `${tmp}/elsewhere/journal` });
  await Deno.mkdir(`${tmp}/sw`);
  const ctl = Deno.listen({ transport: "unix", path: `${tmp}/sw/ctl` });
  try {
    // The switch's owner: asked, moves its directory away and leaves a symlink to /dev's stand-in in its place.
    const serving = (async () => {
      const conn = await ctl.accept();
      await conn.read(new Uint8Array(4096));
      await Deno.rename(`${tmp}/sw`, `${tmp}/sw.old`);
      await Deno.symlink(`${tmp}/elsewhere`, `${tmp}/sw`);
      await conn.write(buildSockaddrUn(`${tmp}/elsewhere/journal`));
      return conn;
    })();
    await assert.rejects(
      openVdeLink(`${tmp}/sw`),
      /answered with ".*\/elsewhere\/journal", no socket in its directory: not connected; ask its owner to restart it, or name another switch$/,
    );
    (await serving).close();
  } finally {
    ctl.close();
    outside.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a vde:// bracket value that is no number is vdeplug4's port group: parsed as one, a port= that is no number is refused", () => {
  assert.deepEqual(parseVdeVnl("/var/run/vde.ctl[privatelan]"), {
    path: "/var/run/vde.ctl",
    mode: 0o700,
    portgroup: "privatelan",
  });
  assert.deepEqual(parseVdeVnl("/tmp/sw[portgroup=lan/mode=660]"), {
    path: "/tmp/sw",
    mode: 0o660,
    portgroup: "lan",
  });
  assert.deepEqual(parseVdeVnl("/tmp/sw[3]"), { path: "/tmp/sw", mode: 0o700, port: 3 });
  assert.throws(() => parseVdeVnl("/tmp/sw[port=lan]"), /vde:\/\/ port must be a number, got "lan"/);
});

Deno.test("a vde:// naming two ports or port groups ([a/b], [port=1/group]) is refused in one line, not the last one taken", () => {
  assert.throws(
    () => parseVdeVnl("/tmp/sw[a/b]"),
    (e: Error) =>
      e.message === 'vde:///tmp/sw: names two ports or port groups ("a" and "b"): give one, [N] or [NAME]',
  );
  assert.throws(() => parseVdeVnl("/tmp/sw[port=1/group]"), /\("1" and "group"\): give one/);
  assert.throws(() => parseVdeVnl("/tmp/sw[3/portgroup=lan]"), /\("3" and "lan"\)/);
  // One of each kind of option is still taken.
  assert.deepEqual(parseVdeVnl("/tmp/sw[2/mode=660/group=vde]"), {
    path: "/tmp/sw",
    mode: 0o660,
    port: 2,
    group: "vde",
  });
});

Deno.test("the vde term command given for a vde:// vlan= quotes the switch's path for the shell when it needs it", () => {
  assert.throws(
    () => parseVdeVnl("/tmp/my sw$HOME[vlan=5]"),
    (e: Error) => e.message.includes("`vde term '/tmp/my sw$HOME' -c 'port/setvlan PORT 5'`"),
  );
  assert.throws(
    () => parseVdeVnl("/tmp/it's[vlan=5]"),
    (e: Error) => e.message.includes(`vde term '/tmp/it'\\''s' -c`),
  );
});

Deno.test("a vde:// vlan= (in neither vdeplug4 nor here) is refused with the switch command that sets a port's VLAN", () => {
  assert.throws(
    () => parseVdeVnl("/tmp/sw[port=3/vlan=5/mode=0660]"),
    (e: Error) =>
      e.message ===
        "vde:// takes no vlan=: a port's VLAN is set on the switch, `vde term /tmp/sw -c 'port/setvlan 3 5'` " +
          "(vlan/create 5 first)",
  );
  assert.throws(() => parseVdeVnl("/tmp/sw[vlan=7]"), /port\/setvlan PORT 7/);
  // One that is no VLAN number (a quote, a command) is not put in the command to paste.
  for (const vlan of ["x", "5'; rm -rf ~; '", "99999"]) {
    assert.throws(
      () => parseVdeVnl(`/tmp/sw[vlan=${vlan}]`),
      /'port\/setvlan PORT N'` \(vlan\/create N first\)$/,
    );
  }
});

Deno.test("vde plug into DIR[privatelan] (vdeplug4's port group) takes a free port, as vde_plug does, and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-portgroup-" });
  const sw = await startOurSwitch(`${dir}/net`);
  try {
    // stdin ends at once: the plug joined the switch, then leaves with status 0.
    const out = await run([...ourCli(), "plug", `vde://${dir}/net[privatelan]`], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stderr,
      `vde: vde://${dir}/net: "privatelan" is a port group, which switches do not have (vde_switch neither): ` +
        "plugged into a free port, as vde_plug does (a port is a number: [3])\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
