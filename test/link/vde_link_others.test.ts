/**
 * What root's vde:// client joins when root names the switch itself: in a directory a group or others may
 * write, a ctl and a port socket of the switch's owner alone (a member's socket or symlink put there is
 * refused), and another user's switch in a directory of their own as before (Debian's vde_switch run by a
 * real second user). A user default under another user's HOME is refused by `vde plug ''` before anything
 * is opened.
 */
import assert from "node:assert/strict";
import {
  AS_NOBODY,
  AS_NOGROUP_MEMBER,
  run,
  skipUnlessRoot,
  spawnManaged,
  waitForPath,
} from "../helpers/processes.ts";
import { renamedDirScene } from "../helpers/renamed_dir.ts";
import { VDE_CLI } from "../helpers/switches.ts";
import { withStudent } from "../helpers/student.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { openVdeLink } from "../../src/link/vde_link.ts";
import { buildSockaddrUn } from "../../src/wire/sockaddr_un.ts";
import { parseVdeRequest } from "../../src/wire/vde_request.ts";

/** A ctl at `at` that answers every request with `answer` (the client sockets named kept in `asked`) and holds the stream until the client leaves. */
function fakeCtl(
  at: string,
  answer: string,
): { accepted: () => number; asked: string[]; close: () => Promise<void> } {
  const ctl = Deno.listen({ transport: "unix", path: at });
  let accepted = 0;
  const asked: string[] = [];
  const serving = (async () => {
    for await (const conn of ctl) {
      accepted++;
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf).catch(() => null);
      const request = n === null ? undefined : parseVdeRequest(buf.subarray(0, n));
      if (request?.ok) asked.push(request.value.socketPath);
      await conn.write(buildSockaddrUn(answer)).catch(() => {});
      await conn.read(new Uint8Array(16)).catch(() => null);
      conn.close();
    }
  })();
  return {
    accepted: () => accepted,
    asked,
    close: async () => {
      ctl.close();
      await serving.catch(() => {});
    },
  };
}

/** A datagram socket bound at `at`, given to `uid`. */
async function socketOf(at: string, uid: number): Promise<UnixDgramSocket> {
  const sock = UnixDgramSocket.create();
  sock.bind(at);
  await Deno.chown(at, uid, uid);
  return sock;
}

/**
 * Runs `body` with a switch directory (`prefix`, mode 777) whose fake ctl answers with its `port` socket,
 * given to `portUid`; all removed after.
 */
async function withFakeSwitch(
  prefix: string,
  portUid: number,
  body: (dir: string, ctl: ReturnType<typeof fakeCtl>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  const ctl = fakeCtl(`${dir}/ctl`, `${dir}/port`);
  const port = await socketOf(`${dir}/port`, portUid);
  try {
    await Deno.chmod(dir, 0o777);
    await body(dir, ctl);
  } finally {
    await ctl.close();
    port.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const NOT_CONNECTED =
  "root does not connect to a socket another user may have put in a switch's directory; " +
  "not connected: ask nobody to restart it in a directory only they may write, or run as nobody";

Deno.test("root refuses a named switch in a directory others may write whose port socket is another user's than its ctl; the switch's own is joined", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withFakeSwitch("vde-sec7-portswap-", 12345, async (dir, ctl) => {
    // nobody's switch directory, open to everyone's writes: uid 12345 put its socket at the port's name.
    await Deno.chown(`${dir}/ctl`, 65534, 65534);
    await Deno.chown(dir, 65534, 65534);
    await assert.rejects(openVdeLink(dir), {
      message: new RegExp(
        `^the switch at ${dir} is nobody's \\(its ctl\\), but its port socket ${dir}/port: owner 12345, ` +
          `mode \\d+: ${NOT_CONNECTED}$`,
      ),
    });
    // The switch's own port socket (its ctl's owner's) is joined.
    await Deno.chown(`${dir}/port`, 65534, 65534);
    (await openVdeLink(dir)).close("test done");
    // And root's own: no other user's doing (a switch root started, its directory given away since).
    await Deno.chown(`${dir}/port`, 0, 0);
    (await openVdeLink(dir)).close("test done");
    assert.equal(ctl.accepted(), 3);
    // The handshake's own socket is gone either way.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["ctl", "port"]);
  });
});

Deno.test("root binds its handshake socket in /tmp, not in a switch directory others may rename in, where a member could bind theirs at its name before the switch connects to it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withFakeSwitch("vde-sec7-clientsock-", 65534, async (dir, ctl) => {
    await Deno.chown(`${dir}/ctl`, 65534, 65534);
    await Deno.chown(dir, 65534, 65534);
    for (const mode of [0o777, 0o2770, 0o1777, 0o755]) {
      await Deno.chmod(dir, mode);
      (await openVdeLink(dir, { receiveThread: false })).close("test done");
    }
    const [open, group, sticky, own] = ctl.asked;
    assert.match(open!, /^\/tmp\/vde\.\d+-\d+$/);
    assert.match(group!, /^\/tmp\/vde\.\d+-\d+$/);
    // Sticky: only root may rename or remove root's name there; and a directory of the switch's owner alone.
    const dirname = (p: string) => p.slice(0, p.lastIndexOf("/"));
    assert.equal(dirname(sticky!), dir);
    assert.equal(dirname(own!), dir);
    assert.equal(ctl.asked.length, 4);
    for (const p of ctl.asked) assert.throws(() => Deno.lstatSync(p), Deno.errors.NotFound);
  });
});

Deno.test("root refuses a named switch whose directory is in one others may write without the sticky bit, where a member could put theirs at its name; through a sticky or private one it is joined", async (t) => {
  if (skipUnlessRoot(t)) return;
  const { tmp, shared, dir } = await renamedDirScene("vde-sec7-parentswap-");
  // nobody's own switch, in a directory of theirs no one else may write: a member's put at the name root gave.
  await run([...AS_NOBODY, "mkdir", "-m", "0755", dir]);
  const ctl = fakeCtl(`${dir}/ctl`, `${dir}/port`);
  const port = await socketOf(`${dir}/port`, 65534);
  try {
    await Deno.chown(`${dir}/ctl`, 65534, 65534);
    // Joined, the link is let go at once: the fake ctl's close waits for its client to leave.
    const refusal = await openVdeLink(dir, { receiveThread: false }).then(
      (l) => (l.close("test done"), "joined"),
      (err: Error) => err.message,
    );
    assert.equal(
      refusal,
      `${dir} is reached through ${shared}, a directory anyone may write (mode 0777): root does not ` +
        "join a switch whose directory another user may have put at its name (chmod o-w " +
        `${shared} (or +t), or give a path through directories of yours or root's alone); not connected`,
    );
    assert.equal(ctl.accepted(), 0);
    for (const mode of [0o1777, 0o755]) {
      await Deno.chmod(shared, mode);
      (await openVdeLink(dir, { receiveThread: false })).close("test done");
    }
    assert.equal(ctl.accepted(), 2);
  } finally {
    await ctl.close();
    port.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a user who is not root joins a switch in a directory others may write whatever owns its port socket: their traffic is their own", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withFakeSwitch("vde-sec7-nonroot-", 65534, async (dir, ctl) => {
    await Deno.chmod(`${dir}/ctl`, 0o666);
    await Deno.chmod(`${dir}/port`, 0o666);
    const mod = new URL("../../src/link/vde_link.ts", import.meta.url).href;
    const code = `import { openVdeLink } from "${mod}";\n` +
      `const l = await openVdeLink("${dir}", { receiveThread: false }); console.log("joined"); l.close("done");`;
    const r = await run([...AS_NOGROUP_MEMBER, Deno.execPath(), "eval", code], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.stdout, "joined\n", r.stderr);
    assert.equal(ctl.accepted(), 1);
  });
});

Deno.test("root follows a symlink at ctl in a directory others may write only when the directory's owner or root made it, and joins no ctl of a third user's there", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-sec7-ctllink-" });
  const elsewhere = await Deno.makeTempDir({ prefix: "vde-sec7-ctlreal-" });
  const ctl = fakeCtl(`${elsewhere}/ctl`, `${dir}/port`);
  const port = await socketOf(`${dir}/port`, 0);
  let third: ReturnType<typeof fakeCtl> | undefined;
  try {
    await Deno.chown(dir, 65534, 65534);
    await Deno.chmod(dir, 0o777);
    await Deno.symlink(`${elsewhere}/ctl`, `${dir}/ctl`);
    await run(["chown", "-h", "12345:12345", `${dir}/ctl`]);
    await assert.rejects(openVdeLink(dir), {
      message: `${dir}/ctl is a symlink of 12345's in ${dir} (owner nobody, mode 777), a directory others ` +
        "may write: not followed for root; name the directory the switch serves",
    });
    assert.equal(ctl.accepted(), 0, "their link was followed");
    // The directory owner's link leads to a ctl of root's: followed, joined.
    await run(["chown", "-h", "65534:65534", `${dir}/ctl`]);
    (await openVdeLink(dir)).close("test done");
    assert.equal(ctl.accepted(), 1);
    // A ctl socket of a third user's, not the directory owner's nor root's.
    await Deno.remove(`${dir}/ctl`);
    third = fakeCtl(`${dir}/ctl`, `${dir}/port`);
    await Deno.chown(`${dir}/ctl`, 12345, 12345);
    await assert.rejects(openVdeLink(dir), {
      message:
        `${dir}/ctl is 12345's in ${dir} (owner nobody, mode 777), a directory others may write: root ` +
        "does not join a switch another user than nobody may have put there; not connected: ask 12345 to " +
        "serve it from a directory of their own, or run as 12345",
    });
    assert.equal(third.accepted(), 0, "their ctl was connected to");
  } finally {
    await ctl.close();
    await third?.close();
    port.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});

Deno.test("root's vde plug '' under a student's HOME is refused in one line, no tap made; root's own default and the named switch join Debian's vde_switch of theirs", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (s) => {
    const home = `${s.tmp}/home`;
    const user = (await run(["id", "-un", String(s.uid)])).stdout.trim();
    const sw = spawnManaged(s.argv(["vde_switch", "-s", `${home}/sw`, "-M", `${home}/sw.mgmt`]), {
      name: "vde_switch (student)",
      // Its console is stdin: at its end the switch would stop.
      stdin: "piped",
    });
    const rootHome = await Deno.makeTempDir({ prefix: "vde-sec7-roothome-" });
    try {
      await waitForPath(`${home}/sw/ctl`, 15_000, true);
      await waitForPath(`${home}/sw.mgmt`, 15_000, true);
      const wrote = await s.as([
        "sh",
        "-c",
        `mkdir ~/.vdeplug && echo vde://${home}/sw > ~/.vdeplug/default`,
      ]);
      assert.equal(wrote.code, 0, wrote.stderr);
      const ports = async () =>
        (await run([...VDE_CLI, "term", `${home}/sw.mgmt`, "-c", "port/print"], { timeoutMs: 30_000 }))
          .stdout;
      const before = await ports();

      // sudo -E, su without -: their HOME, their default.
      const refused = await run([...VDE_CLI, "plug", "", "tap://sec7t0"], {
        check: false,
        timeoutMs: 30_000,
        env: { HOME: home },
      });
      assert.equal(refused.code, 1, refused.stderr);
      assert.equal(
        refused.stderr,
        `vde: cannot open '' (the default switch): ${home}/.vdeplug/default is ${user}'s, not root's (${home}, ` +
          `a directory of ${user}'s): root does not follow another user's default unasked (HOME=${home}); ` +
          `name the switch to join it on purpose (vde://${home}/sw)\n`,
      );
      // vde slirp and vde term vde:// find the default themselves: the same refusal, in their words.
      const why =
        `${home}/.vdeplug/default is ${user}'s, not root's (${home}, a directory of ${user}'s): root ` +
        `does not follow another user's default unasked (HOME=${home}); name the switch to join it on purpose`;
      const slirp = await run([...VDE_CLI, "slirp", "--no-thread"], {
        check: false,
        timeoutMs: 30_000,
        env: { HOME: home },
      });
      assert.equal(slirp.stderr, `vde: ${why} (vde slirp --sock ${home}/sw)\n`);
      const term = await run([...VDE_CLI, "term", "vde://", "-c", "port/print"], {
        check: false,
        timeoutMs: 30_000,
        env: { HOME: home },
      });
      assert.equal(term.stderr, `vde: vde://: ${why} (vde term ${home}/sw)\n`);
      assert.equal(term.code, 1);
      const tap = await run(["ip", "link", "show", "sec7t0"], { check: false });
      assert.notEqual(tap.code, 0, "a tap was left");
      assert.equal(await ports(), before, "a port was opened on their switch");

      // Root's own default (as under sudo's reset HOME) leads to their switch: root's choice, joined.
      await Deno.mkdir(`${rootHome}/.vdeplug`);
      await Deno.writeTextFile(`${rootHome}/.vdeplug/default`, `vde://${home}/sw\n`);
      const own = await run([...VDE_CLI, "plug", ""], {
        check: false,
        timeoutMs: 30_000,
        env: { HOME: rootHome },
      });
      assert.equal(own.code, 0, own.stderr);
      // Named, in a directory of their own, as before.
      const named = await run([...VDE_CLI, "plug", `${home}/sw`], { check: false, timeoutMs: 30_000 });
      assert.equal(named.code, 0, named.stderr);
      // Their switch directory opened to everyone's writes: its ctl and port sockets are still theirs alike.
      const opened = await s.as(["chmod", "777", `${home}/sw`]);
      assert.equal(opened.code, 0, opened.stderr);
      const shared = await run([...VDE_CLI, "plug", `${home}/sw`], { check: false, timeoutMs: 30_000 });
      assert.equal(shared.code, 0, shared.stderr);
    } finally {
      await sw.stop();
      await Deno.remove(rootHome, { recursive: true });
    }
  }, { bundle: false });
});
