/**
 * `load FILE` (and `--rc FILE`) read at most a script's worth of bytes,
 * whatever FILE is: a device that never ends (`load /dev/zero` grew a
 * switch by gigabytes) is refused as too long, a pipe is read.
 */
import assert from "node:assert/strict";
import {
  addSessionEndCommands,
  loadScript,
  MAX_SCRIPT_BYTES,
  PIPE_WITHOUT_WRITER,
  readScript,
  SHUTDOWN_IGNORED,
} from "../../src/console/session_commands.ts";
import { Errno } from "../../src/console/reply_format.ts";
import { formatExplained } from "../../src/console/explain.ts";
import { runStartupScript } from "../../src/console/script.ts";
import { CommandRegistry, ok } from "../../src/console/registry.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { asRootWithoutSudo, giveToNobody } from "../helpers/root_files.ts";
import { AS_NOBODY, run } from "../helpers/processes.ts";

import { Switch } from "../../src/switch/switch.ts";
import { ConsoleContext } from "../../src/console/switch/context.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { WireFilter } from "../../src/wirefilter/filter.ts";
import { wirefilterCommands, WirefilterContext } from "../../src/wirefilter/commands.ts";

Deno.test("load of an endless device is refused as too long after reading a script's worth, not read forever", async () => {
  const before = Deno.memoryUsage().rss;
  assert.equal(await readScript("/dev/zero"), Errno.E2BIG);
  assert.ok(Deno.memoryUsage().rss - before < 64 * MAX_SCRIPT_BYTES, "memory stays bounded");
  assert.equal(
    formatExplained("load /dev/zero", { code: Errno.E2BIG }, { syntax: () => "path", paths: () => ["load"] }),
    "load: Argument list too long (1007)\na script is at most 1 MiB: is it the file you meant?\n",
  );
});

Deno.test("--rc of an endless device says a script's bound, not E2BIG's 'Argument list too long'", async () => {
  await assert.rejects(
    runStartupScript("/dev/zero", new CommandRegistry(), () => {}),
    { message: "cannot read the startup script /dev/zero: longer than a script may be (1 MiB)" },
  );
});

Deno.test("a script in a pipe is read to its end", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-script-pipe-" });
  try {
    const fifo = `${dir}/rc`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    const writer = (async () => {
      using f = await Deno.open(fifo, { write: true });
      await f.write(new TextEncoder().encode("hub on\nport/create 3\n"));
    })();
    assert.deepEqual(await readScript(fifo), ["hub on", "port/create 3"]);
    await writer;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("load of a named pipe nobody writes to gives up with its own words instead of hanging the session", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-script-pipe-" });
  try {
    const fifo = `${dir}/rc`;
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.equal(await readScript(fifo, 200), Errno.ETIMEDOUT);
    assert.equal(
      formatExplained(`load ${fifo}`, { code: Errno.ETIMEDOUT }, {
        syntax: () => "path",
        paths: () => ["load"],
      }),
      `load: Connection timed out (1110)\n${PIPE_WITHOUT_WRITER}\n`,
    );
    // Nothing is left waiting on the pipe: a writer that comes later finds no reader (ENXIO), and is not
    // paired with an abandoned one that would close at once.
    await assert.rejects(openWriterNow(fifo), /ENXIO|No such device or address/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Opens `fifo` for writing without waiting for a reader (O_NONBLOCK): ENXIO when none is there. */
async function openWriterNow(fifo: string): Promise<void> {
  const r = await new Deno.Command("python3", {
    args: ["-c", "import os, sys\nos.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))", fifo],
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
}

Deno.test("load from a console client that is another user is refused before the file is read: it would echo what only we may read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-r15a-load-" });
  try {
    const secret = `${dir}/secret`;
    await Deno.writeTextFile(secret, "hub on\n");
    const commands = new CommandRegistry();
    commands.add({ path: "hub", syntax: "on", help: "", listing: false, run: () => ({ code: 0 }) });
    const session = (peerUid?: number) => new FakeSession(commands, "mgmt", peerUid);
    const self = Deno.uid() ?? 0;
    const other = self === 12345 ? 12346 : 12345;
    const refused = await loadScript(secret, session(other));
    assert.equal(refused.code, Errno.EPERM);
    assert.ok(!(refused.raw ?? "").includes("hub on"), "no line of the file is said");
    assert.match(refused.raw ?? "", /only \S+ may load/);
    for (const uid of [self, 0, undefined]) {
      const done = await loadScript(secret, session(uid));
      assert.equal(done.code, 0, `peer ${uid}`);
      assert.match(done.raw ?? "", /hub on/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a script that is another user's, or named by their symlink, is refused before it is read: --rc through a user's link to root's key logged the key's lines, their own file ran their commands", async () => {
  await asRootWithoutSudo("vde-script-", async (dir) => {
    await Deno.writeTextFile(`${dir}/key`, "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    await Deno.symlink(`${dir}/key`, `${dir}/theirs-link`);
    giveToNobody(`${dir}/theirs-link`);
    await Deno.writeTextFile(`${dir}/theirs-file`, "hub on\n");
    giveToNobody(`${dir}/theirs-file`);
    await Deno.symlink("key", `${dir}/ours-link`);
    for (const path of [`${dir}/theirs-link`, `${dir}/theirs-file`]) {
      assert.equal(await readScript(path), Errno.EPERM, path);
      const logged: string[] = [];
      await assert.rejects(
        runStartupScript(path, new CommandRegistry(), (m) => logged.push(m)),
        /it is (nobody|65534)'s \(the file or the symlink naming it\), and its lines would run as ours/,
      );
      assert.deepEqual(logged, []);
    }
    const refused = await loadScript(`${dir}/theirs-link`, new FakeSession(new CommandRegistry(), "mgmt"));
    assert.equal(refused.code, Errno.EPERM);
    // The switch's own words, as its --rc says them: a terminal shows them in place of a guess of its own.
    assert.match(
      formatExplained(`load ${dir}/theirs-link`, refused, { syntax: () => "path", paths: () => ["load"] }),
      new RegExp(
        `^it is (nobody|65534)'s \\(the file or the symlink naming it\\), ` +
          "and its lines would run as ours: give a script of your own\n$",
      ),
    );
    // Our own symlink to our own file is read.
    assert.deepEqual(await readScript(`${dir}/ours-link`), ["-----BEGIN OPENSSH PRIVATE KEY-----"]);
  });
});

Deno.test("a script of ours that others may write is refused before it is read, with the chmod that fixes it: their lines would run as ours", async () => {
  await asRootWithoutSudo("vde-script-open-", async (dir) => {
    await Deno.writeTextFile(`${dir}/sw.rc`, "hub on\n");
    await Deno.chmod(`${dir}/sw.rc`, 0o666);
    await run(["mkfifo", "-m", "0622", `${dir}/fifo`]);
    for (const path of [`${dir}/sw.rc`, `${dir}/fifo`]) {
      assert.equal(await readScript(path), Errno.EPERM, path);
    }
    const logged: string[] = [];
    await assert.rejects(
      runStartupScript(`${dir}/sw.rc`, new CommandRegistry(), (m) => logged.push(m)),
      new RegExp(
        `anyone may write it \\(mode 0666\\), and its lines would run as ours: chmod go-w ${dir}/sw.rc`,
      ),
    );
    assert.deepEqual(logged, []);
    // A device's mode says nothing of what a read gives: /dev/null (0666) reads as an empty script.
    assert.deepEqual(await readScript("/dev/null"), []);
    await Deno.chmod(`${dir}/sw.rc`, 0o644);
    assert.deepEqual(await readScript(`${dir}/sw.rc`), ["hub on"]);
  });
});

Deno.test("a load refused for a path with spaces, a ; or a terminal escape says its chmod with the path as one shell word, the escape shown as ?", async () => {
  await asRootWithoutSudo("vde-script-quoted-", async (dir) => {
    const path = `${dir}/my sw;\x1b[2J.rc`;
    await Deno.writeTextFile(path, "hub on\n");
    await Deno.chmod(path, 0o666);
    const refused = await loadScript(path, new FakeSession(new CommandRegistry(), "mgmt"));
    assert.equal(refused.code, Errno.EPERM);
    assert.equal(
      refused.raw,
      `anyone may write it (mode 0666), and its lines would run as ours: chmod go-w '${dir}/my sw;?[2J.rc'\n`,
    );
  });
});

Deno.test("a script named by a symlink another user makes and removes at will is never read through it: the name judged is the file read", async () => {
  await asRootWithoutSudo("vde-script-race-", async (dir) => {
    // As /tmp: anyone may make names in it, none may take another's.
    await Deno.chmod(dir, 0o1777);
    await Deno.writeTextFile(`${dir}/key`, "-----BEGIN OPENSSH PRIVATE KEY-----\n", { mode: 0o600 });
    const name = `${dir}/sw.rc`;
    // Their link, there and gone as fast as they can: a look finding nothing, then a read following it.
    const toggler = new Deno.Command(AS_NOBODY[0]!, {
      args: [
        ...AS_NOBODY.slice(1),
        "/usr/bin/python3",
        "-c",
        "import os, sys\nwhile True:\n  try: os.symlink(sys.argv[1], sys.argv[2])\n  except OSError: pass\n" +
        "  try: os.unlink(sys.argv[2])\n  except OSError: pass\n",
        `${dir}/key`,
        name,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const seen = new Map<string, number>();
    try {
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const r = await readScript(name);
        const what = typeof r === "number" ? String(r) : r.join("|");
        seen.set(what, (seen.get(what) ?? 0) + 1);
      }
    } finally {
      toggler.kill("SIGKILL");
      await toggler.status;
    }
    const got = Object.fromEntries(seen);
    assert.ok(seen.has(String(Errno.EPERM)), `their link was there at times: ${JSON.stringify(got)}`);
    assert.deepEqual([...seen.keys()].filter((k) => k.includes("PRIVATE KEY")), [], JSON.stringify(got));
  });
});

/** A registry with `shutdown` (stops recorded), `load` and `mark ARG` (ARGs recorded). */
function scriptRig(scriptsIgnoreShutdown: boolean) {
  const stops: string[] = [];
  const ran: string[] = [];
  const commands = new CommandRegistry();
  addSessionEndCommands(commands, { canShutdown: true, shutdown: (why) => stops.push(why) }, {
    logout: "logout",
    shutdown: "shutdown",
  }, { scriptsIgnoreShutdown });
  commands.add({
    path: "mark",
    syntax: "",
    help: "mark",
    listing: false,
    run: (args) => (ran.push(args), ok()),
  });
  commands.add({
    path: "load",
    syntax: "",
    help: "load",
    listing: false,
    run: (args, s) => loadScript(args, s),
  });
  return { stops, ran, commands };
}

/** Runs `fn` with `dir`/net.rc (mark 1, shutdown, mark 2, load of inner.rc: shutdown, mark 3). */
async function withShutdownScripts(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-script-shutdown-" });
  try {
    await Deno.writeTextFile(`${dir}/inner.rc`, "shutdown\n");
    await Deno.writeTextFile(`${dir}/net.rc`, `mark 1\nshutdown\nmark 2\nload ${dir}/inner.rc\nmark 3\n`);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a shutdown line in a switch's startup script is logged as ignored and the script runs on, as vde_switch's does: the switch starts and serves", async () => {
  await withShutdownScripts(async (dir) => {
    const { stops, ran, commands } = scriptRig(true);
    const logged: string[] = [];
    assert.equal(await runStartupScript(`${dir}/net.rc`, commands, (m) => logged.push(m)), 0);
    assert.deepEqual(ran, ["1", "2", "3"]);
    assert.deepEqual(stops, []);
    assert.deepEqual(logged, [
      `${dir}/net.rc:2: shutdown: ${SHUTDOWN_IGNORED}`,
      `${dir}/net.rc:4: load ${dir}/inner.rc: ${SHUTDOWN_IGNORED}`,
    ]);
  });
});

Deno.test("a shutdown in a script a switch's console loads is answered as ignored and the script runs on, the session and the switch too, as vde_switch's load does", async () => {
  await withShutdownScripts(async (dir) => {
    const { stops, ran, commands } = scriptRig(true);
    const session = new FakeSession(commands);
    const reply = (await commands.execute(`load ${dir}/net.rc`, session))!;
    assert.equal(reply.code, 0);
    assert.equal(reply.endSession, undefined, "the session goes on");
    assert.equal(reply.afterSend, undefined, "nothing is stopped once answered");
    assert.deepEqual(ran, ["1", "2", "3"]);
    assert.deepEqual(stops, []);
    assert.match(
      reply.raw!,
      new RegExp(`^vde\\[${dir}/net.rc\\]: shutdown\n${SHUTDOWN_IGNORED}\n1000 Success$`, "m"),
    );
    // Typed, not loaded, it stops the switch.
    const typed = (await commands.execute("shutdown", session))!;
    assert.equal(typed.endSession, true);
    typed.afterSend?.();
    assert.deepEqual(stops, ["shutdown from the management socket"]);
  });
});

Deno.test("a shutdown in a wirefilter's script stops the script and, once answered, the program, as Debian's wirefilter exits there", async () => {
  await withShutdownScripts(async (dir) => {
    const { stops, ran, commands } = scriptRig(false);
    assert.equal(await runStartupScript(`${dir}/net.rc`, commands, () => {}), 0);
    assert.deepEqual(ran, ["1"]);
    assert.deepEqual(stops, ["shutdown from the startup script"]);
    ran.length = 0;
    const reply = (await commands.execute(`load ${dir}/net.rc`, new FakeSession(commands)))!;
    assert.equal(reply.endSession, true);
    reply.afterSend?.();
    assert.deepEqual(ran, ["1"]);
    assert.equal(stops.length, 2);
  });
});

Deno.test("a logout in a script a management session loads is passed over and the script runs on, the session too, as vde_switch's and wirefilter's load do", async () => {
  await withShutdownScripts(async (dir) => {
    for (const scriptsIgnoreShutdown of [true, false]) {
      const { ran, commands } = scriptRig(scriptsIgnoreShutdown);
      await Deno.writeTextFile(`${dir}/out.rc`, "mark 1\nlogout\nmark 2\n");
      const session = new FakeSession(commands);
      const reply = (await commands.execute(`load ${dir}/out.rc`, session))!;
      assert.equal(reply.endSession, undefined, "the session goes on");
      assert.deepEqual(ran, ["1", "2"]);
      // Typed, it ends the session.
      assert.equal((await commands.execute("logout", session))!.endSession, true);
    }
  });
});

Deno.test("the switch's console passes over its scripts' shutdown (its --rc, a lab switch's rc, a load) and wirefilter's obeys it, as vde_switch and Debian's wirefilter do", async () => {
  await withShutdownScripts(async (dir) => {
    await Deno.writeTextFile(`${dir}/sw.rc`, "port/setnumports 8\nshutdown\nport/setnumports 10\n");
    const stops: string[] = [];
    const sw = new Switch({ numPorts: 32 });
    try {
      const commands = switchCommands(new ConsoleContext(sw, { shutdown: (why) => stops.push(why) }));
      const logged: string[] = [];
      assert.equal(await runStartupScript(`${dir}/sw.rc`, commands, (m) => logged.push(m)), 0);
      assert.deepEqual(logged, [`${dir}/sw.rc:2: shutdown: ${SHUTDOWN_IGNORED}`]);
      assert.equal(sw.numPorts, 10);
      const loaded = (await commands.execute(`load ${dir}/sw.rc`, new FakeSession(commands)))!;
      assert.equal(loaded.endSession, undefined);
      assert.equal(stops.length, 0, stops.join());
    } finally {
      await sw.close();
    }
    const filter = new WireFilter({ seed: 1 });
    try {
      await Deno.writeTextFile(`${dir}/wf.rc`, "loss 10\nshutdown\nloss 20\n");
      const commands = wirefilterCommands(
        new WirefilterContext(filter, { bidirectional: true, shutdown: (why) => stops.push(why) }),
      );
      await runStartupScript(`${dir}/wf.rc`, commands, () => {});
      assert.deepEqual(stops, ["shutdown from the startup script"]);
    } finally {
      filter.close();
    }
  });
});

Deno.test("in a rootless lab's user namespace, a console's load of a file through a root directory the host side did not vouch for is refused with the reason --rc gives, 1001 last", async () => {
  assert.equal(Deno.uid(), 0, "run as root: it runs as nobody");
  const tmp = await Deno.makeTempDir({ prefix: "vde-load-unvouched-" });
  try {
    await Deno.chmod(tmp, 0o755);
    const mine = `${tmp}/mine`;
    await Deno.mkdir(mine, { mode: 0o700 });
    await Deno.writeTextFile(`${mine}/sw.rc`, "hub on\n");
    await run(["chown", "-R", "65534:65534", mine]);
    const src = (m: string) => new URL(`../../src/${m}`, import.meta.url).href;
    const rig = new URL("./_helpers.ts", import.meta.url).href;
    // The switch's console on its mgmt socket, in a user namespace of nobody's with nothing vouched for
    // (root's `/` is the overflow uid's there), and a client there as the same user: what the switch says.
    const code = [
      `import { MgmtServer } from "${src("console/mgmt_server.ts")}";`,
      `import { makeConsole, RawMgmtClient } from "${rig}";`,
      "const tc = makeConsole(4);",
      `const server = await MgmtServer.start(tc.commands, tc.ctx, { path: "${mine}/mgmt", log: () => {} });`,
      `const client = await RawMgmtClient.connect("${mine}/mgmt");`,
      `await client.waitFor((t) => t.endsWith("vde$ "), "the greeting");`,
      `console.log(JSON.stringify(await client.command("load ${mine}/sw.rc")));`,
      "client.close();",
      "server.close();",
      "tc.close();",
    ].join("\n");
    const r = await run(
      [...AS_NOBODY, "unshare", "--user", "--map-root-user", Deno.execPath(), "eval", code],
      {
        check: false,
        cwd: mine,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const reply: string = JSON.parse(r.stdout.trim());
    assert.deepEqual(reply.split("\n"), [
      "it is reached through /, a directory of a user this user namespace does not " +
      "map (root or another), which may lead the name to any file, and its lines would run as ours: give a " +
      "path through directories of yours alone (of root's, a rootless lab knows only those on the way to its " +
      "lab file, the files it names, your home, working and temporary directories)",
      "1001 Operation not permitted",
      "",
      "vde$ ",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("shutdown from a console client that is another user is refused and stops nothing: a shared console (--mgmtmode 660) let a student stop the teacher's switch", async () => {
  const { stops, commands } = scriptRig(true);
  const self = Deno.uid() ?? 0;
  const other = self === 12345 ? 12346 : 12345;
  const refused = (await commands.execute("shutdown", new FakeSession(commands, "mgmt", other)))!;
  assert.equal(refused.code, Errno.EPERM);
  assert.equal(refused.endSession, undefined, "the session goes on");
  assert.equal(refused.afterSend, undefined);
  assert.match(refused.raw ?? "", /only \S+ .*may shut this program down/);
  assert.deepEqual(stops, []);
  for (const uid of [self, 0, undefined]) {
    const typed = (await commands.execute("shutdown", new FakeSession(commands, "mgmt", uid)))!;
    assert.equal(typed.endSession, true, `peer ${uid}`);
    typed.afterSend?.();
  }
  assert.equal(stops.length, 3);
});
