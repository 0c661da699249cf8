/** The switch an empty VNL names: the user's vdeplug4 default (a symlink or a file holding a VNL), then the system's. */
import assert from "node:assert/strict";
import { defaultSwitchDir } from "../../src/link/default_switch.ts";
import {
  AS_NOBODY,
  AS_NOGROUP_MEMBER,
  AS_OTHER_USER,
  run,
  type RunResult,
  skipUnlessRoot,
  spawnManaged,
  waitFor,
  waitForPath,
} from "../helpers/processes.ts";
import { VDE_CLI } from "../helpers/switches.ts";
import { inOwnMounts } from "../helpers/mount_namespace.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { openVdeLink } from "../../src/link/vde_link.ts";
import { buildSockaddrUn } from "../../src/wire/sockaddr_un.ts";

async function withHome(body: (home: string) => Promise<void> | void): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "vde-default-switch-" });
  try {
    await Deno.mkdir(`${home}/.vde2`);
    await body(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("~/.vde2/default.switch as a symlink names the switch directory it points at", () =>
  withHome(async (home) => {
    await Deno.symlink("/tmp/u16-some-switch", `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), "/tmp/u16-some-switch");
  }));

Deno.test("~/.vde2/default.switch as a file holding vde:///DIR or DIR names DIR; ~/.vdeplug/default comes first", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vde:///tmp/u16-net\n");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-net");
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "/tmp/u16-net2\n");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-net2");
    await Deno.mkdir(`${home}/.vdeplug`);
    await Deno.writeTextFile(`${home}/.vdeplug/default`, "vde:///tmp/u16-first");
    assert.equal(defaultSwitchDir(home), "/tmp/u16-first");
  }));

Deno.test("a default file naming another scheme is refused with its name, not taken as a path", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vxvde://239.0.0.1\n");
    assert.throws(
      () => defaultSwitchDir(home),
      new RegExp(
        `^Error: ${home}/\\.vde2/default\\.switch names "vxvde://239\\.0\\.0\\.1", which is no vde:// switch`,
      ),
    );
  }));

Deno.test("without a user default, the system's switch directory is taken, or the error names all three places", () =>
  withHome((home) => {
    let found: string | undefined;
    for (const p of ["/var/run/vde.ctl", "/tmp/vde.ctl"]) {
      try {
        Deno.statSync(`${p}/ctl`);
        found ??= p;
      } catch { /* not running */ }
    }
    if (found !== undefined) assert.equal(defaultSwitchDir(home), found);
    else {assert.throws(
        () => defaultSwitchDir(home),
        /none in ~\/\.vdeplug\/default or ~\/\.vde2\/default\.switch, and no switch at/,
      );}
  }));

Deno.test("a relative symlink counts from the link's directory, and a symlink to a file reads the VNL in that file", () =>
  withHome(async (home) => {
    await Deno.mkdir(`${home}/sw`);
    await Deno.symlink("../sw", `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), `${home}/.vde2/../sw`);
    assert.equal(Deno.realPathSync(defaultSwitchDir(home)), Deno.realPathSync(`${home}/sw`));
    await Deno.writeTextFile(`${home}/net.vnl`, "vde:///tmp/u16-via-file  \n");
    await Deno.remove(`${home}/.vde2/default.switch`);
    await Deno.symlink(`${home}/net.vnl`, `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), "/tmp/u16-via-file");
  }));

Deno.test("a symlink loop as the default is taken as the path it names, so the open fails on it, not the lookup", () =>
  withHome(async (home) => {
    await Deno.symlink(`${home}/.vde2/default.switch`, `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home), `${home}/.vde2/default.switch`);
  }));

Deno.test("a default VNL with a port or options is refused, saying to give them in the VNL, not plugged without them", () =>
  withHome(async (home) => {
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vde:///tmp/u16-net[3]\n");
    assert.throws(
      () => defaultSwitchDir(home),
      /names "vde:\/\/\/tmp\/u16-net\[3\]": a default switch's port or options are not taken from it here; write vde:\/\/\/tmp\/u16-net there and give them in the VNL \(vde plug 'vde:\/\/\[3\]'\)$/,
    );
  }));

Deno.test("a directory as the default is the switch directory itself, as vde_switch -s ~/.vdeplug/default makes it", () =>
  withHome(async (home) => {
    await Deno.mkdir(`${home}/.vdeplug/default`, { recursive: true });
    assert.equal(defaultSwitchDir(home), `${home}/.vdeplug/default`);
  }));

Deno.test("a system default switch of another user is named with its owner, not reported as no switch at all", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-other-" });
  try {
    await Deno.chmod(tmp, 0o755);
    // Another user's /tmp/vde.ctl: its directory is its own, mode 2700.
    const theirs = `${tmp}/vde.ctl`;
    await Deno.mkdir(theirs);
    await Deno.writeTextFile(`${theirs}/ctl`, "");
    await Deno.chown(theirs, 65534, 65534);
    await Deno.chmod(theirs, 0o2700);
    const mod = new URL("../../src/link/default_switch.ts", import.meta.url).href;
    const code = `import { defaultSwitchDir } from "${mod}";\n` +
      `try { defaultSwitchDir(undefined, ["${tmp}/none", "${theirs}"]); } catch (e) { console.log(e.message); }`;
    const r = await run([...AS_OTHER_USER, Deno.execPath(), "eval", code]);
    assert.equal(
      r.stdout,
      `no switch path given, none in ~/.vdeplug/default or ~/.vde2/default.switch, and ${theirs} is another ` +
        "user's (owner nobody, mode 2700): give the switch's directory, or start your own (vde switch --sock DIR) " +
        "and name it\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A root test's other user's system default switch: `dir` and its ctl made nobody's (or only the ctl). */
async function nobodysSwitchDir(dir: string, only: "dir" | "ctl" = "dir"): Promise<void> {
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/ctl`, "");
  await Deno.chown(only === "dir" ? dir : `${dir}/ctl`, 65534, 65534);
}

Deno.test("root refuses a system default switch of another user's, naming its owner and how to join it on purpose", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-root-" });
  try {
    await nobodysSwitchDir(`${tmp}/vde.ctl`);
    await Deno.chmod(`${tmp}/vde.ctl`, 0o2755);
    const defaults = [`${tmp}/none`, `${tmp}/vde.ctl`];
    assert.throws(() => defaultSwitchDir(undefined, defaults), {
      name: "OthersDefaultSwitch",
      message:
        `${tmp}/vde.ctl is nobody's, not root's (owner nobody, mode 2755): root does not join another ` +
        `user's switch unasked; name it to join it on purpose (vde://${tmp}/vde.ctl)`,
    });
    // Its ctl alone theirs (a socket put in a directory others may write): theirs as well.
    await Deno.remove(`${tmp}/vde.ctl`, { recursive: true });
    await nobodysSwitchDir(`${tmp}/vde.ctl`, "ctl");
    assert.throws(
      () => defaultSwitchDir(undefined, defaults, (dir) => `vde slirp --sock ${dir}`),
      new RegExp(
        `^OthersDefaultSwitch: ${tmp}/vde\\.ctl is nobody's, not root's \\(${tmp}/vde\\.ctl/ctl: owner nobody, ` +
          `mode 644\\): .*\\(vde slirp --sock ${tmp}/vde\\.ctl\\)$`,
      ),
    );
    // A symlink of theirs at the name, to a switch of root's: where it leads is theirs to say.
    await Deno.remove(`${tmp}/vde.ctl`, { recursive: true });
    await Deno.mkdir(`${tmp}/roots`);
    await Deno.writeTextFile(`${tmp}/roots/ctl`, "");
    await Deno.symlink(`${tmp}/roots`, `${tmp}/vde.ctl`);
    await run(["chown", "-h", "65534:65534", `${tmp}/vde.ctl`]);
    assert.throws(() => defaultSwitchDir(undefined, defaults), /\(a symlink of theirs\): root does not join/);
    // Root's own there is taken, as before.
    await Deno.remove(`${tmp}/vde.ctl`);
    await Deno.rename(`${tmp}/roots`, `${tmp}/vde.ctl`);
    assert.equal(defaultSwitchDir(undefined, defaults), `${tmp}/vde.ctl`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("root's own user default is followed to another user's switch: root named it", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withHome(async (home) => {
    await nobodysSwitchDir(`${home}/theirs`);
    await Deno.symlink(`${home}/theirs`, `${home}/.vde2/default.switch`);
    assert.equal(defaultSwitchDir(home, [`${home}/theirs`]), `${home}/theirs`);
  });
});

const FOLLOW = "root does not follow another user's default unasked";

Deno.test("root refuses a user default under a HOME of another user's (sudo -E, su without -), naming the file, what is theirs and the switch to name", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withHome(async (home) => {
    const file = `${home}/.vdeplug/default`;
    await Deno.mkdir(`${home}/.vdeplug`);
    await Deno.writeTextFile(file, "vde:///tmp/sec7-their-net\n");
    const refused = (what: string, join = "vde:///tmp/sec7-their-net") =>
      `${file} is ${what}: ${FOLLOW} (HOME=${home}); name the switch to join it on purpose (${join})`;
    // The home itself theirs: they may rename .vdeplug away and put their own there at any moment.
    await Deno.chown(home, 65534, 65534);
    assert.throws(() => defaultSwitchDir(home, []), {
      name: "OthersDefaultSwitch",
      message: refused(`nobody's, not root's (${home}, a directory of nobody's)`),
    });
    await Deno.chown(home, 0, 0);
    await Deno.chown(`${home}/.vdeplug`, 65534, 65534);
    assert.throws(() => defaultSwitchDir(home, []), {
      message: refused(`nobody's, not root's (${home}/.vdeplug, a directory of nobody's)`),
    });
    await Deno.chown(`${home}/.vdeplug`, 0, 0);
    // Root's, but anyone may replace the file in it.
    await Deno.chmod(`${home}/.vdeplug`, 0o777);
    assert.throws(() => defaultSwitchDir(home, []), {
      message: refused(`not root's alone (${home}/.vdeplug, a directory anyone may write (mode 0777))`),
    });
    await Deno.chmod(`${home}/.vdeplug`, 0o755);
    // Root's file, but anyone may write the switch into it.
    await Deno.chmod(file, 0o666);
    assert.throws(() => defaultSwitchDir(home, []), {
      message: refused("not root's alone (a file anyone may write, owner root, mode 666)"),
    });
    await Deno.chmod(file, 0o644);
    await Deno.chown(file, 65534, 65534);
    assert.throws(() => defaultSwitchDir(home, []), {
      message: refused("nobody's, not root's (owner nobody, mode 644)"),
    });
    // Their symlink as the default, and the hint in the caller's words.
    await Deno.remove(file);
    await Deno.symlink("/tmp/sec7-their-dir", file);
    await run(["chown", "-h", "65534:65534", file]);
    assert.throws(() => defaultSwitchDir(home, [], (d) => `vde slirp --sock ${d}`), {
      message: refused("nobody's, not root's (a symlink of theirs)", "vde slirp --sock /tmp/sec7-their-dir"),
    });
    // The old name too, behind no default of the new.
    await Deno.remove(`${home}/.vdeplug`, { recursive: true });
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "/tmp/sec7-old\n");
    await Deno.chown(`${home}/.vde2`, 65534, 65534);
    assert.throws(() => defaultSwitchDir(home, []), {
      message: new RegExp(`^${home}/\\.vde2/default\\.switch is nobody's, not root's \\(${home}/\\.vde2, `),
    });
  });
});

Deno.test("root's own user default is followed, as under sudo's reset HOME; a HOME without one falls through to the system default", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withHome(async (home) => {
    await Deno.mkdir(`${home}/.vdeplug`);
    await Deno.writeTextFile(`${home}/.vdeplug/default`, "vde:///tmp/sec7-roots-net\n");
    assert.equal(defaultSwitchDir(home, []), "/tmp/sec7-roots-net");
    // Another user's home with no default in it is no refusal: nothing there chose anything.
    await Deno.remove(`${home}/.vdeplug`, { recursive: true });
    await Deno.chown(home, 65534, 65534);
    await nobodysSwitchDir(`${home}/sys`, "ctl");
    await Deno.chown(`${home}/sys/ctl`, 0, 0);
    assert.equal(defaultSwitchDir(home, [`${home}/sys`]), `${home}/sys`);
  });
});

Deno.test("root never follows a default another user makes and removes in a loop under their HOME: not there at one look is no promise for the next", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withHome(async (home) => {
    await Deno.mkdir(`${home}/.vdeplug`);
    await run(["chown", "-R", "65534:65534", home]);
    // Their file made whole (renamed in) and removed at once, over and over: absent at the look for the
    // refusal and there at the read took it (28 of 13,000 looks in 5 s, tried).
    const racer = spawnManaged([
      ...AS_NOBODY,
      "sh",
      "-c",
      `cd ${home}/.vdeplug && while :; do echo vde:///tmp/sec7-race-theirs > t; mv t default; rm -f default; done`,
    ]);
    const seen = { followed: 0, refused: 0, none: 0 };
    try {
      const end = Date.now() + 4000;
      while (Date.now() < end && seen.followed === 0) {
        try {
          if (defaultSwitchDir(home, []) === "/tmp/sec7-race-theirs") seen.followed++;
        } catch (err) {
          if ((err as Error).name === "OthersDefaultSwitch") seen.refused++;
          else seen.none++;
        }
      }
    } finally {
      await racer.stop({ signal: "SIGKILL" });
    }
    assert.equal(seen.followed, 0, `their default was followed (${JSON.stringify(seen)})`);
    // The loop ran against both looks: refused when there, nothing when not.
    assert.ok(seen.refused > 0 && seen.none > 0, JSON.stringify(seen));
  });
});

Deno.test("another user's system default switch is taken by a caller who is not root, as a shared lab switch is meant to be", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-default-nonroot-" });
  try {
    await Deno.chmod(tmp, 0o755);
    await nobodysSwitchDir(`${tmp}/vde.ctl`);
    await Deno.chmod(`${tmp}/vde.ctl`, 0o755);
    const mod = new URL("../../src/link/default_switch.ts", import.meta.url).href;
    const code = `import { defaultSwitchDir } from "${mod}";\n` +
      `console.log(defaultSwitchDir(undefined, ["${tmp}/vde.ctl"]));`;
    const r = await run([...AS_NOGROUP_MEMBER, Deno.execPath(), "eval", code], { check: false });
    assert.equal(r.stdout, `${tmp}/vde.ctl\n`, r.stderr);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/**
 * `vde ARGS` as root in a mount namespace of its own whose /tmp and /run (so /var/run) are `root`'s tmp and
 * run, HOME an empty /tmp/home: the system defaults it finds are the test's, never the machine's, so a
 * parallel test cannot collide with them. Every process of a test sees the same two directories.
 */
function vdeIn(root: string, args: string[]): string[] {
  return inOwnMounts('mount --bind "$0/run" /run\nmount --bind "$0/tmp" /tmp', root, [
    "env",
    "HOME=/tmp/home",
    ...VDE_CLI,
    ...args,
  ]);
}

/** Asserts `r` a one-line refusal, status 1. */
function assertRefused(r: RunResult, line: string): void {
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, `vde: ${line}\n`);
}

/** This process's descriptors of `dir` or a file in it. */
function heldOf(dir: string): string[] {
  const held: string[] = [];
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      const at = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
      if (at === dir || at.startsWith(`${dir}/`)) held.push(at);
    } catch { /* closed meanwhile */ }
  }
  return held;
}

/** The entries of `dir`, sorted. */
function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

const JOIN = "root does not join another user's switch unasked; name it to join it on purpose";

Deno.test("root's vde plug '', vde slirp and vde term refuse a default switch of another user's in one line, join it named, and join root's own", async (t) => {
  if (skipUnlessRoot(t)) return;
  const root = await Deno.makeTempDir({ prefix: "vde-default-e2e-" });
  const vde = (args: string[]) => run(vdeIn(root, args), { check: false, timeoutMs: 30_000 });
  let sw: ReturnType<typeof spawnManaged> | undefined;
  try {
    await Deno.mkdir(`${root}/tmp/home`, { recursive: true });
    await Deno.chmod(`${root}/tmp`, 0o1777);
    await Deno.mkdir(`${root}/run`);
    // A /tmp/vde.ctl another user made first (no switch of root's at /var/run/vde.ctl).
    await nobodysSwitchDir(`${root}/tmp/vde.ctl`);
    await Deno.chmod(`${root}/tmp/vde.ctl`, 0o755);
    const tmpTheirs = `/tmp/vde.ctl is nobody's, not root's (owner nobody, mode 755): ${JOIN}`;
    assertRefused(
      await vde(["plug", "", "null://"]),
      `cannot open '' (the default switch): ${tmpTheirs} (vde:///tmp/vde.ctl)`,
    );
    // A port asked for is kept in the VNL that joins it on purpose.
    assertRefused(
      await vde(["plug", "vde://[3]", "null://"]),
      `cannot open vde://[3]: ${tmpTheirs} (vde:///tmp/vde.ctl[3])`,
    );
    assertRefused(
      await vde(["slirp", "-d", "-p", "/tmp/slirp.pid"]),
      `${tmpTheirs} (vde slirp --sock /tmp/vde.ctl)`,
    );
    assertRefused(
      await vde(["term", "vde://", "-c", "port/print"]),
      `vde://: ${tmpTheirs} (vde term /tmp/vde.ctl)`,
    );
    // Nothing made or left in their directory or beside it (no pid file, no socket of a handshake).
    assert.deepEqual(entries(`${root}/tmp`), ["home", "vde.ctl"]);
    assert.deepEqual(entries(`${root}/tmp/vde.ctl`), ["ctl"]);
    await Deno.remove(`${root}/tmp/vde.ctl`, { recursive: true });

    // A running switch at /var/run/vde.ctl whose directory is another user's.
    sw = spawnManaged(vdeIn(root, ["switch", "--sock", "/var/run/vde.ctl"]), { name: "vde switch" });
    await waitForPath(`${root}/run/vde.ctl/mgmt`, 30_000, true);
    await Deno.chown(`${root}/run/vde.ctl`, 65534, 65534);
    const served = entries(`${root}/run/vde.ctl`);
    const mode = (Deno.statSync(`${root}/run/vde.ctl`).mode! & 0o7777).toString(8);
    const theirs = `/var/run/vde.ctl is nobody's, not root's (owner nobody, mode ${mode}): ${JOIN}`;
    assertRefused(
      await vde(["plug"]),
      `cannot open '' (the default switch): ${theirs} (vde:///var/run/vde.ctl)`,
    );
    assertRefused(
      await vde(["slirp", "-d", "-p", "/tmp/slirp.pid"]),
      `${theirs} (vde slirp --sock /var/run/vde.ctl)`,
    );
    assertRefused(await vde(["term", "-c", "port/print"]), `${theirs} (vde term /var/run/vde.ctl)`);
    const ports = await vde(["term", "/var/run/vde.ctl", "-c", "port/print"]);
    assert.equal(ports.code, 0, ports.stderr);
    assert.doesNotMatch(ports.stdout, /Port \d+/, "no port was opened by a refused client");
    assert.deepEqual(entries(`${root}/run/vde.ctl`), served);
    assert.deepEqual(entries(`${root}/tmp`), ["home"]);

    // Named, it is joined as before: stdin ends at once, so the plug joined, then leaves with status 0.
    const plugged = await vde(["plug", "/var/run/vde.ctl"]);
    assert.equal(plugged.code, 0, plugged.stderr);
    const slirp = await vde(["slirp", "--sock", "/var/run/vde.ctl", "-d", "-p", "/tmp/slirp.pid"]);
    assert.equal(slirp.code, 0, slirp.stderr);
    Deno.kill(Number((await Deno.readTextFile(`${root}/tmp/slirp.pid`)).trim()), "SIGTERM");
    await waitFor(() => !entries(`${root}/tmp`).includes("slirp.pid"), {
      timeoutMs: 10_000,
      what: "the slirp to go",
    });

    // Root's own system default is taken, unasked, as before.
    await Deno.chown(`${root}/run/vde.ctl`, 0, 0);
    const own = await vde(["plug"]);
    assert.equal(own.code, 0, own.stderr);
    const term = await vde(["term", "-c", "port/print"]);
    assert.equal(term.code, 0, term.stderr);
  } finally {
    await sw?.stop();
    await Deno.remove(root, { recursive: true });
  }
});

/** A mount namespace root for `vdeIn`: its tmp (with an empty home) and run, both empty. */
async function namespaceRoot(prefix: string): Promise<string> {
  const root = await Deno.makeTempDir({ prefix });
  await Deno.mkdir(`${root}/tmp/home`, { recursive: true });
  await Deno.chmod(`${root}/tmp`, 0o1777);
  await Deno.mkdir(`${root}/run`);
  return root;
}

Deno.test("root's vde term vde:// refuses another user's DIR.mgmt beside root's own default switch, sending it nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const root = await namespaceRoot("vde-default-mgmt-");
  // Root's /tmp/vde.ctl serves no console inside; anyone may make /tmp/vde.ctl.mgmt, where vde term looks next.
  await Deno.mkdir(`${root}/tmp/vde.ctl`);
  await Deno.writeTextFile(`${root}/tmp/vde.ctl/ctl`, "");
  const fake = Deno.listen({ transport: "unix", path: `${root}/tmp/vde.ctl.mgmt` });
  await Deno.chown(`${root}/tmp/vde.ctl.mgmt`, 65534, 65534);
  let heard = "";
  const serving = (async () => {
    for await (const conn of fake) {
      const buf = new Uint8Array(1024);
      await conn.write(new TextEncoder().encode("theirs\nvde$ ")).catch(() => {});
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        heard += new TextDecoder().decode(buf.subarray(0, n));
        await conn.write(new TextEncoder().encode("1000 Success\n\nvde$ ")).catch(() => {});
      }
      conn.close();
    }
  })();
  try {
    const r = await run(vdeIn(root, ["term", "vde://", "-c", "port/print"]), {
      check: false,
      timeoutMs: 30_000,
    });
    assertRefused(
      r,
      `/tmp/vde.ctl.mgmt is nobody's, not root's (owner nobody, mode ${
        (Deno.statSync(`${root}/tmp/vde.ctl.mgmt`).mode! & 0o7777).toString(8)
      }): ${JOIN} (vde term /tmp/vde.ctl.mgmt)`,
    );
    assert.equal(heard, "", "root's commands went to their socket");
  } finally {
    fake.close();
    await serving.catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("root's vde plug '' refuses a default switch of root's whose answer is a port socket of another user's, joining nothing", async (t) => {
  if (skipUnlessRoot(t)) return;
  const root = await namespaceRoot("vde-default-port-");
  // Root's directory, open to a group that could swap names in it: the ctl is root's, the socket it answers
  // with (put there in its place) nobody's.
  await Deno.mkdir(`${root}/run/vde.ctl`);
  const ctl = Deno.listen({ transport: "unix", path: `${root}/run/vde.ctl/ctl` });
  const theirs = UnixDgramSocket.create();
  theirs.bind(`${root}/run/vde.ctl/theirs`);
  await Deno.chown(`${root}/run/vde.ctl/theirs`, 65534, 65534);
  const serving = (async () => {
    for await (const conn of ctl) {
      await conn.read(new Uint8Array(4096)).catch(() => null);
      await conn.write(buildSockaddrUn("/run/vde.ctl/theirs")).catch(() => {});
      // Held open as a switch holds its ctl stream, until the plug leaves.
      await conn.read(new Uint8Array(16)).catch(() => null);
      conn.close();
    }
  })();
  try {
    const theirsLine = (join: string) =>
      `/var/run/vde\\.ctl is nobody's, not root's \\(its port socket /run/vde\\.ctl/theirs: owner nobody, ` +
      `mode \\d+\\): ${JOIN} \\(${join}\\)`;
    const plugged = await run(vdeIn(root, ["plug"]), { check: false, timeoutMs: 30_000 });
    assert.equal(plugged.code, 1, plugged.stderr);
    assert.match(
      plugged.stderr,
      new RegExp(
        `^vde: cannot open '' \\(the default switch\\): ${theirsLine("vde:///var/run/vde\\.ctl")}\n$`,
      ),
    );
    // vde slirp found the default itself, before the connect: judged there all the same.
    const slirp = await run(vdeIn(root, ["slirp", "--no-thread"]), { check: false, timeoutMs: 30_000 });
    assert.equal(slirp.code, 1, slirp.stderr);
    assert.match(slirp.stderr, new RegExp(`^vde: ${theirsLine("vde slirp --sock /var/run/vde\\.ctl")}\n$`));
    // In the background, on its thread: the start says it, and nothing runs on.
    const daemon = await run(vdeIn(root, ["slirp", "-d", "-p", "/tmp/slirp.pid"]), {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(daemon.code, 1, daemon.stderr);
    assert.match(daemon.stderr, new RegExp(`${theirsLine("vde slirp --sock /var/run/vde\\.ctl")}\n$`));
    assert.deepEqual(entries(`${root}/tmp`), ["home"]);
  } finally {
    ctl.close();
    await serving.catch(() => {});
    theirs.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a default root took unasked is judged at the connect on the files held: another user's ctl socket or directory is refused, nothing made in it", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-default-held-" });
  // As vde slirp passes it: the default found before, by name; here only the connect looks.
  const unasked = { name: "/tmp/vde.ctl", join: (d: string) => `vde://${d}` };
  const ctl = Deno.listen({ transport: "unix", path: `${dir}/ctl` });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of ctl) {
      accepted++;
      conn.close();
    }
  })();
  try {
    await Deno.chmod(dir, 0o755);
    await Deno.chown(`${dir}/ctl`, 65534, 65534);
    await assert.rejects(openVdeLink(dir, { unasked }), {
      name: "OthersDefaultSwitch",
      message: new RegExp(
        `^/tmp/vde\\.ctl is nobody's, not root's \\(${dir}/ctl: owner nobody, mode \\d+\\): ${JOIN} ` +
          `\\(vde:///tmp/vde\\.ctl\\)$`,
      ),
    });
    await Deno.chown(`${dir}/ctl`, 0, 0);
    await Deno.chown(dir, 65534, 65534);
    await assert.rejects(openVdeLink(dir, { unasked }), {
      name: "OthersDefaultSwitch",
      message: /^\/tmp\/vde\.ctl is nobody's, not root's \(owner nobody, mode 755\): /,
    });
    assert.equal(accepted, 0, "their ctl was connected to");
    assert.deepEqual(entries(dir), ["ctl"]);
    assert.deepEqual(heldOf(dir), [], "a refusal let go of the directory and its ctl");
  } finally {
    ctl.close();
    await serving.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
