/**
 * hub://, switch://, multi:// and bonding:// serve a switch directory in
 * the process that opens them, joined by any vde:// client; frames follow
 * the node's rule between the joiners and the opener's end; the directory
 * gets mode=/dirmode= as a switch's does, bad options are one line, and
 * closing the end removes the directory.
 */
import assert from "node:assert/strict";
import { openLink } from "../../src/link/registry.ts";
import type { Link } from "../../src/link/link.ts";
import { defaultNodePath, parseNodeVnl } from "../../src/link/node_link.ts";
import { inTempDir } from "../helpers/temp_dir.ts";
import { AS_NOBODY, NOGROUP, run, skipUnlessRoot, sleep, waitFor } from "../helpers/processes.ts";
import { RawClient } from "../helpers/vde_clients.ts";
import { setLogWriter } from "../../src/log.ts";

/** A broadcast (dst 0xff) or unicast frame from MAC ..:src to ..:dst. */
function frame(dst: number, src: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst === 0xff ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [2, 0, 0, 0, 0, dst], 0);
  f.set([2, 0, 0, 0, 0, src, 0x08, 0x00], 6);
  return f;
}

/** Frames a link received, by source MAC's last byte. */
function collect(link: Link): number[] {
  const got: number[] = [];
  link.onFrame = (f) => got.push(f[11]!);
  return got;
}

/** Opens the node `vnl` and `n` vde:// clients of its directory; closes them all after `fn`. */
async function withNode(
  vnl: string,
  dir: string,
  n: number,
  fn: (host: Link, clients: Link[]) => Promise<void>,
): Promise<void> {
  const host = await openLink(vnl);
  const clients: Link[] = [];
  try {
    for (let i = 0; i < n; i++) clients.push(await openLink(`vde://${dir}`, { receiveThread: false }));
    await fn(host, clients);
  } finally {
    for (const c of clients) c.close();
    host.close();
  }
}

/** Lets the datagrams cross. */
const settle = () => sleep(150);

Deno.test("hub:// floods: a client's frame reaches the other clients and the opener's end", async () => {
  await inTempDir("nn1-hub-", async (tmp) => {
    const dir = `${tmp}/hub`;
    await withNode(`hub://${dir}`, dir, 3, async (host, [a, b, c]) => {
      const [gh, ga, gb, gc] = [collect(host), collect(a!), collect(b!), collect(c!)];
      a!.send(frame(2, 1));
      host.send(frame(3, 9));
      await waitFor(() => gh.length === 1 && gb.length === 2 && gc.length === 2, {
        timeoutMs: 5000,
        what: "flooded frames",
      });
      await settle();
      assert.deepEqual([gh, ga, gb.sort(), gc.sort()], [[1], [9], [1, 9], [1, 9]]);
    });
  });
});

Deno.test("switch:// learns: once two clients have spoken, a third sees none of their unicast", async () => {
  await inTempDir("nn1-sw-", async (tmp) => {
    const dir = `${tmp}/sw`;
    await withNode(`switch://${dir}`, dir, 3, async (host, [a, b, c]) => {
      const [gh, ga, gb, gc] = [collect(host), collect(a!), collect(b!), collect(c!)];
      a!.send(frame(0xff, 1));
      b!.send(frame(0xff, 2));
      await waitFor(() => gc.length === 2 && gh.length === 2, { timeoutMs: 5000, what: "the broadcasts" });
      a!.send(frame(2, 1));
      b!.send(frame(1, 2));
      host.send(frame(1, 9));
      await waitFor(() => ga.length === 3 && gb.length === 2, {
        timeoutMs: 5000,
        what: "the unicast frames",
      });
      await settle();
      assert.deepEqual(gc, [1, 2], "the third client saw the broadcasts only");
      assert.deepEqual(gh, [1, 2], "so did the opener's end");
      assert.deepEqual(ga.sort(), [2, 2, 9]);
    });
  });
});

Deno.test("multi:// sends the opener's frames on every client and brings any client's to the opener alone", async () => {
  await inTempDir("nn1-multi-", async (tmp) => {
    const dir = `${tmp}/m`;
    await withNode(`multi://${dir}`, dir, 2, async (host, [a, b]) => {
      const [gh, ga, gb] = [collect(host), collect(a!), collect(b!)];
      host.send(frame(0xff, 9));
      a!.send(frame(0xff, 1));
      await waitFor(() => ga.length === 1 && gb.length === 1 && gh.length === 1, {
        timeoutMs: 5000,
        what: "multi frames",
      });
      await settle();
      assert.deepEqual([gh, ga, gb], [[1], [9], [9]]);
    });
  });
});

Deno.test("bonding:// deals the opener's frames to its clients in turn", async () => {
  await inTempDir("nn1-bond-", async (tmp) => {
    const dir = `${tmp}/b`;
    await withNode(`bonding://${dir}`, dir, 2, async (host, [a, b]) => {
      const [gh, ga, gb] = [collect(host), collect(a!), collect(b!)];
      for (let i = 0; i < 4; i++) host.send(frame(0xff, 9));
      b!.send(frame(0xff, 2));
      await waitFor(() => ga.length + gb.length === 4 && gh.length === 1, {
        timeoutMs: 5000,
        what: "bonded frames",
      });
      await settle();
      assert.deepEqual([ga.length, gb.length, gh], [2, 2, [2]]);
    });
  });
});

Deno.test("a node's directory takes mode= as a switch's --mode, and goes when its end closes", async () => {
  await inTempDir("nn1-mode-", async (tmp) => {
    const dir = `${tmp}/h`;
    const host = await openLink(`hub://${dir}[mode=0666]`);
    try {
      assert.equal(Deno.statSync(dir).mode! & 0o7777, 0o3777);
      // vdeplug4 clears the execute bits of mode=.
      assert.equal(Deno.lstatSync(`${dir}/ctl`).mode! & 0o777, 0o666);
    } finally {
      host.close();
    }
    assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
    const plain = await openLink(`switch://${dir}`);
    try {
      assert.equal(Deno.statSync(dir).mode! & 0o7777, 0o2700);
    } finally {
      plain.close();
    }
  });
});

Deno.test("a node's options: vdeplug4's keys and abbreviations, one-line refusals, the default path", () => {
  const v = parseNodeVnl("switch", "/tmp/x[mode=660/dirm=2770/hashs=1024/exp=30/hashse=7]");
  assert.deepEqual(
    [v.path, v.mode, v.dirMode, v.maxEntries, v.expireSeconds, v.hashSeed],
    ["/tmp/x", 0o660, 0o2770, 1024, 30, 7],
  );
  assert.equal(parseNodeVnl("hub", "/tmp/x[mode=777]").mode, 0o666);
  assert.deepEqual(parseNodeVnl("hub", "/tmp/x[hashsize=9]").ignored, ["hashsize"]);
  assert.equal(parseNodeVnl("hub", "").path, defaultNodePath());
  assert.match(defaultNodePath(0), /^\/tmp\/vdenode_root$/);
  for (
    const [rest, why] of [
      ["/x[colour=red]", /^unknown hub:\/\/ option "colour"/],
      ["/x[mode=9]", /^hub:\/\/ mode= must be an octal mode/],
      ["/x[mode=0666", /^missing "\]"/],
    ] as const
  ) {
    assert.throws(
      () => parseNodeVnl("hub", rest),
      (err: Error) => why.test(err.message) && !err.message.includes("\n"),
    );
  }
  assert.throws(() => parseNodeVnl("switch", "/x[hashsize=0]"), /hashsize= must be a whole number from 1/);
});

Deno.test("a node on a directory a live node serves is refused in one line", async () => {
  await inTempDir("nn1-busy-", async (tmp) => {
    const dir = `${tmp}/h`;
    const host = await openLink(`hub://${dir}`);
    try {
      await assert.rejects(openLink(`switch://${dir}`), (err: Error) => {
        assert.match(err.message, /^another switch is already running on/);
        return true;
      });
    } finally {
      host.close();
    }
  });
});

Deno.test("a node's grp= gives its directory and ctl to the group, as a switch's --group does", async (t) => {
  if (skipUnlessRoot(t)) return;
  await inTempDir("nn1-grp-", async (tmp) => {
    const dir = `${tmp}/h`;
    const host = await openLink(`hub://${dir}[mode=660/grp=${NOGROUP}]`);
    try {
      assert.deepEqual([Deno.statSync(dir).gid, Deno.statSync(dir).mode! & 0o7777], [NOGROUP, 0o3770]);
      assert.deepEqual([Deno.lstatSync(`${dir}/ctl`).gid, Deno.lstatSync(`${dir}/ctl`).mode! & 0o777], [
        NOGROUP,
        0o660,
      ]);
    } finally {
      host.close();
    }
  });
});

Deno.test("a node's client whose description holds a newline and a terminal escape forges no log line with a runt it sends", async () => {
  await inTempDir("nn1-descr-", async (tmp) => {
    const dir = `${tmp}/hub`;
    const lines: string[] = [];
    setLogWriter((line) => lines.push(line));
    const host = await openLink(`hub://${dir}`);
    const c = await RawClient.connect(dir);
    try {
      await c.handshake(undefined, "evil\nvde switch: forged line\x1b[2J");
      c.send(new Uint8Array(0));
      await waitFor(() => lines.some((l) => l.includes("0-byte")), {
        timeoutMs: 5000,
        what: "the runt's line",
      });
      assert.deepEqual(lines.filter((l) => l.includes("0-byte")), [
        "vde: evil?vde switch: forged line?[2J: dropped a 0-byte frame (shorter than an Ethernet header)\n",
      ]);
    } finally {
      setLogWriter(null);
      await c.close();
      host.close();
    }
  });
});

Deno.test("a node refuses a directory that is another user's (who could swap its ctl), as vdeplug4's refuses one that is there, and leaves it as it was", async (t) => {
  if (skipUnlessRoot(t)) return;
  await inTempDir("nn1-theirs-", async (tmp) => {
    await Deno.chmod(tmp, 0o755);
    // /tmp/vdenode_root made first by nobody, for root's node to serve in.
    const dir = `${tmp}/vdenode_root`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o777);
    await Deno.chown(dir, 65534, NOGROUP);
    await assert.rejects(
      () => openLink(`hub://${dir}`),
      {
        message: `${dir} is nobody's, who could replace the sockets served in it: ` +
          "give a directory of your own with hub://DIR",
      },
    );
    const st = Deno.statSync(dir);
    assert.deepEqual([st.uid, st.mode! & 0o7777], [65534, 0o777]);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing bound in it");
  });
});

Deno.test("a root node whose directory nobody renamed away and replaced serves a client by the renamed path and, closed, touches nothing in nobody's", async (t) => {
  if (skipUnlessRoot(t)) return;
  await inTempDir("nn1-renamed-", async (tmp) => {
    await Deno.chmod(tmp, 0o755);
    const shared = `${tmp}/shared`;
    await Deno.mkdir(shared);
    await Deno.chmod(shared, 0o777); // others may write it, without the sticky bit
    const dir = `${shared}/h`;
    const host = await openLink(`hub://${dir}`);
    const clients: RawClient[] = [];
    // Each name with what it is: a socket bound or renamed in by name would show.
    const kinds = () =>
      [...Deno.readDirSync(dir)].map((e) => {
        const st = Deno.lstatSync(`${dir}/${e.name}`);
        return `${e.name} ${st.isFile ? "file" : st.isSymlink ? "link" : "other"}`;
      }).sort();
    let planted: string[] = [];
    try {
      // Theirs at its name: files named as ports, links named as ctl and as the ports' staging names.
      await run([
        ...AS_NOBODY,
        "sh",
        "-c",
        [
          `set -e; cd '${shared}'; mv h away; mkdir h; cd h; ln -s '${tmp}/victim' ctl`,
          `for f in $(seq 3 64); do : > 001.$f; ln -s '${tmp}/victim' .001.$f.new; done`,
        ].join("\n"),
      ]);
      planted = kinds();
      const got = collect(host);
      const c = await RawClient.open(`${shared}/away`, undefined, { bindDir: tmp });
      clients.push(c);
      assert.ok(c.portPath!.startsWith(`${shared}/away/`), `told ${c.portPath}`);
      c.send(frame(0xff, 7));
      await waitFor(() => got.includes(7), { timeoutMs: 5000, what: "the client's frame at the node's end" });
      await c.close();
      clients.length = 0;
    } finally {
      for (const c of clients) await c.close();
      host.close();
    }
    await sleep(100);
    assert.deepEqual(kinds(), planted, "nobody's directory as they left it");
    assert.throws(() => Deno.lstatSync(`${tmp}/victim`), Deno.errors.NotFound);
    assert.deepEqual(
      [...Deno.readDirSync(`${shared}/away`)],
      [],
      "the node's own sockets removed where it went",
    );
  });
});
