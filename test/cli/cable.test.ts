/**
 * `vde cable` at the command line: what a user types before any cable runs.
 */
import assert from "node:assert/strict";
import { run, waitFor } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { startOurSwitch } from "../helpers/switches.ts";
import { localSwitch } from "../../src/link/cable_lock.ts";
import { CableListener } from "../../src/cable/listener.ts";
import { CableClient, defaultSessionId } from "../../src/cable/client.ts";
import { generateKeyFile, keyFromBytes } from "../../src/cable/key.ts";
import { processAlive } from "../../src/os/processes.ts";
import { MgmtClient } from "../../src/console/client.ts";
import { hex } from "../../src/wire/cable_handshake.ts";

Deno.test("vde cable keygen - refuses in one line and writes no file named '-'", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-keygen-" });
  try {
    const r = await run([...ourCli(), "cable", "keygen", "-"], { check: false, timeoutMs: 60_000, cwd: tmp });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "vde: keygen writes a file (mode 0600), not stdout: give its name, e.g. lab.key\n",
    );
    assert.equal(r.stdout, "");
    await assert.rejects(Deno.stat(`${tmp}/-`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde cable listen with a key file others may read refuses in one line: which file, chmod 600 FILE", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-keymode-" });
  try {
    const key = `${tmp}/lab.key`;
    assert.equal((await run([...ourCli(), "cable", "keygen", key], { timeoutMs: 60_000 })).code, 0);
    await Deno.chmod(key, 0o644);
    const r = await run(
      [...ourCli(), "cable", "listen", "127.0.0.1:0", "--sock", "null://", "--key", key],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `vde: key file ${key} is readable by group or others (mode 0644): chmod 600 ${key}\n`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde cable listen on a port another program holds says so, and that 0 takes a free one", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = taken.addr as Deno.NetAddr;
    const r = await run(
      [...ourCli(), "cable", "listen", `127.0.0.1:${port}`, "--sock", "null://", "--insecure"],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(
        `^vde: cannot listen on 127\\.0\\.0\\.1:${port}: .*; vde cable listen 0 takes a free port\\n$`,
      ),
    );
  } finally {
    taken.close();
  }
});

Deno.test("vde cable connect with a wrong key says so in one line and exits 1; no retry mends it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-wrongkey-" });
  const listener = CableListener.start({
    hostname: "127.0.0.1",
    port: 0,
    key: await keyFromBytes(new Uint8Array(32).fill(1)),
    log: () => {},
    onSession: () => 0,
  });
  try {
    const key = `${tmp}/other.key`;
    const other = await generateKeyFile(key);
    const r = await run(
      [...ourCli(), "cable", "connect", `127.0.0.1:${listener.addr.port}`, "--sock", "null://", "--key", key],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr,
      `vde: cannot connect to 127.0.0.1:${listener.addr.port}: the listener refused the cable: wrong key ` +
        `(ours is ${other.idHex}; the listener logs its key id: both ends need the same key file)\n`,
    );
  } finally {
    listener.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A listener on a free port of 127.0.0.1 with the key it makes in `tmp`/lab.key; every cable on port 1. */
async function startListener(tmp: string): Promise<CableListener> {
  return CableListener.start({
    hostname: "127.0.0.1",
    port: 0,
    key: await generateKeyFile(`${tmp}/lab.key`),
    log: () => {},
    onSession: () => 1,
  });
}

/** `vde ARGS` in the background (in `cwd`), its output dropped. */
function spawnCli(args: string[], cwd?: string): Deno.ChildProcess {
  return new Deno.Command(ourCli()[0]!, {
    args: [...ourCli().slice(1), ...args],
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("a second vde cable connect of a cable that runs here is refused in one line naming the first, which keeps the cable", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-twice-" });
  const listener = await startListener(tmp);
  const args = [
    "cable",
    "connect",
    `127.0.0.1:${listener.addr.port}`,
    "--sock",
    "null://",
    "--key",
    `${tmp}/lab.key`,
  ];
  const first = spawnCli(args);
  try {
    await waitFor(() => listener.sessions.length > 0, {
      timeoutMs: 60_000,
      what: "the first cable's session",
    });
    const second = await run([...ourCli(), ...args], { check: false, timeoutMs: 60_000 });
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^vde: vde cable connect 127\\.0\\.0\\.1:${listener.addr.port} --sock null:// already runs on this host ` +
          `\\(pid ${first.pid}, session [0-9a-f]{16}\\): a second one would take the cable from it, .* --session NAME`,
      ),
    );
    assert.equal(
      listener.counters.connections,
      1,
      "the second one never connected: the first keeps the cable",
    );
  } finally {
    first.kill("SIGTERM");
    await first.status;
    listener.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("one switch named two ways (sw from its directory, /tmp/.../sw) is one cable session, locked next to the switch's sockets", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-paths-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const listener = await startListener(tmp);
  const args = (sock: string) => [
    "cable",
    "connect",
    `127.0.0.1:${listener.addr.port}`,
    "--sock",
    sock,
    "--key",
    `${tmp}/lab.key`,
    "--session",
    "office",
  ];
  const first = spawnCli(args("sw"), tmp);
  try {
    await waitFor(() => listener.sessions.length > 0, {
      timeoutMs: 60_000,
      what: "the first cable's session",
    });
    // Where another user of the switch, whose runtime directory is not ours, finds it too.
    const locks = [...Deno.readDirSync(`${tmp}/sw`)].filter((e) => /^cable-[0-9a-f]{32}\.lock$/.test(e.name));
    assert.equal(locks.length, 1, "the session's lock is in the switch's directory");
    const second = await run([...ourCli(), ...args(`vde://${tmp}/sw`)], { check: false, timeoutMs: 60_000 });
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`already runs on this host \\(pid ${first.pid}, session `));
    assert.equal(listener.counters.connections, 1, "the first keeps the cable");
    // The switch stops first: the cable ends with it, and its lock must not keep the directory.
    await sw.stop();
    await first.status;
    // What is left, if anything, says whose removal lost: a lock file (the cable's), ctl (the switch's), a socket.
    let left: string[] | null = null;
    try {
      left = [...Deno.readDirSync(`${tmp}/sw`)].map((e) => e.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    assert.equal(left, null, `the switch's directory is gone (it holds: ${left?.join(" ")})`);
  } finally {
    try {
      first.kill("SIGTERM");
    } catch { /* ended with its switch */ }
    await first.status;
    listener.close();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("one cable through vde plug, vde switch --cable and vde cable connect is one session: a second carrier is refused, naming the first", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-carriers-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const listener = await startListener(tmp);
  const address = `127.0.0.1:${listener.addr.port}`;
  const cable = `tcp://${address}/key=${tmp}/lab.key`;
  const refusal = (pid: number) =>
    new RegExp(`already runs on this host \\(pid ${pid}, session [0-9a-f]{16}\\)`);
  const plug = spawnCli(["plug", `${tmp}/sw`, cable]);
  let carrier: Deno.ChildProcess | undefined;
  try {
    await waitFor(() => listener.sessions.length > 0, { timeoutMs: 60_000, what: "the plug's cable" });
    const connect = await run(
      [...ourCli(), "cable", "connect", address, "--sock", `${tmp}/sw`, "--key", `${tmp}/lab.key`],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(connect.code, 1, connect.stderr);
    assert.match(connect.stderr, refusal(plug.pid));
    const again = await run([...ourCli(), "plug", `vde://${tmp}/sw`, cable], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(again.code, 1, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(`^vde: cannot open tcp://${address}/key=.*: ${refusal(plug.pid).source}`),
    );
    plug.kill("SIGTERM");
    await plug.status;
    // A switch that carries the cable itself: a plug of the same cable into it is the second carrier.
    carrier = spawnCli(["switch", "--sock", `${tmp}/sw2`, "--cable", cable]);
    await waitFor(() => listener.counters.connections === 2, {
      timeoutMs: 60_000,
      what: "the switch's cable",
    });
    const into = await run([...ourCli(), "plug", `${tmp}/sw2`, cable], { check: false, timeoutMs: 60_000 });
    assert.equal(into.code, 1, into.stderr);
    assert.match(into.stderr, refusal(carrier.pid));
    assert.equal(listener.counters.connections, 2, "no refused carrier ever connected");
  } finally {
    for (const p of [plug, carrier]) {
      try {
        p?.kill("SIGTERM");
      } catch { /* ended */ }
      await p?.status;
    }
    listener.close();
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("vde cable listen's port on its switch is listed by the session and the address the cable was opened from", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-listen-port-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = free.addr as Deno.NetAddr;
  free.close();
  const listen = spawnCli(["cable", "listen", `127.0.0.1:${port}`, "--sock", `${tmp}/sw`, "--insecure"]);
  const sessionId = await defaultSessionId("far site");
  // It retries until vde cable listen listens.
  const client = new CableClient({ hostname: "127.0.0.1", port, key: null, sessionId, log: () => {} });
  const mgmt = await MgmtClient.connect(`${tmp}/sw/mgmt`);
  try {
    await waitFor(() => client.farPort > 0, { timeoutMs: 60_000, what: "the cable's port on the switch" });
    const lines = (await mgmt.command("port/print")).lines ?? [];
    const name = `cable session ${hex(sessionId).slice(0, 16)}`;
    assert.match(
      lines.find((l) => l.includes("-- endpoint")) ?? lines.join("\n"),
      new RegExp(`: ${name}, opened from 127\\.0\\.0\\.1:\\d+ user=`),
    );
  } finally {
    mgmt.close();
    client.close("test over");
    try {
      listen.kill("SIGTERM");
    } catch { /* ended */ }
    await listen.status;
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a cable's local switch is named by its real path, its [port=N] kept; another VNL as typed", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "vde-cable-name-" }));
  try {
    await Deno.mkdir(`${tmp}/sw`);
    await Deno.symlink(`${tmp}/sw`, `${tmp}/link`);
    const real = { name: `${tmp}/sw`, dir: `${tmp}/sw` };
    assert.deepEqual(localSwitch(`${tmp}/link`), real);
    assert.deepEqual(localSwitch(`vde://${tmp}/sw/`), real);
    assert.deepEqual(localSwitch(`${tmp}/sw[port=3]`), { name: `${tmp}/sw[port=3]`, dir: `${tmp}/sw` });
    assert.deepEqual(localSwitch("null://"), { name: "null://" });
    assert.deepEqual(localSwitch(`${tmp}/none`), { name: `${tmp}/none` }, "opening it says why");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a background cable refused after it ran (its listener's key rotated) logs that it ended, not that it could not start", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-rotated-" });
  let listener = await startListener(tmp);
  const port = listener.addr.port;
  try {
    const r = await run(
      [
        ...ourCli(),
        "cable",
        "connect",
        `127.0.0.1:${port}`,
        "--sock",
        "null://",
        "--key",
        `${tmp}/lab.key`,
        "-d",
      ]
        .concat(["--logfile", `${tmp}/log`, "--pidfile", `${tmp}/pid`]),
      { timeoutMs: 60_000 },
    );
    assert.match(r.stdout + r.stderr, /connected/);
    const pid = Number((await Deno.readTextFile(`${tmp}/pid`)).trim());
    listener.close();
    // Deno lets go of a closed listener's port once the accept it waited in has settled: the accept
    // loop's end (`done`). Bound at once after close, the same port was still taken (AddrInUse in CI).
    await listener.done;
    listener = CableListener.start({
      hostname: "127.0.0.1",
      port,
      key: await generateKeyFile(`${tmp}/new.key`),
      log: () => {},
      onSession: () => 1,
    });
    await waitFor(() => !processAlive(pid), { timeoutMs: 30_000, what: "the refused cable's exit" });
    const logged = await Deno.readTextFile(`${tmp}/log`);
    assert.match(logged, /vde cable: ended: cannot connect to .*: the listener refused the cable: wrong key/);
    assert.doesNotMatch(logged, /cannot start/);
  } finally {
    listener.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("wirefilters from two switches to one listener are two cables, each its switch's session, as vde cable connect --sock names it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-wirefilters-" });
  const sw1 = await startOurSwitch(`${tmp}/sw1`);
  const sw2 = await startOurSwitch(`${tmp}/sw2`);
  const listener = await startListener(tmp);
  const address = `127.0.0.1:${listener.addr.port}`;
  const cable = `tcp://${address}/key=${tmp}/lab.key`;
  // A site each: the impaired wire between its switch and the listener's site.
  const filter = (sw: string) =>
    spawnCli(["wirefilter", `vde://${tmp}/${sw}`, cable, "--delay", "5", "--mgmt", `${tmp}/${sw}.wf`]);
  const first = filter("sw1");
  let second: Deno.ChildProcess | undefined;
  try {
    await waitFor(() => listener.sessions.length === 1, {
      timeoutMs: 60_000,
      what: "the first wirefilter's cable",
    });
    second = filter("sw2");
    await waitFor(() => listener.sessions.length === 2, {
      timeoutMs: 60_000,
      what: "the second wirefilter's cable, a session of its own",
    });
    assert.ok(processAlive(first.pid), "the first keeps its cable");
    // The wirefilter's cable is its switch's: a connect from that switch is the second carrier.
    const connect = await run(
      [...ourCli(), "cable", "connect", address, "--sock", `${tmp}/sw1`, "--key", `${tmp}/lab.key`],
      { check: false, timeoutMs: 60_000 },
    );
    assert.equal(connect.code, 1, connect.stderr);
    assert.match(connect.stderr, new RegExp(`already runs on this host \\(pid ${first.pid}, session `));
  } finally {
    for (const p of [first, second]) {
      try {
        p?.kill("SIGTERM");
      } catch { /* ended */ }
      await p?.status;
    }
    listener.close();
    await sw1.stop();
    await sw2.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a wirefilter listening on tcp:// tells the cable that comes its switch's port, as vde plug's listening end does", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-cable-wf-listen-" });
  const sw = await startOurSwitch(`${tmp}/sw`);
  const key = await generateKeyFile(`${tmp}/lab.key`);
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = free.addr as Deno.NetAddr;
  free.close();
  // The listening side first: it waits for its far end, and tells it the port the switch side holds then.
  const filter = spawnCli([
    "wirefilter",
    `tcp://127.0.0.1:${port}/listen/key=${tmp}/lab.key`,
    `vde://${tmp}/sw`,
    "--mgmt",
    `${tmp}/wf`,
  ]);
  let client: CableClient | undefined;
  try {
    // It retries until the wirefilter listens.
    client = new CableClient({
      hostname: "127.0.0.1",
      port,
      key,
      sessionId: await defaultSessionId("far site"),
      log: () => {},
    });
    await waitFor(() => client!.farPort > 0, { timeoutMs: 60_000, what: "the far port, told" });
  } finally {
    client?.close("test over");
    try {
      filter.kill("SIGTERM");
    } catch { /* ended */ }
    await filter.status;
    await sw.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
