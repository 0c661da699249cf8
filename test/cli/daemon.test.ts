/**
 * `--daemon` (`vde switch`, `vde wirefilter`, `vde slirp`, `vde plug`): the command's exit status and
 * message are the background program's own, and a failed start leaves
 * nothing behind (no process, no pid file, no socket); `--logfile` keeps
 * the error. A start prints one line: where it serves and how to stop it.
 * A stale pid file is replaced, one of a live vde program refused.
 */
import assert from "node:assert/strict";
import {
  pathExists,
  processesMentioning,
  ROOT_IF_PREFIX,
  run,
  skipUnlessRoot,
  waitFor,
} from "../helpers/processes.ts";
import { REPO_ROOT, startOurSwitch, VDE_CLI } from "../helpers/switches.ts";

const VDE = VDE_CLI;

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vde-daemon-" });
  try {
    await fn(dir);
  } finally {
    for (const pid of processesMentioning(dir)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** `shutdown` through `vde term CONSOLE`, then the pid file must go (the program's last step). */
async function shutdownAndWait(console: string, pidfile: string): Promise<void> {
  const t = await run([...VDE, "term", console, "-c", "shutdown"], { check: false, timeoutMs: 30_000 });
  assert.equal(t.code, 0, t.stderr);
  await waitFor(async () => !(await pathExists(pidfile)), {
    timeoutMs: 20_000,
    what: "the pid file to be removed",
  });
}

function daemon(args: string[]) {
  return run([...VDE, "switch", "--daemon", ...args], { check: false, timeoutMs: 60_000 });
}

Deno.test("--daemon on a directory another switch serves fails with that switch named and leaves nothing", async () => {
  await withTmp(async (dir) => {
    const first = await startOurSwitch(`${dir}/sw`);
    try {
      const r = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /another switch is already running on .*\/sw: stop it first, or give another directory/,
      );
      assert.equal(await pathExists(`${dir}/pid`), false, "no pid file");
      // Only the first switch mentions the directory.
      assert.deepEqual(processesMentioning(`${dir}/pid`), []);
    } finally {
      await first.stop();
    }
  });
});

Deno.test("a start with --rc on a directory another switch serves says that alone, before the script runs (no lines of the script's)", async () => {
  await withTmp(async (dir) => {
    const first = await startOurSwitch(`${dir}/sw`);
    try {
      await Deno.writeTextFile(`${dir}/sw.rc`, "port/setnumports 8\nbogus/cmd\n");
      for (const args of [["--daemon"], []]) {
        const r = await run([...VDE, "switch", ...args, "--rc", `${dir}/sw.rc`, "--sock", `${dir}/sw`], {
          check: false,
          timeoutMs: 60_000,
        });
        assert.equal(r.code, 1, r.stderr);
        assert.match(
          r.stderr,
          /^vde: another switch is already running on .*\/sw: stop it first, or give another directory\n$/,
          args.join(" "),
        );
      }
    } finally {
      await first.stop();
    }
  });
});

Deno.test("the start line names the ports an --rc script set (port/setnumports 8), not --ports' default", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(`${dir}/sw.rc`, "port/setnumports 8\n");
    const r = await daemon(["--rc", `${dir}/sw.rc`, "--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^vde switch: serving .*\/sw with 8 ports, /);
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

/** The pid in `pidfile`, once the program has written it. */
async function pidIn(pidfile: string): Promise<number> {
  return Number((await Deno.readTextFile(pidfile)).trim());
}

Deno.test("--daemon over a stale pid file (its pid gone after kill -9) replaces it, says so in one line, and serves", async () => {
  await withTmp(async (dir) => {
    // The pid of a process that has ended: what a switch killed with SIGKILL leaves.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.writeTextFile(`${dir}/pid`, `${gone.pid}\n`);
    const r = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`, "--logfile", `${dir}/log`]);
    assert.equal(r.code, 0, r.stderr);
    const stale = `vde switch: pid file ${dir}/pid was stale (pid ${gone.pid} is not running): replaced`;
    assert.equal(r.stderr.split("\n")[0], stale);
    assert.match(await Deno.readTextFile(`${dir}/log`), new RegExp(`pid file .*/pid was stale`));
    const pid = await pidIn(`${dir}/pid`);
    assert.notEqual(pid, gone.pid);
    assert.deepEqual(processesMentioning(`${dir}/sw`), [pid], "the new switch runs and wrote its pid");
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

Deno.test("--daemon over a pid file whose pid was reused by a program that is no vde replaces it, naming that program", async () => {
  await withTmp(async (dir) => {
    const stranger = new Deno.Command("sleep", { args: ["120"] }).spawn();
    try {
      await Deno.writeTextFile(`${dir}/pid`, `${stranger.pid}\n`);
      const r = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^vde switch: pid file .*/pid was stale \\(pid ${stranger.pid} runs "[^"]*sleep 120", no vde program\\): replaced$`,
          "m",
        ),
      );
      assert.notEqual(await pidIn(`${dir}/pid`), stranger.pid);
      await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    } finally {
      stranger.kill("SIGKILL");
      await stranger.status;
    }
  });
});

Deno.test("--daemon over the pid file of a live vde switch refuses, exits 1 and leaves that switch and its file alone", async () => {
  await withTmp(async (dir) => {
    const first = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`]);
    assert.equal(first.code, 0, first.stderr);
    const pid = await pidIn(`${dir}/pid`);
    const r = await daemon(["--sock", `${dir}/sw2`, "--pidfile", `${dir}/pid`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^vde: pid file .*/pid already exists and names pid ${pid}, which is running`, "m"),
    );
    assert.doesNotMatch(r.stderr, /background switch exited/);
    assert.equal(await pathExists(`${dir}/sw2`), false, "socket directory removed");
    assert.equal(await pidIn(`${dir}/pid`), pid, "the live switch's file is left alone");
    assert.deepEqual(processesMentioning(`${dir}/sw2`), []);
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

Deno.test("--daemon under a missing parent directory reports the directory error and writes it to --logfile", async () => {
  await withTmp(async (dir) => {
    const r = await daemon(["--sock", `${dir}/missing/sw`, "--logfile", `${dir}/log`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^vde: cannot create the switch directory .*\/missing\/sw: its parent .*\/missing does not exist \(mkdir -p /m,
    );
    const logged = await Deno.readTextFile(`${dir}/log`);
    assert.match(logged, /vde switch: cannot start: cannot create the switch directory/);
    assert.deepEqual(processesMentioning(`${dir}/missing`), []);
  });
});

Deno.test("--daemon with --rc (a wirefilter's --rcfile) /dev/stdin is refused in one line that says why and what to give: the background copy read /dev/null, an empty script, and said nothing", async () => {
  await withTmp(async (dir) => {
    for (const rc of ["/dev/stdin", "/dev/fd/0"]) {
      const r = await run([...VDE, "switch", "--daemon", "--sock", `${dir}/sw`, "--rc", rc], {
        check: false,
        timeoutMs: 60_000,
        input: "port/create 13\n",
      });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `vde: --rc ${rc} with --daemon: in the background stdin is /dev/null, so the script would be empty; ` +
          "give a file, or --rc <(COMMANDS)\n",
      );
      assert.equal(await pathExists(`${dir}/sw`), false, "nothing made");
    }
    // A wirefilter's --rcfile alike.
    const r = await run(
      [
        ...VDE,
        "wirefilter",
        "-v",
        `${dir}/a:${dir}/b`,
        "--daemon",
        "-M",
        `${dir}/wf`,
        "--rcfile",
        "/dev/stdin",
      ],
      { check: false, timeoutMs: 60_000, input: "delay 50\n" },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      "vde: --rcfile /dev/stdin with --daemon: in the background stdin is /dev/null, so the script would be " +
        "empty; give a file, or --rcfile <(COMMANDS)\n",
    );
  });
});

Deno.test("--daemon with an unwritable --logfile fails at once in the foreground", async () => {
  await withTmp(async (dir) => {
    const r = await daemon(["--sock", `${dir}/sw`, "--logfile", `${dir}/no/such/log`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^vde: cannot open the log file .*\/no\/such\/log/m);
    assert.equal(await pathExists(`${dir}/sw`), false);
  });
});

Deno.test("a --daemon switch logs to --logfile, serves DIR/mgmt and leaves nothing after shutdown", async () => {
  await withTmp(async (dir) => {
    const r = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`, "--logfile", `${dir}/log`]);
    assert.equal(r.code, 0, r.stderr);
    // One line, like a daemon that forks: where it serves, its console, the pid that stops it.
    const pid = await pidIn(`${dir}/pid`);
    assert.equal(
      r.stderr,
      `vde switch: serving ${dir}/sw with 32 ports, forwarding on a data-plane thread; ` +
        `console: vde term ${dir}/sw/mgmt; in the background as pid ${pid} (pid file ${dir}/pid); stop: kill ${pid}\n`,
    );
    assert.equal(r.stdout, "", "nothing for a script to parse on stdout");
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    assert.equal(await pathExists(`${dir}/sw`), false, "socket directory removed at exit");
    assert.match(await Deno.readTextFile(`${dir}/log`), /serving .*\/sw with 32 ports/);
  });
});

Deno.test("vde wirefilter --daemon returns once it serves, reports its own start-up error, and stops on shutdown", async () => {
  await withTmp(async (dir) => {
    const args = [
      "wirefilter",
      "null://",
      "null://",
      "--daemon",
      "--mgmt",
      `${dir}/wf`,
      "--pidfile",
      `${dir}/pid`,
    ];
    const r = await run([...VDE, ...args], { check: false, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const pid = await pidIn(`${dir}/pid`);
    assert.match(
      r.stderr,
      new RegExp(
        `^vde wirefilter: bidirectional filter L=null R=null, seed \\d+; console: vde term ${dir}/wf; ` +
          `in the background as pid ${pid} \\(pid file ${dir}/pid\\); stop: kill ${pid}\n$`,
      ),
    );
    // A second one with the same pid file fails with its own words, and leaves the first alone.
    const again = await run([...VDE, ...args.slice(0, -3), `${dir}/wf2`, "--pidfile", `${dir}/pid`], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stderr, /^vde: pid file .*\/pid already exists/m);
    assert.equal(await pathExists(`${dir}/wf2`), false, "the failed one's socket is gone");
    await shutdownAndWait(`${dir}/wf`, `${dir}/pid`);
    assert.equal(await pathExists(`${dir}/wf`), false, "management socket removed at exit");
  });
});

Deno.test("vde wirefilter --daemon whose --rcfile says shutdown exits 0 saying it stopped before serving, as Debian's wirefilter exits there, not that it runs in the background", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(`${dir}/wf.rc`, "loss 10\nshutdown\nloss 20\n");
    const args = ["wirefilter", "null://", "null://", "--rcfile", `${dir}/wf.rc`, "--mgmt", `${dir}/wf`];
    const r = await run([...VDE, ...args, "--daemon", "--pidfile", `${dir}/pid`], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      `vde wirefilter: shutdown from the startup script (${dir}/wf.rc): stopped before serving, as wirefilter does\n`,
    );
    assert.equal(await pathExists(`${dir}/pid`), false, "no pid file: it never served");
    assert.equal(await pathExists(`${dir}/wf`), false, "no management socket");
    assert.deepEqual(processesMentioning(dir), []);
    // In the foreground too: it ends before serving, with status 0.
    const fg = await run([...VDE, ...args], { check: false, timeoutMs: 60_000 });
    assert.equal(fg.code, 0, fg.stderr);
    assert.doesNotMatch(fg.stderr, /bidirectional filter/);
  });
});

Deno.test("vde slirp --daemon returns once plugged into the switch, with its pid file and log, and ends with the switch", async () => {
  await withTmp(async (dir) => {
    assert.equal((await daemon(["--sock", `${dir}/sw`])).code, 0);
    const args = [
      "slirp",
      "--sock",
      `${dir}/sw`,
      "--daemon",
      "--pidfile",
      `${dir}/pid`,
      "--logfile",
      `${dir}/log`,
    ];
    const r = await run([...VDE, ...args], { check: false, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const pid = await pidIn(`${dir}/pid`);
    assert.equal(
      r.stderr,
      `vde slirp: on ${dir}/sw: gateway 10.0.2.2/24 dns 10.0.2.3 first lease 10.0.2.15; ` +
        `in the background as pid ${pid} (pid file ${dir}/pid); stop: kill ${pid}\n`,
    );
    assert.equal(r.stdout, "", "nothing for a script to parse on stdout");
    // Plugged in when the command returns: a script's next step may use the gateway at once.
    const ports = await run([...VDE, "term", `${dir}/sw`, "-c", "port/print"], { timeoutMs: 30_000 });
    assert.match(ports.stdout, /^Port 0001 .* ACTIVE/m);
    // Its pid file taken (by this one) fails the next start in one line, its slirp thread's ready awaited.
    for (const command of [["slirp", "--sock", `${dir}/sw`], ["plug", `vde://${dir}/sw`, "slirp://"]]) {
      const taken = await run([...VDE, ...command, "-d", "--pidfile", `${dir}/pid`], {
        check: false,
        timeoutMs: 60_000,
      });
      assert.equal(taken.code, 1, taken.stderr);
      assert.match(
        taken.stderr,
        new RegExp(`^vde: .*pid file ${dir}/pid already exists and names pid ${pid}, `, "m"),
      );
      assert.doesNotMatch(taken.stderr, /Uncaught|\n {4}at /, taken.stderr);
    }
    // Where there is no switch, the background slirp's own error and status, and nothing left.
    const none = await run([...VDE, "slirp", "--sock", `${dir}/none`, "-d", "--pidfile", `${dir}/pid2`], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^vde: no switch at .*\/none/);
    assert.equal(await pathExists(`${dir}/pid2`), false);
    // The switch's shutdown ends the slirp: its pid file goes, its log keeps the start.
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    assert.match(await Deno.readTextFile(`${dir}/log`), /vde slirp: on .*\/sw: gateway 10\.0\.2\.2/);
  });
});

Deno.test("a vde plug --daemon that its switch's stop ends says so in its log: its last line was the join, which told its admin nothing", async () => {
  await withTmp(async (dir) => {
    assert.equal((await daemon(["--sock", `${dir}/sw`])).code, 0);
    const r = await run([
      ...VDE,
      "plug",
      "-d",
      "-p",
      `${dir}/pid`,
      "--logfile",
      `${dir}/log`,
      `${dir}/sw`,
      "null://",
    ], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr);
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    const lines = (await Deno.readTextFile(`${dir}/log`)).trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^\S+Z vde plug: .*\/sw joined to null:\/\/$/);
    assert.match(lines[1] ?? "", /^\S+Z vde plug: ended: .*\/sw: \S.*$/);
    assert.equal(lines.length, 2, lines.join("\n"));
  });
});

Deno.test("vde plug --daemon returns once its port is attached and its tap exists, with its pid file and log", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withTmp(async (dir) => {
    assert.equal((await daemon(["--sock", `${dir}/sw`])).code, 0);
    const tap = `${ROOT_IF_PREFIX}pd`;
    const r = await run(
      [...VDE, "plug", "-d", "-p", `${dir}/pid`, "--logfile", `${dir}/log`, `${dir}/sw`, `tap://${tap}`],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const pid = await pidIn(`${dir}/pid`);
    assert.equal(
      r.stderr,
      `vde plug: ${dir}/sw joined to tap://${tap}; in the background as pid ${pid} (pid file ${dir}/pid); ` +
        `stop: kill ${pid}\n`,
    );
    assert.equal(r.stdout, "", "nothing for a script to parse on stdout");
    // Both there when the command returns: a script's next step may address the tap at once.
    assert.equal((await run(["ip", "link", "show", tap], { check: false })).code, 0, "the tap exists");
    const ports = await run([...VDE, "term", `${dir}/sw`, "-c", "port/print"], { timeoutMs: 30_000 });
    assert.match(ports.stdout, /^Port 0001 .* ACTIVE/m);
    // Where there is no switch, the background plug's own error and status, and nothing left.
    const none = await run([...VDE, "plug", "-d", "-p", `${dir}/pid2`, `${dir}/none`, "null://"], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^vde: no switch at .*\/none: the directory does not exist/);
    assert.equal(await pathExists(`${dir}/pid2`), false);
    // The switch's shutdown ends the plug: its pid file goes, and its tap with it.
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    assert.notEqual((await run(["ip", "link", "show", tap], { check: false })).code, 0, "the tap is gone");
    assert.match(await Deno.readTextFile(`${dir}/log`), /vde plug: .*\/sw joined to tap:\/\//);
  });
});

Deno.test("--daemon without --logfile prints the startup script's failing lines, with what a terminal would add, before it returns, and nothing else", async () => {
  await withTmp(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/rc`,
      "port/create 5\nbogus/cmd 1\nport/setvlan 99 99\nport/setvlna 5 0\nport/setvlan 7 0\n",
    );
    const r = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`, "--rc", `${dir}/rc`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 4), [
      `vde switch: ${dir}/rc:2: bogus/cmd 1: 1038 Function not implemented (no such command; \`help\` lists the commands)`,
      `vde switch: ${dir}/rc:3: port/setvlan 99 99: 1022 Invalid argument (port 99 is past the last port ` +
      "(port/showinfo says Numports))",
      `vde switch: ${dir}/rc:4: port/setvlna 5 0: 1038 Function not implemented (did you mean port/setvlan?)`,
      `vde switch: ${dir}/rc:5: port/setvlan 7 0: 1006 No such device or address (no such port or VLAN ` +
      "(port/setvlan PORT VLAN): a port " +
      "is there once something plugs in, or after port/create N; vlan/create N makes a VLAN)",
    ]);
    assert.match(lines[4] ?? "", /^vde switch: serving .* stop: kill \d+$/);
    assert.equal(lines.length, 5);
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
    const clean = await daemon(["--sock", `${dir}/sw`, "--pidfile", `${dir}/pid`]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(
      clean.stderr,
      /^vde switch: serving [^\n]*\n$/,
      "a start without failures says where it serves",
    );
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

/** `vde switch -d` in `dir` with a pid file, a log file and `dir`/rc as its --rc, and `more` args. */
function daemonWithLogAndRc(dir: string, ...more: string[]) {
  return daemon([
    "--sock",
    `${dir}/sw`,
    "--pidfile",
    `${dir}/pid`,
    "--logfile",
    `${dir}/log`,
    "--rc",
    `${dir}/rc`,
    ...more,
  ]);
}

Deno.test("--daemon with --logfile prints the startup script's failing lines before it returns too, and keeps them in the file", async () => {
  await withTmp(async (dir) => {
    // A permanent switch logs to a file: its admin still sees a mistake in the --rc at the start.
    await Deno.writeTextFile(`${dir}/rc`, "vlan/create 10\nport/setvlan 5 10\n");
    const r = await daemonWithLogAndRc(dir);
    assert.equal(r.code, 0, r.stderr);
    const mistake =
      `vde switch: ${dir}/rc:2: port/setvlan 5 10: 1006 No such device or address (no such port or VLAN ` +
      "(port/setvlan PORT VLAN): a port is there once something plugs in, or after port/create N; vlan/create N makes a VLAN)";
    const lines = r.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 1), [mistake]);
    assert.match(lines[1] ?? "", /^vde switch: serving .* stop: kill \d+$/);
    assert.equal(lines.length, 2);
    assert.ok((await Deno.readTextFile(`${dir}/log`)).includes(`Z ${mistake}\n`));
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

Deno.test("--daemon with --logfile whose start fails after the startup script's failing lines prints them above its reason, once each", async () => {
  await withTmp(async (dir) => {
    // The --rc runs before the tap is made: its mistake is part of what the admin must see of a failed start.
    await Deno.writeTextFile(`${dir}/rc`, "port/setvlan 5 1\n");
    const r = await daemonWithLogAndRc(dir, "--tap", "tap-name-too-long-for-linux");
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.match(lines[0] ?? "", new RegExp(`^vde switch: ${dir}/rc:1: port/setvlan 5 1: 1006 `));
    assert.match(lines[1] ?? "", /^vde: interface name "tap-name-too-long-for-linux" is 27 bytes long/);
    assert.equal(lines.length, 2, r.stderr);
    assert.match(await Deno.readTextFile(`${dir}/log`), /Z vde switch: cannot start: interface name /);
  });
});

Deno.test("a --daemon switch with --http 0 and --logfile names its web view's port in the line it prints", async () => {
  await withTmp(async (dir) => {
    const r = await daemon([
      "--sock",
      `${dir}/sw`,
      "--pidfile",
      `${dir}/pid`,
      "--logfile",
      `${dir}/log`,
      "--http",
      "0",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const url = r.stderr.match(/; web view: (http:\/\/127\.0\.0\.1:\d+\/); in the background as pid/)?.[1];
    assert.ok(url, r.stderr);
    const page = await fetch(`${url}metrics`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    await shutdownAndWait(`${dir}/sw`, `${dir}/pid`);
  });
});

/**
 * Runs test/cli/_daemon_rig.ts in `mode` (under deno run with `flags`
 * too), with a mark of this run its copy can be found by.
 */
async function rig(mode: string, flags: string[] = []) {
  const mark = `rig.${Deno.pid}.${mode}`;
  const r = await run(["deno", "run", ...flags, "-A", `${REPO_ROOT}/test/cli/_daemon_rig.ts`, mode, mark], {
    check: false,
    timeoutMs: 60_000,
  });
  return { ...r, left: processesMentioning(mark) };
}

Deno.test("Ctrl-C that reaches --daemon as the copy reports ready says the copy was stopped, not that it is up", async () => {
  const r = await rig("interrupted-at-ready");
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stdout, /up in the background/);
  assert.match(r.stderr, /^SIGINT: the background rig was stopped$/m);
  assert.deepEqual(r.left, [], "the copy has ended");
});

Deno.test("Ctrl-C that the --daemon copy lost before it listened is passed on again once it reports ready, so it stops rather than serves on", async () => {
  const started = Date.now();
  const r = await rig("interrupt-lost");
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stdout, /up in the background/);
  assert.match(r.stderr, /^SIGINT: the background rig was stopped$/m);
  assert.deepEqual(r.left, [], "the copy has ended");
  // Without the second SIGINT the parent waited for a copy that serves on (20 s here, for ever in a lab).
  assert.ok(Date.now() - started < 15_000, `returned after ${Date.now() - started} ms`);
});

Deno.test("a --daemon copy that ends with status 0 before serving is a failed start unless it marked the end as one it was told to make (a wirefilter rc's shutdown)", async () => {
  const told = await rig("ended-as-told");
  assert.equal(told.code, 0, told.stderr);
  assert.equal(told.stderr, "copy: ends before serving\n", "its line, without the mark");
  assert.equal(told.stdout, "exit 0\n");
  // A copy that just ends (a capture whose switch went before it began) did not start, whatever its status.
  const ended = await rig("ended");
  assert.equal(ended.code, 1, ended.stderr);
  assert.equal(ended.stderr, "copy: ends before serving\n");
  assert.deepEqual([...told.left, ...ended.left], []);
});

Deno.test("a --daemon copy told to stop by another before serving has its parent say the stop and where its log keeps it, not that it exited with status 0", async () => {
  const logging = await rig("stopped-logging");
  assert.equal(logging.code, 1, logging.stderr);
  assert.equal(
    logging.stderr,
    "SIGTERM: the background rig was stopped before it served; see /tmp/rig.log\n",
  );
  // Without a log file the copy's own stop line reaches the parent, and is what it prints.
  const said = await rig("stopped");
  assert.equal(said.code, 1, said.stderr);
  assert.equal(said.stderr, "copy: SIGTERM while joining: stopped before serving\n");
  assert.deepEqual([...logging.left, ...said.left], []);
});

Deno.test("a --daemon copy that marks a stop signal and then reports ready all the same is said stopped, and its mark is no line", async () => {
  const r = await rig("stopped-at-ready");
  assert.equal(r.code, 1, r.stderr);
  // Before, the parent printed the raw mark ("\\0vde stopped: ...") and said the copy runs in the background.
  assert.equal(r.stderr, "copy: starting\ncopy: serving\nSIGTERM: the background rig was stopped\n");
  assert.deepEqual(r.left, []);
});

Deno.test("a --daemon copy stopped before serving whose log file's name holds a tab and a newline has its parent name that whole file", async () => {
  const r = await rig("stopped-odd-log");
  assert.equal(r.code, 1, r.stderr);
  assert.equal(
    r.stderr,
    "SIGTERM: the background rig was stopped before it served; see /tmp/rig\tnew\nline.log\n",
  );
  assert.deepEqual(r.left, []);
});

Deno.test("a --daemon copy that is too slow and ends on SIGTERM is reported as stopped, not killed", async () => {
  const r = await rig("slow");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^timed out, killed: false$/m);
  assert.deepEqual(r.left, []);
});

Deno.test("a --daemon copy that is too slow and ignores SIGTERM is reported as killed", async () => {
  const r = await rig("stubborn");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^timed out, killed: true$/m);
  assert.match(r.stderr, /the background rig did not start within 10 s/);
  assert.deepEqual(r.left, []);
});

Deno.test("the --daemon copy runs with the deno flags the command was started with", async () => {
  const r = await rig("flags", ["--v8-flags=--expose-gc", "--location=http://left5.invalid/x"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^up in the background$/m);
  assert.match(r.stderr, /^copy: gc is a function, location http:\/\/left5\.invalid\/x$/m);
  // The copy exits right after it reports.
  await waitFor(() => processesMentioning(`rig.${Deno.pid}.flags`).length === 0, {
    timeoutMs: 10_000,
    what: "the copy to end",
  });
});

Deno.test("what a --daemon copy runs does not inherit the mark that makes a process the copy", async () => {
  const r = await rig("env");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^up in the background$/m);
  assert.match(r.stderr, /^copy: its children see the mark unset$/m);
  await waitFor(() => processesMentioning(`rig.${Deno.pid}.env`).length === 0, {
    timeoutMs: 10_000,
    what: "the copy to end",
  });
});
