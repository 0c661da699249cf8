/**
 * Starting a switch on a directory another user owns (the default
 * /tmp/vde.ctl that another user's switch made its own) is refused in words
 * that name the owner and the way out, not as the kernel's bare "bind:
 * Permission denied". The other user is played as in plug_permission:
 * root without CAP_DAC_OVERRIDE, on a directory handed to nobody.
 */
import assert from "node:assert/strict";
import { AS_NOBODY, AS_OTHER_USER, run, skipUnlessRoot } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { deniedDirectory, reclaimStaleCtl, VdeSwitchServer } from "../../src/vde/switch_server.ts";
import { Switch } from "../../src/switch/switch.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";
import { appearedUnderUmask000, listenedUnderUmask000, widerThan } from "../helpers/listen_modes.ts";
import { sessionLockPath } from "../../src/cable/session_lock.ts";
import { holdDirectory } from "../../src/os/held_dir.ts";
import { RawClient, until } from "../helpers/vde_clients.ts";
import { buildVdeRequest, REQ_NEW_CONTROL } from "../../src/wire/vde_request.ts";

Deno.test("a switch on another user's directory says whose it is and to give --sock a directory of one's own", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-owner-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const dir = `${tmp}/sw`;
    await Deno.mkdir(dir, { mode: 0o2700 });
    await Deno.chmod(dir, 0o2700);
    await Deno.chown(dir, 65534, 65534);
    const r = await run([...AS_OTHER_USER, ...ourCli(), "switch", "-s", dir, "-d"], {
      check: false,
      timeoutMs: 30_000,
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `vde: cannot serve ${dir}: permission denied (owner nobody, mode 2700; another user's switch?): ` +
        "give a directory of your own with --sock DIR\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a refused directory that cannot even be looked at is still reported as permission denied, not as the failed look", () => {
  const dir = `/nonexistent-${Deno.pid}/sw`;
  const err = deniedDirectory(dir, new Deno.errors.PermissionDenied("bind"));
  assert.equal(
    err?.message,
    `cannot serve ${dir}: permission denied (another user's switch?): give a directory of your own with --sock DIR`,
  );
  assert.equal(deniedDirectory(dir, new Error("other")), undefined, "other errors are left as they are");
});

/** The mode bits (setgid and sticky included) and group of a path. */
async function modeAndGroup(path: string): Promise<{ mode: string; gid: number | null }> {
  const st = await Deno.stat(path);
  return { mode: ((st.mode ?? 0) & 0o7777).toString(8), gid: st.gid };
}

Deno.test("a group's switch: a member of the group cannot move the switch's ctl or mgmt aside for its own", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-sticky-" });
  const sw = new Switch({ numPorts: 4 });
  // The member: uid and gid nobody, the switch's group nogroup (65534), no user to create.
  const server = await VdeSwitchServer.start(sw, {
    dir: `${tmp}/sw`,
    mode: 0o660,
    gid: 65534,
    log: () => {},
  });
  try {
    await Deno.chmod(tmp, 0o755);
    assert.deepEqual(await modeAndGroup(`${tmp}/sw`), { mode: "3770", gid: 65534 });
    const member = AS_NOBODY;
    const move = await run([...member, "mv", `${tmp}/sw/ctl`, `${tmp}/sw/ctl.theirs`], { check: false });
    assert.notEqual(move.code, 0, "the member moved the switch's ctl");
    assert.match(move.stderr, /Operation not permitted/);
    assert.ok((await Deno.lstat(`${tmp}/sw/ctl`)).isSocket);
    // Binding its own client socket there, as libvdeplug does, still works.
    const bind = await run([
      ...member,
      "/usr/bin/python3",
      "-c",
      `import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind("${tmp}/sw/.00001-00000")`,
    ], { check: false });
    assert.equal(bind.code, 0, bind.stderr);
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch started again on the directory a killed one left takes this start's mode and group, not the old ones", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-left-" });
  const dir = `${tmp}/sw`;
  // As `--mode 666 --group nogroup` left it after kill -9.
  await Deno.mkdir(dir);
  await Deno.chown(dir, null, 65534);
  await Deno.chmod(dir, 0o2777);
  const sw = new Switch({ numPorts: 4 });
  const server = await VdeSwitchServer.start(sw, { dir, log: () => {} });
  try {
    assert.deepEqual(await modeAndGroup(dir), { mode: "2700", gid: Deno.gid() });
    assert.deepEqual(await modeAndGroup(`${dir}/ctl`), { mode: "600", gid: Deno.gid() });
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Socket files bound at `names` in `dir` and left there, as a switch killed with SIGKILL leaves them. */
function leaveSockets(dir: string, names: string[]): void {
  for (const name of names) {
    const left = UnixDgramSocket.create();
    left.bind(`${dir}/${name}`);
    left.close(false);
  }
}

Deno.test("a switch started again where a killed one left its staging directories and hidden ports removes those of ours, not another user's", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-staging-" });
  const dir = `${tmp}/sw`;
  // As kill -9 in the middle of a bind left it: the ctl, a port, a port's hidden name before the
  // data-plane thread took it, a staging directory with its socket bound; and a member's look-alike.
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o3777);
  await Deno.mkdir(`${dir}/.abcdefgh`, { mode: 0o700 });
  await Deno.mkdir(`${dir}/.zzzzzzzz`, { mode: 0o700 });
  await Deno.chown(`${dir}/.zzzzzzzz`, 65534, 65534);
  leaveSockets(dir, ["ctl", "001.9", ".002.10.new", ".abcdefgh/s"]);
  const sw = new Switch({ numPorts: 4 });
  const server = await VdeSwitchServer.start(sw, { dir, log: () => {} });
  try {
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names, [".zzzzzzzz", "ctl"]);
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a stale ctl is reclaimed, with what a dead switch left beside it, in the directory held, not where its name was made to lead since", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-swapped-" });
  const dir = `${tmp}/sw`;
  const elsewhere = `${tmp}/elsewhere`;
  await Deno.mkdir(dir);
  await Deno.mkdir(`${dir}/.abcdefgh`, { mode: 0o700 });
  leaveSockets(dir, ["ctl", "001.9", ".abcdefgh/s"]);
  // Another directory of root's with the same names (any directory the link might name).
  await Deno.mkdir(elsewhere);
  await Deno.mkdir(`${elsewhere}/.bcdefghi`, { mode: 0o700 });
  leaveSockets(elsewhere, ["ctl", "001.9", ".bcdefghi/s"]);
  const held = holdDirectory(dir);
  try {
    // As a user who may write the parent (no sticky bit) would, once the start holds the directory.
    await Deno.rename(dir, `${tmp}/moved`);
    await Deno.symlink(elsewhere, dir);
    assert.equal(await reclaimStaleCtl(dir, held.listing, () => {}), true);
    assert.deepEqual([...Deno.readDirSync(`${tmp}/moved`)].map((e) => e.name), []);
    const kept = [...Deno.readDirSync(elsewhere)].map((e) => e.name).sort();
    assert.deepEqual(kept, [".bcdefghi", "001.9", "ctl"]);
  } finally {
    held.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a directory a stopped switch left with a killed cable's session lock in it is still narrowed", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-lock-" });
  const dir = `${tmp}/sw`;
  // The switch removed its ctl as it stopped; a cable's holder killed with SIGKILL left its lock file.
  await Deno.mkdir(dir);
  await Deno.chmod(dir, 0o777);
  await Deno.writeTextFile(sessionLockPath(dir, new Uint8Array([0xab, 0xcd])), "");
  const lines: string[] = [];
  const sw = new Switch({ numPorts: 4 });
  const server = await VdeSwitchServer.start(sw, { dir, log: (m) => lines.push(m) });
  try {
    assert.equal((await modeAndGroup(dir)).mode, "2700");
    assert.deepEqual(lines, []);
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("another user's existing directory keeps its mode and group, and the log says who can replace the sockets", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-r13-dir-theirs-" });
  const dir = `${tmp}/sw`;
  // Made by nobody before root's start (or between its mkdir's EEXIST and its open): empty, group-writable.
  await Deno.mkdir(dir);
  await Deno.chown(dir, 65534, 65534);
  await Deno.chmod(dir, 0o2770);
  const lines: string[] = [];
  const sw = new Switch({ numPorts: 4 });
  const server = await VdeSwitchServer.start(sw, { dir, gid: 0, mode: 0o600, log: (m) => lines.push(m) });
  try {
    assert.deepEqual(await modeAndGroup(dir), { mode: "2770", gid: 65534 });
    assert.deepEqual(lines, [
      `${dir} is nobody's, who can replace this switch's sockets in it: its mode and group are left as they are`,
    ]);
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("an existing directory that holds other files, or is reached through a symlink, keeps its mode and group", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-other-" });
  // A home directory given as --sock, and a group member's `sw` pointing at a directory of root's.
  const home = `${tmp}/home`;
  await Deno.mkdir(home, { mode: 0o755 });
  await Deno.chmod(home, 0o755);
  await Deno.writeTextFile(`${home}/.profile`, "");
  await Deno.symlink(home, `${tmp}/sw`);
  try {
    const cases: [string, string][] = [
      [home, "holds other files (no switch's directory)"],
      [`${tmp}/sw`, "is reached through a symlink"],
    ];
    for (const [given, why] of cases) {
      const lines: string[] = [];
      const sw = new Switch({ numPorts: 4 });
      const server = await VdeSwitchServer.start(sw, { dir: given, log: (m) => lines.push(m) });
      try {
        assert.equal((await modeAndGroup(home)).mode, "755", given);
        assert.deepEqual(lines, [`${home} ${why}: its mode and group are left as they are`]);
      } finally {
        server.close();
        sw.close();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a start whose ctl cannot be given its group closes the ctl it listens on, and the process can exit", async (t) => {
  if (skipUnlessRoot(t)) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-ff-ctl-group-" });
  try {
    await Deno.chmod(tmp, 0o755);
    // Root's, open to all: nobody may bind its ctl there, and (in no group 0) may not give it group 0.
    const dir = `${tmp}/sw`;
    await Deno.mkdir(dir);
    await Deno.chmod(dir, 0o777);
    const denoDir = `${tmp}/deno`;
    await Deno.mkdir(denoDir);
    await Deno.chmod(denoDir, 0o777);
    const code =
      `import { VdeSwitchServer } from "${new URL("../../src/vde/switch_server.ts", import.meta.url)}";\n` +
      `import { Switch } from "${new URL("../../src/switch/switch.ts", import.meta.url)}";\n` +
      "const sw = new Switch({ numPorts: 2 });\n" +
      `try { await VdeSwitchServer.start(sw, { dir: ${JSON.stringify(dir)}, gid: 0, log: () => {} }); ` +
      'console.log("started"); } catch (e) { console.log(e.constructor.name); }\n' +
      "sw.close();\n" +
      `try { Deno.lstatSync(${JSON.stringify(`${dir}/ctl`)}); console.log("ctl left"); } ` +
      'catch { console.log("ctl gone"); }\n';
    const r = await run(
      [...AS_NOBODY, "env", `DENO_DIR=${denoDir}`, `HOME=${denoDir}`, Deno.execPath(), "eval", code],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(r.stdout, "PermissionDenied\nctl gone\n", r.stderr);
    assert.equal(r.code, 0);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch starting in a directory that is being removed (a cable's end, a switch stopping) waits, then makes it again", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-removed-" });
  const dir = `${tmp}/sw`;
  await Deno.mkdir(dir, { mode: 0o700 });
  // A removal under way: it holds the directory exclusively, found it without ctl, and removes it.
  const removal = holdDirectory(dir);
  assert.ok(removal.tryLock(true));
  const sw = new Switch({ numPorts: 4 });
  const starting = VdeSwitchServer.start(sw, { dir, log: () => {} });
  await Deno.remove(dir);
  removal.close();
  const server = await starting;
  try {
    assert.ok(Deno.lstatSync(`${dir}/ctl`).isSocket, "served in the directory made again");
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch starting in a directory that is there, then removed before it is held (a cable's end letting go), makes it again", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-dir-gone-" });
  const dir = `${tmp}/sw`;
  await Deno.mkdir(dir, { mode: 0o700 });
  // The removal lands just after the start found the directory there: at its first look at the name.
  const statSync = Deno.statSync;
  let removed = false;
  Deno.statSync = (path: string | URL) => {
    if (!removed && path === dir) {
      removed = true;
      Deno.removeSync(dir);
    }
    return statSync(path);
  };
  const sw = new Switch({ numPorts: 4 });
  let server: VdeSwitchServer | undefined;
  try {
    server = await VdeSwitchServer.start(sw, { dir, log: () => {} });
    assert.ok(removed, "the removal came between");
    assert.ok(Deno.lstatSync(`${dir}/ctl`).isSocket, "served in the directory made again");
  } finally {
    Deno.statSync = statSync;
    server?.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a client socket path with a newline and a terminal escape is logged in its refusal's one printable line", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-refusal-line-" });
  const lines: string[] = [];
  const server = await VdeSwitchServer.start(new Switch({ numPorts: 4 }), {
    dir: `${tmp}/sw`,
    log: (m) => lines.push(m),
  });
  const c = await RawClient.connect(`${tmp}/sw`);
  try {
    const socketPath = "/nonexistent\nvde switch: forged line\x1b[2J";
    await c.sendRaw(buildVdeRequest({ kind: REQ_NEW_CONTROL, port: 0, socketPath, description: "x" }));
    await until("the refusal", () => lines.some((l) => l.startsWith("refused a client")));
    const line = lines.find((l) => l.startsWith("refused a client"))!;
    assert.equal(
      line,
      "refused a client: client socket /nonexistent?vde switch: forged line?[2J does not exist",
    );
  } finally {
    c.close();
    server.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the ctl socket is never wider than --mode, not even as it begins to listen under umask 000", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-ctl-umask-" });
  try {
    for (const mode of [0o600, 0o660]) {
      const sw = new Switch({ numPorts: 2 });
      const [server, files] = await listenedUnderUmask000(() =>
        VdeSwitchServer.start(sw, { dir: `${tmp}/sw`, mode, log: () => {} })
      );
      server.close();
      sw.close();
      assert.equal(files.length, 1, JSON.stringify(files));
      assert.deepEqual(widerThan(files, mode), [], `--mode ${mode.toString(8)}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a port's data socket is never wider than --mode, not even as it appears at its name under umask 000", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-port-umask-" });
  try {
    for (const mode of [0o600, 0o660]) {
      const sw = new Switch({ numPorts: 2 });
      const server = await VdeSwitchServer.start(sw, { dir: `${tmp}/sw`, mode, log: () => {} });
      try {
        // The client binds in a directory of its own: only the switch's names are under sw/.
        await Deno.mkdir(`${tmp}/client`, { recursive: true });
        const [c, files] = await appearedUnderUmask000(() =>
          RawClient.open(`${tmp}/sw`, 1, { bindDir: `${tmp}/client` })
        );
        c.close();
        const ports = files.filter((f) => f.path.startsWith(`${tmp}/sw/`));
        assert.ok(ports.some((f) => f.path === c.portPath), JSON.stringify(files));
        assert.deepEqual(widerThan(ports, mode), [], `--mode ${mode.toString(8)}`);
      } finally {
        server.close();
        sw.close();
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a member who may write a shared switch's directory cannot make new ports fail by making the staging names .0-.99 first", async () => {
  assert.equal(Deno.uid(), 0, "run as root: another user makes the names");
  const tmp = await Deno.makeTempDir({ prefix: "vde-port-staging-" });
  await Deno.chmod(tmp, 0o755);
  const sw = new Switch({ numPorts: 4 });
  // --mode 666: the directory is 3777, anyone may add names to it.
  const server = await VdeSwitchServer.start(sw, { dir: `${tmp}/sw`, mode: 0o666, log: () => {} });
  try {
    const made = await run([
      ...AS_NOBODY,
      "sh",
      "-c",
      'for n in $(seq 0 99); do mkdir "$0/.$n"; done',
      `${tmp}/sw`,
    ], {
      check: false,
    });
    assert.equal(made.code, 0, made.stderr);
    await Deno.mkdir(`${tmp}/client`);
    const c = await RawClient.open(`${tmp}/sw`, 1, { bindDir: `${tmp}/client` });
    assert.ok(c.portPath !== null);
    assert.equal((await Deno.lstat(c.portPath)).isSocket, true);
    c.close();
  } finally {
    server.close();
    sw.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a switch stopped while a client's handshake is under way removes its directory, the client's socket in it too, and the client learns at once", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-stop-handshake-" });
  const sw = new Switch({ numPorts: 4 });
  const lines: string[] = [];
  const dir = `${tmp}/sw`;
  const server = await VdeSwitchServer.start(sw, { dir, log: (m) => lines.push(m) });
  // As vdeplug4's client: its socket bound in the directory, ctl connected, the request not yet sent (a
  // slow client, or one whose request the switch has not read when the stop signal comes).
  const data = UnixDgramSocket.create();
  const ctl = await Deno.connect({ transport: "unix", path: `${dir}/ctl` });
  try {
    data.bind(`${dir}/.${String(Deno.pid).padStart(5, "0")}-00000`);
    await new Promise((r) => setTimeout(r, 100));
    server.close();
    assert.throws(() => Deno.lstatSync(dir), Deno.errors.NotFound, "the directory is removed");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = await Promise.race([
      ctl.read(new Uint8Array(16)).catch(() => null),
      new Promise<"waiting">((r) => timer = setTimeout(() => r("waiting"), 1000)),
    ]);
    clearTimeout(timer);
    assert.equal(read, null, "the client's control connection ends with the switch");
    assert.deepEqual(lines, [], "a stopped switch refuses no one in its log");
  } finally {
    ctl.close();
    data.close(false);
    sw.close();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("two starts at once on a dead switch's directory: exactly one serves it, the other says a switch is running there (50 rounds)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-start-race-" });
  const dir = `${tmp}/sw`;
  try {
    for (let round = 0; round < 50; round++) {
      // As kill -9 left it: ctl, a port, and a staging directory of a bind under way.
      await Deno.mkdir(dir, { recursive: true });
      await Deno.mkdir(`${dir}/.abcdefgh`, { mode: 0o700 });
      leaveSockets(dir, ["ctl", "001.9", ".abcdefgh/s"]);
      const switches = [new Switch({ numPorts: 4 }), new Switch({ numPorts: 4 })];
      const starts = await Promise.allSettled(
        switches.map((sw) => VdeSwitchServer.start(sw, { dir, log: () => {} })),
      );
      const served = starts.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
      const refused = starts.flatMap((s) => s.status === "rejected" ? [(s.reason as Error).message] : []);
      try {
        assert.equal(
          served.length,
          1,
          `round ${round}: ${served.length} served, refused: ${refused.join("; ")}`,
        );
        assert.deepEqual(refused, [
          `another switch is already running on ${dir}: stop it first, or give another directory`,
        ]);
        const c = await Deno.connect({ transport: "unix", path: `${dir}/ctl` });
        c.close();
      } finally {
        for (const s of served) s.close();
        for (const sw of switches) sw.close();
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
