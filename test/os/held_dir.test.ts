/**
 * A directory made or found in a parent others may write is changed only
 * through a descriptor: a symlink swapped in for its name is refused and
 * its target left as it was, and a directory renamed away after it was
 * opened is the one changed, not whatever now has its name. One given up
 * is removed only while its name holds it and it is empty; an idle one
 * (empty, unserved) is removed only while no start holds it. A pinned
 * directory (a server's, for its life) is worked in through its descriptor
 * wherever it goes, and its removal leaves one put at its name.
 */
import assert from "node:assert/strict";
import {
  HoldClosedError,
  holdDirectory,
  holdForStart,
  makeOwnDirectory,
  NotADirectoryError,
  PinnedDirectory,
  removeIdleDirectory,
  removeMadeDirectory,
  removeSocketFile,
} from "../../src/os/held_dir.ts";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { closeAndReuse } from "../helpers/closed_hold.ts";
import { UnixDgramSocket } from "../../src/io/unix_dgram.ts";

async function withTmp(body: (tmp: string) => Promise<void> | void): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "vde-e7-held-dir-" });
  try {
    await body(tmp);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const modeOf = (path: string) => Deno.lstatSync(path).mode! & 0o7777;

Deno.test("a directory is made with its final mode and group whatever the umask, and one already there is left as it is", () =>
  withTmp((tmp) => {
    const gid = Deno.gid()!;
    assert.notEqual(makeOwnDirectory(`${tmp}/sw`, 0o3770, gid), null);
    assert.equal(modeOf(`${tmp}/sw`), 0o3770);
    assert.equal(Deno.lstatSync(`${tmp}/sw`).gid, gid);
    Deno.chmodSync(`${tmp}/sw`, 0o700);
    assert.equal(makeOwnDirectory(`${tmp}/sw`, 0o2770), null);
    assert.equal(modeOf(`${tmp}/sw`), 0o700);
  }));

Deno.test("a symlink swapped in for a directory's name is refused and its target keeps its mode", () =>
  withTmp((tmp) => {
    Deno.mkdirSync(`${tmp}/private`, { mode: 0o700 });
    Deno.chmodSync(`${tmp}/private`, 0o700);
    Deno.symlinkSync(`${tmp}/private`, `${tmp}/sw`);
    assert.throws(() => holdDirectory(`${tmp}/sw`), (err: unknown) => {
      assert.ok(err instanceof NotADirectoryError);
      assert.equal(err.found, "a symlink");
      return true;
    });
    assert.equal(modeOf(`${tmp}/private`), 0o700);
    Deno.writeTextFileSync(`${tmp}/file`, "");
    assert.throws(() => holdDirectory(`${tmp}/file`), /file is not a directory/);
  }));

Deno.test("a held directory renamed away is the one changed, not what is put in its place", () =>
  withTmp((tmp) => {
    Deno.mkdirSync(`${tmp}/sw`, { mode: 0o700 });
    const held = holdDirectory(`${tmp}/sw`);
    try {
      assert.equal(held.uid, Deno.uid());
      // What a writer of a parent without the sticky bit could do between our mkdir and our chmod.
      Deno.renameSync(`${tmp}/sw`, `${tmp}/moved`);
      Deno.mkdirSync(`${tmp}/sw`, { mode: 0o700 });
      Deno.chmodSync(`${tmp}/sw`, 0o700);
      held.chmod(0o2770);
    } finally {
      held.close();
    }
    assert.equal(modeOf(`${tmp}/moved`), 0o2770);
    assert.equal(modeOf(`${tmp}/sw`), 0o700);
  }));

Deno.test("root makes a directory for another group with the setgid bit kept (chown before chmod)", (t) =>
  withTmp((tmp) => {
    // Only root may give a directory a group it is not in.
    if (skipUnlessRoot(t)) return;
    const made = makeOwnDirectory(`${tmp}/sw`, 0o2770, 4242);
    assert.notEqual(made, null);
    assert.equal(Deno.lstatSync(`${tmp}/sw`).gid, 4242);
    assert.equal(modeOf(`${tmp}/sw`), 0o2770);
  }));

Deno.test("a made directory given up is removed only while its name holds it and it is empty", () =>
  withTmp((tmp) => {
    const made = makeOwnDirectory(`${tmp}/sw`, 0o2770)!;
    Deno.writeTextFileSync(`${tmp}/sw/left`, "");
    assert.equal(removeMadeDirectory(`${tmp}/sw`, made), false, "not while something is in it");
    Deno.removeSync(`${tmp}/sw/left`);
    // Renamed away and another directory (or a file) put at its name: neither is removed.
    Deno.renameSync(`${tmp}/sw`, `${tmp}/moved`);
    Deno.mkdirSync(`${tmp}/sw`);
    assert.equal(removeMadeDirectory(`${tmp}/sw`, made), false);
    Deno.removeSync(`${tmp}/sw`);
    Deno.writeTextFileSync(`${tmp}/sw`, "");
    assert.equal(removeMadeDirectory(`${tmp}/sw`, made), false);
    assert.ok(Deno.lstatSync(`${tmp}/sw`).isFile);
    Deno.removeSync(`${tmp}/sw`);
    assert.equal(removeMadeDirectory(`${tmp}/sw`, made), false, "nothing at the name");
    Deno.renameSync(`${tmp}/moved`, `${tmp}/sw`);
    assert.equal(removeMadeDirectory(`${tmp}/sw`, made), true);
    assert.throws(() => Deno.lstatSync(`${tmp}/sw`), Deno.errors.NotFound);
  }));

Deno.test("a held directory's entries are read from it, not from what has its name now", () =>
  withTmp((tmp) => {
    Deno.mkdirSync(`${tmp}/sw`);
    const held = holdDirectory(`${tmp}/sw`);
    try {
      Deno.renameSync(`${tmp}/sw`, `${tmp}/moved`);
      Deno.mkdirSync(`${tmp}/sw`);
      Deno.writeTextFileSync(`${tmp}/sw/other`, "");
      Deno.writeTextFileSync(`${tmp}/moved/mine`, "");
      assert.deepEqual([...Deno.readDirSync(held.listing)].map((e) => e.name), ["mine"]);
    } finally {
      held.close();
    }
  }));

Deno.test("an idle directory is removed only when empty, unserved and held by no start; a start held out finds it gone", () =>
  withTmp(async (tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    // A start under way: its hold keeps the directory until its ctl is bound.
    const start = holdDirectory(dir);
    assert.equal(await holdForStart(start, dir), true);
    assert.equal(removeIdleDirectory(dir, "ctl"), false, "not while a start holds it");
    start.close();
    Deno.writeTextFileSync(`${dir}/ctl`, "");
    assert.equal(removeIdleDirectory(dir, "ctl"), false, "not while served");
    Deno.renameSync(`${dir}/ctl`, `${dir}/client`);
    assert.equal(removeIdleDirectory(dir, "ctl"), false, "not while something is in it");
    Deno.removeSync(`${dir}/client`);
    Deno.symlinkSync(dir, `${tmp}/link`);
    assert.equal(removeIdleDirectory(`${tmp}/link`, "ctl"), false, "never through a symlink");
    assert.ok(Deno.lstatSync(`${tmp}/link`).isSymlink);
    // A removal under way (its exclusive hold) when a start comes: the start waits, then finds it gone.
    const removal = holdDirectory(dir);
    assert.ok(removal.tryLock(true));
    const late = holdDirectory(dir);
    const held = holdForStart(late, dir);
    Deno.removeSync(dir);
    removal.close();
    assert.equal(await held, false, "made again by the start");
    late.close();
    Deno.mkdirSync(dir);
    assert.equal(removeIdleDirectory(dir, "ctl"), true);
    assert.throws(() => Deno.lstatSync(dir), Deno.errors.NotFound);
  }));

/** Starts flock(1) holding `dir`'s lock exclusive for `seconds`, returned once it holds it. */
async function holdElsewhere(dir: string, seconds: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("flock", { args: ["-x", dir, "sleep", seconds] }).spawn();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = holdDirectory(dir);
    const free = probe.tryLock(true);
    probe.close();
    if (!free) return child;
    assert.ok(Date.now() < deadline, "flock took the lock");
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test("an idle directory's removal waits out another removal's moment on its lock (a cable ending with its switch), not a holder that keeps it", () =>
  withTmp(async (tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    // Held as a removal holds it, for a moment: the removal gets it once it is let go.
    const brief = await holdElsewhere(dir, "0.03");
    assert.equal(removeIdleDirectory(dir, "ctl"), true, "removed once the other removal let go");
    await brief.status;

    Deno.mkdirSync(dir);
    const keeper = await holdElsewhere(dir, "10");
    try {
      const t0 = Date.now();
      assert.equal(removeIdleDirectory(dir, "ctl"), false);
      assert.ok(Date.now() - t0 < 2_000, "a holder that keeps the lock costs a bounded wait");
      assert.ok(Deno.lstatSync(dir).isDirectory);
    } finally {
      keeper.kill();
      await keeper.status;
    }
  }));

Deno.test("an idle directory's stray sockets go with it, a file of that name and a served directory's stay", () =>
  withTmp((tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    const strays = /^\.\d{5,}-\d{5,}$/;
    // Bound and closed without an unlink: a client's socket file left in the directory.
    const sock = (name: string) => {
      const s = UnixDgramSocket.create();
      s.bind(`${dir}/${name}`);
      s.close(false);
    };
    sock(".01234-00000");
    Deno.writeTextFileSync(`${dir}/ctl`, "");
    assert.equal(removeIdleDirectory(dir, "ctl", strays), false, "not while served");
    assert.ok(Deno.lstatSync(`${dir}/.01234-00000`).isSocket, "a served directory's client sockets stay");
    Deno.removeSync(`${dir}/ctl`);
    Deno.writeTextFileSync(`${dir}/.01234-00001`, "");
    assert.equal(removeIdleDirectory(dir, "ctl", strays), false, "a file that is no socket stays");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [".01234-00001"]);
    Deno.removeSync(`${dir}/.01234-00001`);
    sock(".01234-00002");
    assert.equal(removeIdleDirectory(dir, "ctl", strays), true);
    assert.throws(() => Deno.lstatSync(dir), Deno.errors.NotFound);
  }));

Deno.test("a pinned directory renamed away is still the one its entries reach, says once where it went, and one put at its name is not removed", () =>
  withTmp((tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    const pin = PinnedDirectory.pin(dir, undefined);
    try {
      const lines: string[] = [];
      assert.equal(pin.whereNow((m) => lines.push(m)), dir);
      Deno.renameSync(dir, `${tmp}/away`);
      Deno.mkdirSync(dir);
      Deno.writeTextFileSync(pin.entry("001.5"), "x");
      assert.deepEqual([...Deno.readDirSync(`${tmp}/away`)].map((e) => e.name), ["001.5"]);
      assert.deepEqual([...Deno.readDirSync(dir)], []);
      assert.equal(pin.named, false);
      assert.equal(pin.whereNow((m) => lines.push(m)), `${tmp}/away`);
      assert.equal(pin.whereNow((m) => lines.push(m)), `${tmp}/away`);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /no longer names the directory served \(renamed to .*\/away\)/);
      // The empty directory at its name now is another: the pinned one's removal leaves it.
      assert.equal(removeIdleDirectory(dir, "ctl", undefined, pin), false);
      assert.ok(Deno.statSync(dir).isDirectory);
    } finally {
      pin.close();
    }
  }));

Deno.test("a pinned directory once closed gives no entry: its descriptor's number may be another file's by then", () =>
  withTmp((tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    const pin = PinnedDirectory.pin(dir, undefined);
    const at = pin.at;
    pin.close();
    // Another open takes the number the pin had: its path now leads into this other directory.
    Deno.mkdirSync(`${tmp}/other`);
    const other = PinnedDirectory.pin(`${tmp}/other`, undefined);
    try {
      assert.equal(other.at, at, "the number is reused");
      assert.throws(() => pin.entry("ctl"), /no longer held/);
      Deno.renameSync(dir, `${tmp}/away`);
      assert.equal(pin.whereNow(() => {}), dir, "where it went is not read through another's number");
    } finally {
      other.close();
    }
  }));

Deno.test("a held entry asks its hold at each use: once closed it is refused in one line, not a path through the number another open took", () =>
  withTmp((tmp) => {
    Deno.mkdirSync(`${tmp}/sw`);
    const pin = PinnedDirectory.pin(`${tmp}/sw`, undefined);
    const mgmt = pin.held("mgmt");
    assert.equal(mgmt.path, `${pin.at}/mgmt`);
    const other = closeAndReuse(pin, tmp, "mgmt");
    try {
      assert.throws(() => mgmt.path, new HoldClosedError(`${tmp}/sw`, "mgmt"));
      assert.throws(() => mgmt.path, { message: `${tmp}/sw is no longer held: no mgmt in it is reached` });
      // Its removal is said once and left: the other directory's file of that name stays.
      const lines: string[] = [];
      removeSocketFile(mgmt, (m) => lines.push(m));
      assert.deepEqual(lines, [`${tmp}/sw is no longer held: no mgmt in it is reached: its socket is left`]);
      assert.equal(Deno.readTextFileSync(`${tmp}/other/mgmt`), "theirs");
    } finally {
      other.close();
    }
  }));

Deno.test("a start waits out another start's hold on the directory that a name service kept 5 s (getent's bound), not going ahead unguarded", () =>
  withTmp(async (tmp) => {
    const dir = `${tmp}/sw`;
    Deno.mkdirSync(dir);
    // Another start, its owner's name looked up through a name service that took its whole 5 s.
    const other = await holdElsewhere(dir, "5.5");
    const start = holdDirectory(dir);
    try {
      assert.equal(await holdForStart(start, dir), true);
      assert.equal((await other.status).success, true, "the other start let go in its time");
      // Had the start given up waiting (it did after 1 s), it would hold no lock, and the probe would get it.
      const probe = holdDirectory(dir);
      assert.equal(probe.tryLock(true), false, "the start holds it");
      probe.close();
    } finally {
      start.close();
      try {
        other.kill();
      } catch { /* ended */ }
      await other.status;
    }
  }));
