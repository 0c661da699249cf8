/**
 * The `vde cable` command line on loopback: keygen writes a 0600 key and
 * refuses to overwrite; `vde cable listen` and `vde cable connect` join two
 * switches so that plugs on each exchange frames; the listener gives each
 * cable its own port and logs both; usage errors are one line.
 */
import assert from "node:assert/strict";
import { run, spawnManaged } from "../helpers/processes.ts";
import { freedPort, loggedUrl } from "../helpers/ports.ts";
import { startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { bindUnservedSockets } from "../helpers/stale_socket.ts";
import {
  BROADCAST,
  ClientSet,
  ethFrame,
  mac,
  ourCli,
  waitUntilAccepting,
  within,
} from "../helpers/vde_clients.ts";

Deno.test("vde cable keygen writes a 0600 key, prints its id and will not overwrite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-keygen-" });
  try {
    const r = await run([...ourCli(), "cable", "keygen", `${dir}/k`]);
    assert.match(r.stdout, /^key [0-9a-f]{16} written to /);
    assert.equal((await Deno.stat(`${dir}/k`)).mode! & 0o777, 0o600);
    const again = await run([...ourCli(), "cable", "keygen", `${dir}/k`], { check: false });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^vde: .*exists already \(use --force/);
    assert.equal((await run([...ourCli(), "cable", "keygen", "--force", `${dir}/k`])).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde cable listen/connect refuse missing keys and bad addresses with one line", async () => {
  const cases: [string[], RegExp][] = [
    [["listen", "5000", "--sock", "/nonexistent"], /give --key FILE .* or --insecure/],
    [
      ["connect", "nohost", "--sock", "/x", "--insecure"],
      /^vde: the listener's address is HOST:PORT, e\.g\. .*; got "nohost"$/,
    ],
    [
      ["listen", "abc", "--sock", "/x", "--insecure"],
      /^vde: the address to listen on is \[ADDR:\]PORT, e\.g\. 5000 .*; got "abc"$/,
    ],
    [["connect", "h:1", "--sock", "/x", "--key", "k", "--insecure"], /exclude each other/],
    [["connect", "h:1", "--sock", "/nonexistent/sw", "--insecure"], /no switch at \/nonexistent\/sw/],
    // A listener says so at start too, not at its first cable.
    [
      ["listen", "127.0.0.1:1", "--sock", "/nonexistent/sw", "--insecure"],
      /^vde: no switch at \/nonexistent\/sw: the directory does not exist$/,
    ],
  ];
  for (const [args, why] of cases) {
    const r = await run([...ourCli(), "cable", ...args], { check: false, timeoutMs: 20_000 });
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr.trim().split("\n").at(-1)!, why);
  }
});

Deno.test("vde cable listen on a directory no switch serves refuses at start in vde plug's words; a served one gets to the key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-cable-noswitch-" });
  let sw: SwitchHandle | undefined;
  try {
    const listen = (sock: string, ...more: string[]) =>
      run([...ourCli(), "cable", "listen", "127.0.0.1:0", "--sock", sock, ...more], {
        check: false,
        timeoutMs: 20_000,
      });
    // A switch killed with SIGKILL leaves its ctl socket, which refuses connections: a socket bound, never served.
    bindUnservedSockets(`${dir}/ctl`);
    const killed = await listen(dir, "--insecure");
    assert.equal(killed.code, 1, killed.stderr);
    assert.equal(
      killed.stderr,
      `vde: no switch serves ${dir}: its ctl socket is left from a switch that stopped (start it again)\n`,
    );
    await Deno.remove(`${dir}/ctl`);
    const empty = await listen(dir, "--insecure");
    assert.equal(empty.code, 1, empty.stderr);
    assert.match(
      empty.stderr.trim(),
      /^vde: \/\S+ is not a switch's socket directory \(it has no ctl socket\)$/,
    );
    // With a switch there, the next problem is the key's, said about the key, before any listening.
    sw = await startOurSwitch(`${dir}/sw`);
    const key = await listen(`${dir}/sw`, "--key", "/nonexistent/k");
    assert.equal(key.code, 1, key.stderr);
    assert.match(
      key.stderr.trim(),
      /^vde: cannot read key file \/nonexistent\/k: no such file \(make one with: vde cable keygen FILE/,
    );
  } finally {
    await sw?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an insecure listener on port 0 warns with the port the kernel chose", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-cable-port0-" });
  const sw = await startOurSwitch(`${dir}/sw`);
  const listener = spawnManaged(
    [...ourCli(), "cable", "listen", "127.0.0.1:0", "--sock", `${dir}/sw`, "--insecure"],
    { name: "vde cable listen" },
  );
  try {
    await listener.waitForOutput(/listening on 127\.0\.0\.1:\d+ \(PLAIN, insecure\)/, 20_000, "stderr");
    const port = listener.stderr.match(/listening on 127\.0\.0\.1:(\d+)/)![1];
    assert.notEqual(port, "0");
    assert.match(
      listener.stderr,
      new RegExp(`^vde cable: WARNING: the cable listening on 127\\.0\\.0\\.1:${port} is INSECURE`, "m"),
    );
    assert.doesNotMatch(listener.stderr, /127\.0\.0\.1:0\b/);
  } finally {
    listener.kill("SIGTERM");
    await within("vde cable listen to exit", 10_000, listener.status);
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde switch --cable tcp:// without a key names --key FILE, the switch's own option", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-key-" });
  try {
    for (const vnl of ["tcp://127.0.0.1:0/listen", "tcp://127.0.0.1:1"]) {
      const r = await run([...ourCli(), "switch", "-s", `${tmp}/sw`, "-d", "--cable", vnl], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr,
        `vde: --cable ${vnl}: a tcp:// cable needs --key FILE or key=FILE (make one with: vde cable keygen FILE) or insecure\n`,
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde switch --cable logs a cable that ends while it serves, and not the ones its own stop closes", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-end-" });
  try {
    const r = await run([
      ...ourCli(),
      "switch",
      "-s",
      `${tmp}/sw`,
      "-d",
      "--logfile",
      `${tmp}/log`,
      "--cable",
      "cmd://sh -c 'exit 2'",
      "--cable",
      "null://",
    ], { check: false, timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    const ended = async () => (await Deno.readTextFile(`${tmp}/log`)).includes("ended:");
    await within(
      "the cable's end in the log",
      10_000,
      (async () => {
        while (!await ended()) await new Promise((res) => setTimeout(res, 50));
      })(),
    );
    await run([...ourCli(), "term", `${tmp}/sw`, "-c", "shutdown"]);
    await within(
      "the switch to go",
      10_000,
      (async () => {
        while (!(await Deno.readTextFile(`${tmp}/log`)).includes("cleaning up")) {
          await new Promise((res) => setTimeout(res, 50));
        }
      })(),
    );
    await new Promise((res) => setTimeout(res, 300));
    const lines = (await Deno.readTextFile(`${tmp}/log`)).split("\n").filter((l) => l.includes("ended:"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /vde switch: cable cmd:\/\/sh -c 'exit 2' on port 1 ended: command exited with status 2$/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde cable listen and connect join two switches; each cable is its own port", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-cli-" });
  const switches: SwitchHandle[] = [];
  const clients = new ClientSet();
  const procs = [];
  try {
    await run([...ourCli(), "cable", "keygen", `${tmp}/k`]);
    for (const name of ["a", "b", "c"]) {
      switches.push(await startOurSwitch(`${tmp}/${name}`));
      await waitUntilAccepting(`${tmp}/${name}`);
    }
    const listener = spawnManaged(
      [...ourCli(), "cable", "listen", "127.0.0.1:0", "--sock", `${tmp}/a`, "--key", `${tmp}/k`],
      { name: "vde cable listen" },
    );
    procs.push(listener);
    const port = await loggedUrl(
      () => listener.stderr,
      /listening on 127\.0\.0\.1:(\d+) \(key [0-9a-f]{16}\)/,
      "the listener's port",
    );
    for (const name of ["b", "c"]) {
      procs.push(spawnManaged(
        [
          ...ourCli(),
          "cable",
          "connect",
          `127.0.0.1:${port}`,
          "--sock",
          `${tmp}/${name}`,
          "--key",
          `${tmp}/k`,
        ],
        { name: `vde cable connect ${name}` },
      ));
    }
    await listener.waitForOutput(/cable open[^\n]*\n[^\n]*cable open/, 20_000, "stderr");
    const ports = [...listener.stderr.matchAll(/cable open \S+ remote \S+ key \S+ port (\d+)/g)].map((m) =>
      m[1]
    );
    assert.equal(new Set(ports).size, 2, `two cables on two ports of switch a: ${listener.stderr}`);
    const onA = clients.vdePlug(`${tmp}/a`);
    const onB = clients.vdePlug(`${tmp}/b`);
    const onC = clients.ourPlug(`${tmp}/c`);
    await new Promise((r) => setTimeout(r, 1000));
    // b's broadcast reaches a and (through a) c; unicast back to b once learnt. Until one reaches both: our
    // plug on c, a Deno start, may attach after the second a loaded machine took to start, and a broadcast
    // before that reaches nobody on c.
    let tag = 1;
    for (; tag < 50; tag++) {
      await onB.send(ethFrame(BROADCAST, mac(2), tag, 100));
      try {
        await onA.waitTag(tag, 300);
        await onC.waitTag(tag, 300);
        break;
      } catch { /* not up yet */ }
    }
    await onC.waitTag(tag, 5000);
    await onC.send(ethFrame(mac(2), mac(3), 500, 1500));
    await onB.waitTag(500, 5000);
    await onA.send(ethFrame(mac(3), mac(1), 501, 60));
    await onC.waitTag(501, 5000);
    assert.ok(!onB.hasTag(501), "a learnt switch does not flood unicast to b");

    // SIGHUP ends a cable like SIGTERM: exit 0, the cable closed and logged, on both sides.
    const connectB = procs[1]!;
    connectB.kill("SIGHUP");
    const bStatus = await within("vde cable connect to exit on SIGHUP", 10_000, connectB.status);
    assert.equal(bStatus.code, 0, connectB.stderr);
    assert.match(connectB.stderr, /cable to 127\.0\.0\.1:\d+ ended: SIGHUP/);
    assert.match(connectB.stderr, /cable close .* in \d+ frames? .*: the session has ended/);
    listener.kill("SIGHUP");
    const lStatus = await within("vde cable listen to exit on SIGHUP", 10_000, listener.status);
    assert.equal(lStatus.code, 0, listener.stderr);
    assert.match(listener.stderr, /SIGHUP: closing 2 cable\(s\)/);
    const closes = listener.stderr.match(/cable close /g) ?? [];
    assert.equal(closes.length, 2, `a close line per cable: ${listener.stderr}`);
  } finally {
    await clients.stopAll();
    for (const p of procs.reverse()) await p.stop();
    for (const sw of switches) await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

/** Until a daemon's pid file is gone: the daemon has ended, its cleanup done. */
async function pidfileGone(pidfile: string): Promise<void> {
  await within(
    "the daemon's pid file to go",
    10_000,
    (async () => {
      while (await Deno.stat(pidfile).then(() => true, () => false)) {
        await new Promise((r) => setTimeout(r, 50));
      }
    })(),
  );
}

Deno.test("vde cable connect --daemon returns once the cable is connected, with its pid file; one that cannot connect says why and leaves nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "l8-cable-d-" });
  const switches: SwitchHandle[] = [];
  const procs = [];
  const pidfile = `${tmp}/cable.pid`;
  try {
    await run([...ourCli(), "cable", "keygen", `${tmp}/k`]);
    for (const name of ["a", "b"]) {
      switches.push(await startOurSwitch(`${tmp}/${name}`));
      await waitUntilAccepting(`${tmp}/${name}`);
    }
    // A port nothing listens on for the refusal (one just freed), then the listener's own, which it picks.
    let port = freedPort();
    const connect = (extra: string[]) =>
      run(
        [
          ...ourCli(),
          "cable",
          "connect",
          `127.0.0.1:${port}`,
          "--sock",
          `${tmp}/b`,
          "--key",
          `${tmp}/k`,
          ...extra,
        ],
        { check: false, timeoutMs: 60_000 },
      );
    // Nothing listens yet: a --once cable's failure is the daemon start's, and nothing stays behind.
    const refused = await connect(["-d", "--once", "--pidfile", pidfile]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot connect to 127\.0\.0\.1:\d+: .*refused/i);
    await assert.rejects(Deno.stat(pidfile), Deno.errors.NotFound);
    const listener = spawnManaged(
      [...ourCli(), "cable", "listen", "127.0.0.1:0", "--sock", `${tmp}/a`, "--key", `${tmp}/k`],
      { name: "vde cable listen" },
    );
    procs.push(listener);
    port = Number(
      await loggedUrl(() => listener.stderr, /listening on 127\.0\.0\.1:(\d+)/, "the listener's port"),
    );
    const up = await connect(["-d", "--pidfile", pidfile]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stderr,
      new RegExp(
        `^vde cable: cable open .*\\nvde cable: cable to 127\\.0\\.0\\.1:${port} connected, on port \\d+ of ${tmp}/b; ` +
          `in the background as pid (\\d+) \\(pid file ${pidfile}\\); stop: kill \\d+\\n$`,
      ),
    );
    // Connected when it returned: the listener has its cable already, and a second connect is refused.
    assert.match(listener.stderr, /cable open /);
    const pid = Number((await Deno.readTextFile(pidfile)).trim());
    const second = await connect(["-d"]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`pid ${pid}`), "the cable is this host's one, held by the daemon");
    Deno.kill(pid, "SIGTERM");
    await pidfileGone(pidfile);
  } finally {
    for (const p of procs.reverse()) await p.stop();
    for (const sw of switches) await sw.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde cable listen --daemon returns once it listens, with its pid file (0644, gone after SIGTERM); a port taken says why and leaves nothing", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "r14-listen-d-" });
  let sw: SwitchHandle | undefined;
  const pidfile = `${tmp}/listen.pid`;
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    sw = await startOurSwitch(`${tmp}/a`);
    await waitUntilAccepting(`${tmp}/a`);
    const listen = (port: number) =>
      run(
        [...ourCli(), "cable", "listen", `127.0.0.1:${port}`, "--sock", `${tmp}/a`, "--insecure"]
          .concat(["-d", "--pidfile", pidfile, "--logfile", `${tmp}/listen.log`]),
        { check: false, timeoutMs: 60_000 },
      );
    const refused = await listen(taken.addr.port);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}`));
    await assert.rejects(Deno.stat(pidfile), Deno.errors.NotFound);
    taken.close();
    // Port 0: the line it returns with names the port the kernel gave.
    const up = await listen(0);
    assert.equal(up.code, 0, up.stderr);
    const said = up.stderr.match(
      new RegExp(
        `vde cable: listening on 127\\.0\\.0\\.1:(\\d+) for cables to ${tmp}/a; in the background as pid \\d+`,
      ),
    );
    const port = Number(said?.[1]);
    assert.ok(port > 0, up.stderr);
    // It listens when it has returned: a connection is taken now.
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    assert.equal((await Deno.stat(pidfile)).mode! & 0o777, 0o644);
    Deno.kill(Number((await Deno.readTextFile(pidfile)).trim()), "SIGTERM");
    await pidfileGone(pidfile);
    assert.match(await Deno.readTextFile(`${tmp}/listen.log`), /SIGTERM: closing 0 cable\(s\)/);
  } finally {
    try {
      taken.close();
    } catch { /* closed above */ }
    await sw?.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
