/**
 * The log file a program appends to: never writable by others, even under
 * umask 000, and rotated by Debian's logrotate with copytruncate while the
 * program holds it open.
 */
import assert from "node:assert/strict";
import { evalUnderUmask000 } from "./helpers/umask.ts";
import { hasCommand, hasRoot, run, skipUnless, skipUnlessRoot, waitFor } from "./helpers/processes.ts";
import { standIn } from "./os/_syslog_stand_in.ts";
import { vdeCommand } from "./lab/_helpers.ts";
import { startOurSwitch } from "./helpers/switches.ts";
import { onFullDisk } from "./helpers/full_disk.ts";

Deno.test("a log file made under umask 000 is mode 644, so no other user can add lines to it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-mode-" });
  try {
    const log = new URL("../src/log.ts", import.meta.url).href;
    await evalUnderUmask000(
      `import { log, setLogFile } from "${log}"; setLogFile("${tmp}/sw.log"); log("vde switch", "up");`,
    );
    assert.equal((await Deno.stat(`${tmp}/sw.log`)).mode! & 0o777, 0o644);
    assert.match(await Deno.readTextFile(`${tmp}/sw.log`), /vde switch: up\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("logrotate's copytruncate of an open log: the old lines in .1, the next line at the start of the emptied file", async (t) => {
  if (skipUnless(t, (await hasCommand("logrotate")) ? null : "logrotate missing (Debian logrotate)")) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-logrotate-" });
  try {
    await Deno.writeTextFile(`${tmp}/vde.conf`, `${tmp}/sw.log {\n  copytruncate\n  rotate 2\n}\n`);
    const log = new URL("../src/log.ts", import.meta.url).href;
    // The program keeps its log open across the rotation, as a --daemon does: logrotate runs from inside it.
    const r = await run([
      Deno.execPath(),
      "eval",
      `import { log, setLogFile } from "${log}";
      setLogFile("${tmp}/sw.log");
      log("vde switch", "before the rotation");
      const r = await new Deno.Command("logrotate", { args: ["-f", "-s", "${tmp}/state", "${tmp}/vde.conf"] }).output();
      if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
      log("vde switch", "after the rotation");`,
    ], { check: false });
    assert.equal(r.code, 0, r.stderr);
    assert.match(await Deno.readTextFile(`${tmp}/sw.log.1`), /^\S+Z vde switch: before the rotation\n$/);
    // Appending (O_APPEND) writes at the new end: no hole of NULs where the old lines were.
    assert.match(await Deno.readTextFile(`${tmp}/sw.log`), /^\S+Z vde switch: after the rotation\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("logrotate's default create (the log moved away, no signal): the old lines in .1, the next line in the new file", async (t) => {
  if (skipUnless(t, (await hasCommand("logrotate")) ? null : "logrotate missing (Debian logrotate)")) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-logrotate-create-" });
  try {
    // logrotate's own `create` makes the new file; without it (missingok, nocreate) the program makes it.
    await Deno.writeTextFile(`${tmp}/vde.conf`, `${tmp}/sw.log {\n  create 0644\n  rotate 2\n}\n`);
    await Deno.writeTextFile(`${tmp}/bare.conf`, `${tmp}/bare.log {\n  nocreate\n  rotate 2\n}\n`);
    const log = new URL("../src/log.ts", import.meta.url).href;
    const rotate = (conf: string) =>
      `{ const r = await new Deno.Command("logrotate", { args: ["-f", "-s", "${tmp}/state", "${tmp}/${conf}"] }).output();
      if (!r.success) throw new Error(new TextDecoder().decode(r.stderr)); }`;
    for (const [name, conf] of [["sw.log", "vde.conf"], ["bare.log", "bare.conf"]] as const) {
      const r = await run([
        Deno.execPath(),
        "eval",
        `import { log, setLogFile } from "${log}";
        setLogFile("${tmp}/${name}");
        log("vde switch", "before the rotation");
        ${rotate(conf)}
        log("vde switch", "after the rotation");
        log("vde switch", "and on");`,
      ], { check: false });
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        await Deno.readTextFile(`${tmp}/${name}.1`),
        /^\S+Z vde switch: before the rotation\n$/,
        name,
      );
      assert.match(
        await Deno.readTextFile(`${tmp}/${name}`),
        /^\S+Z vde switch: after the rotation\n\S+Z vde switch: and on\n$/,
        name,
      );
      assert.equal((await Deno.stat(`${tmp}/${name}`)).mode! & 0o777, 0o644, name);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a --logfile that is a symlink another user made first is refused, and the file it points at is not written", async (t) => {
  if (skipUnlessRoot(t)) return; // another user's symlink is made by chown -h
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-link-" });
  try {
    await Deno.writeTextFile(`${tmp}/precious`, "precious\n");
    await Deno.symlink(`${tmp}/precious`, `${tmp}/net.log`);
    await new Deno.Command("chown", { args: ["-h", "65534:65534", `${tmp}/net.log`] }).output();
    const { setLogFile } = await import("../src/log.ts");
    assert.throws(
      () => setLogFile(`${tmp}/net.log`),
      (e: unknown) =>
        e instanceof Error && /^cannot open the log file .*: it is a symbolic link/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(`${tmp}/precious`), "precious\n");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a log moved away whose name then holds another user's file or symlink: neither is written, the lines go on in the file held, which says why once, and a name made ours again is reopened", async (t) => {
  if (skipUnlessRoot(t)) return; // another user's file and symlink are made by chown
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-reopen-" });
  try {
    // A directory others may write (a shared /tmp): the log moved away, a user puts their own file, then a
    // symlink to root's precious file, at its name before root's next line.
    await Deno.chmod(tmp, 0o1777);
    await Deno.writeTextFile(`${tmp}/precious`, "precious\n");
    const log = new URL("../src/log.ts", import.meta.url).href;
    const r = await run([
      Deno.execPath(),
      "eval",
      `import { log, setLogFile } from "${log}";
      const chown = (p) => new Deno.Command("chown", { args: ["-h", "65534:65534", p] }).outputSync();
      setLogFile("${tmp}/sw.log");
      log("vde switch", "before the move");
      Deno.renameSync("${tmp}/sw.log", "${tmp}/sw.log.1");
      Deno.writeTextFileSync("${tmp}/sw.log", "theirs\\n");
      chown("${tmp}/sw.log");
      for (let i = 0; i < 3; i++) log("vde switch", "line " + i);
      Deno.removeSync("${tmp}/sw.log");
      Deno.symlinkSync("${tmp}/precious", "${tmp}/sw.log");
      chown("${tmp}/sw.log");
      await new Promise((r) => setTimeout(r, 1100));
      log("vde switch", "past the symlink");
      Deno.removeSync("${tmp}/sw.log");
      await new Promise((r) => setTimeout(r, 1100));
      log("vde switch", "in the name again");`,
    ], { check: false });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await Deno.readTextFile(`${tmp}/precious`), "precious\n");
    const held = (await Deno.readTextFile(`${tmp}/sw.log.1`)).split("\n").map((l) => l.replace(/^\S+Z /, ""));
    assert.deepEqual(held.slice(0, 2), [
      "vde switch: before the move",
      `vde switch: ${tmp}/sw.log no longer names this log, and cannot be opened again: it belongs to nobody, ` +
      "not to root: not written (its owner would read what is written, or change it); remove it, or give a " +
      "file of your own: the lines go on here until it can",
    ]);
    assert.deepEqual(held.slice(2, 5), ["vde switch: line 0", "vde switch: line 1", "vde switch: line 2"]);
    assert.match(
      held[5] ?? "",
      /^vde switch: \S+ no longer names this log, .*: it is a symbolic link of nobody's/,
    );
    assert.deepEqual(held.slice(6), ["vde switch: past the symlink", ""]);
    assert.match(await Deno.readTextFile(`${tmp}/sw.log`), /^\S+Z vde switch: in the name again\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("quietStderrLog (slirpvde's -q) drops the info lines on stderr and still says a notice, a warning and an error", async () => {
  const log = new URL("../src/log.ts", import.meta.url).href;
  const r = await run([
    Deno.execPath(),
    "eval",
    `import { log, quietStderrLog } from "${log}";
    quietStderrLog();
    log("vde slirp", "on /tmp/net: gateway 10.0.2.2/24");
    log("vde slirp", "forward tcp:0.0.0.0:40123:10.0.2.15:22", "notice");
    log("vde slirp", "the gateway address is taken on this switch", "warning");
    log("vde slirp", "ended: gone", "err");`,
  ], { check: false });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr,
    "vde slirp: forward tcp:0.0.0.0:40123:10.0.2.15:22\nvde slirp: the gateway address is taken on this switch\n" +
      "vde slirp: ended: gone\n",
  );
});

Deno.test("setLateWarnings: a daemon without stderr hands its warnings and errors to the late writer as well as syslog, not its info lines", async () => {
  const log = new URL("../src/log.ts", import.meta.url).href;
  const r = await run([
    Deno.execPath(),
    "eval",
    `import { discardStderrLog, log, setLateWarnings, setSyslog } from "${log}";
    discardStderrLog();
    const syslog = [];
    setSyslog((severity, line) => syslog.push(severity));
    setLateWarnings((line) => console.log(line));
    log("vde slirp", "on /tmp/net: gateway 10.0.2.2/24");
    log("vde slirp", "the gateway address is taken on this switch", "warning");
    log("vde slirp", "ended: gone", "err");
    setLateWarnings(null);
    log("vde slirp", "the gateway address is taken again", "warning");
    console.log(syslog.join(","));`,
  ], { check: false });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    r.stdout,
    "vde slirp: the gateway address is taken on this switch\nvde slirp: ended: gone\ninfo,warning,err,warning\n",
  );
});

Deno.test("a --logfile on a full disk is said once with what to do, and its lines go to stderr meanwhile, where they were lost", async () => {
  assert.equal(hasRoot(), null, "a filesystem of its own to fill needs root (a tmpfs in a mount namespace)");
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-full-" });
  await Deno.mkdir(`${tmp}/full`);
  try {
    // Ready once its serving line is on stderr: before, it went to the full file and nowhere else.
    const sw = await startOurSwitch(`${tmp}/sw`, {
      // A full disk at full/ in the switch's own mount namespace; its sockets are outside it.
      prefix: onFullDisk(`${tmp}/full`),
      extraArgs: ["--logfile", `${tmp}/full/sw.log`],
    });
    try {
      const lines = sw.stderr().trim().split("\n");
      assert.equal(
        lines[0],
        `vde switch: cannot write the log file ${tmp}/full/sw.log: No space left on device (os error 28): the ` +
          "filesystem is full: free some space there, or write elsewhere; its lines go to stderr (a daemon's to " +
          "syslog) until it can",
      );
      assert.match(lines[1]!, /^vde switch: serving /);
      assert.equal(lines.filter((l) => l.includes("cannot write the log file")).length, 1, lines.join("\n"));
    } finally {
      await sw.stop();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a daemon's --logfile on a full disk sends its lines to syslog once it has no stderr, where they went to /dev/null", async () => {
  assert.equal(hasRoot(), null, "a filesystem of its own to fill needs root (a tmpfs in a mount namespace)");
  const tmp = await Deno.makeTempDir({ prefix: "vde-logfile-full-daemon-" });
  await Deno.mkdir(`${tmp}/full`);
  const syslog = standIn(tmp);
  try {
    const up = await run([
      ...onFullDisk(`${tmp}/full`),
      ...vdeCommand(),
      "switch",
      "-d",
      "-s",
      `${tmp}/net`,
      "--pidfile",
      `${tmp}/pid`,
      "--logfile",
      `${tmp}/full/sw.log`,
    ], { env: { VDE_SYSLOG_SOCKET: syslog.path }, check: false });
    assert.equal(up.code, 0, up.stderr);
    // Before it detached, the terminal that started it heard why its log file takes nothing.
    assert.match(up.stderr, /cannot write the log file .*No space left on device/);
    const pid = Number((await Deno.readTextFile(`${tmp}/pid`)).trim());
    Deno.kill(pid, "SIGTERM");
    const last = await waitFor(() => syslog.lines().find((l) => l.includes("cleaning up")), {
      timeoutMs: 10_000,
      what: "the daemon's shutdown line in syslog",
    });
    assert.match(last, new RegExp(`^<30>.* vde\\[${pid}\\]: switch: SIGTERM, cleaning up and exiting$`));
    await waitFor(async () => !(await Deno.stat(`${tmp}/pid`).then(() => true, () => false)) || undefined, {
      timeoutMs: 10_000,
      what: "the daemon's end",
    });
  } finally {
    syslog.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
