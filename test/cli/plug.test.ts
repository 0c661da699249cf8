import assert from "node:assert/strict";
import {
  assertSameBytes,
  assertSameFrames,
  framed,
  FrameTap,
  reap,
  spawnVde,
  tagOf,
  TEST_CLI,
  testFrame,
  within,
  writeTo,
} from "../helpers/framed_peers.ts";
import { run, spawnManaged } from "../helpers/processes.ts";
import { startOurSwitch, startSwitchOf } from "../helpers/switches.ts";
import { ourCli, sleep } from "../helpers/vde_clients.ts";
import { processIds, statFields } from "../../src/os/processes.ts";

Deno.test("vde plug joins a VNL with stdio: cmd://cat echoes framed stdin to stdout", async () => {
  const child = spawnVde(["plug", "cmd://cat"]);
  try {
    const tap = new FrameTap(child.stdout);
    const frames = Array.from({ length: 300 }, (_, i) => testFrame(i, 60 + i * 4));
    await writeTo(child, framed(...frames.slice(0, 150)));
    await writeTo(child, framed(...frames.slice(150)));
    await tap.waitTag(299);
    assertSameFrames(tap.frames, frames);
    assertSameBytes(tap.raw, framed(...frames), "stdout carries exactly the framing of the frames");
    await child.stdin.close();
    const status = await within("vde plug to exit", 10_000, child.status);
    assert.equal(status.code, 0);
  } finally {
    await reap(child);
  }
});

Deno.test("vde plug exits 0 when stdin ends", async () => {
  const child = spawnVde(["plug", "-D", "a test", "null://"], { stdin: "null", stdout: "null" });
  try {
    const status = await within("vde plug to exit", 10_000, child.status);
    assert.equal(status.code, 0);
  } finally {
    await reap(child);
  }
});

Deno.test("vde plug prints one line and exits 1 when a VNL cannot be opened", async () => {
  for (const vnl of ["nope://x", "cmd://no-such-command-vde-test"]) {
    const child = spawnVde(["plug", "null://", vnl], { stdin: "null", stdout: "null", stderr: "piped" });
    try {
      const out = await within("vde plug to exit", 10_000, child.output());
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.match(stderr, new RegExp(`^vde: cannot open ${vnl.replace(/[/.]/g, "\\$&")}: [^\\n]+\\n$`));
    } finally {
      await reap(child);
    }
  }
});

Deno.test("vde plug says why and exits 1 when a cmd:// end fails or a tcp:// once cable never connects", async () => {
  // A port nobody listens on: taken from the kernel, then let go.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const cases: [string, RegExp][] = [
    ["cmd://sh -c 'exit 3'", /command exited with status 3/],
    [`tcp://127.0.0.1:${port}/insecure/once`, /cannot connect to 127\.0\.0\.1:\d+: connection refused/],
  ];
  for (const [vnl, why] of cases) {
    const child = spawnVde(["plug", "null://", vnl], { stdin: "null", stdout: "null", stderr: "piped" });
    try {
      const out = await within("vde plug to exit", 10_000, child.output());
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      const last = stderr.trimEnd().split("\n").at(-1)!;
      assert.ok(last.startsWith(`vde: ${vnl}: `), stderr);
      assert.match(last, why);
    } finally {
      await reap(child);
    }
  }
  const fine = spawnVde(["plug", "null://", "cmd://true"], {
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  });
  const out = await within("vde plug to exit", 10_000, fine.output());
  assert.equal(out.code, 0, "a command that ends well ends the plug silently");
  assert.equal(new TextDecoder().decode(out.stderr), "");
});

/** The pid of `parent`'s child running `comm`, once it runs (within 20 s). */
async function childRunning(parent: number, comm: string): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    for (const pid of processIds()) {
      if (statFields(pid)?.[1] !== String(parent)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === comm) return pid;
      } catch { /* gone */ }
    }
    await sleep(20);
  }
  throw new Error(`no ${comm} under pid ${parent}`);
}

Deno.test("vde plug ended by a signal that killed its cmd:// command too (timeout's, a process group's) says nothing; a command killed alone is said", async () => {
  for (const alone of [false, true]) {
    const child = spawnVde(["plug", "null://", "cmd://cat"], {
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    try {
      const cat = await childRunning(child.pid, "cat");
      // The group's TERM as the plug may see it: the command's death first, its own signal a moment later.
      Deno.kill(cat, "SIGTERM");
      if (!alone) {
        await sleep(20);
        child.kill("SIGTERM");
      }
      const out = await within("vde plug to exit", 10_000, child.output());
      const stderr = new TextDecoder().decode(out.stderr);
      if (alone) {
        assert.equal(out.code, 1, stderr);
        assert.equal(stderr.trimEnd().split("\n").at(-1), "vde: cmd://cat: command killed by SIGTERM");
      } else {
        assert.equal(out.code, 0, stderr);
        assert.equal(stderr, "");
      }
    } finally {
      await reap(child);
    }
  }
});

Deno.test("vde plug joins two VNLs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-plug-test-" });
  const frames = [testFrame(1), testFrame(2, 1514)];
  const bytes = framed(...frames);
  const printf = [...bytes].map((b) => `\\${b.toString(8).padStart(3, "0")}`).join("");
  const child = spawnVde(
    ["plug", `cmd://sh -c "printf '${printf}'; exec sleep 1"`, `cmd://sh -c "exec cat > ${dir}/out"`],
    { stdin: "null", stdout: "null" },
  );
  try {
    const status = await within("vde plug to exit", 10_000, child.status);
    assert.equal(status.code, 0);
    const out = await Deno.readFile(`${dir}/out`);
    assert.deepEqual(out, bytes);
    assert.deepEqual([tagOf(frames[0]!), tagOf(frames[1]!)], [1, 2]);
  } finally {
    await reap(child);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde plug with one VNL at a terminal refuses in one line instead of joining the switch to the screen", async () => {
  // script(1) gives the command a pseudo-terminal as stdin and stdout.
  const cmd = [...TEST_CLI, "plug", "null://"].join(" ");
  const r = await run(["script", "-qec", cmd, "/dev/null"], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stdout,
    /^vde: refusing to join null:\/\/ to this terminal \([^\n]*`vde plug null:\/\/ tap:\/\/tap0`/,
  );
  assert.equal(r.stdout.trim().split("\n").length, 1, r.stdout);
});

Deno.test("vde plug alone at a terminal says what it takes, with an example, in one line", async () => {
  const cmd = [...TEST_CLI, "plug"].join(" ");
  const r = await run(["script", "-qec", cmd, "/dev/null"], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stdout,
    /^vde: vde plug joins two ends: .*e\.g\. `vde plug \/tmp\/net tap:\/\/tap0`/,
    r.stdout,
  );
  assert.doesNotMatch(r.stdout, /''/, "no empty switch name quoted");
  assert.equal(r.stdout.trim().split("\n").length, 1, r.stdout);
});

Deno.test("vde plug at a terminal suggests the line with the switch the user gave, quoted for the shell", async () => {
  const cmd = [...TEST_CLI, "plug", "'vde:///tmp/vde-no-such[3]'"]
    .join(" ");
  const r = await run(["script", "-qec", cmd, "/dev/null"], { check: false, timeoutMs: 30_000 });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /e\.g\. `vde plug 'vde:\/\/\/tmp\/vde-no-such\[3\]' tap:\/\/tap0`/, r.stdout);
});

for (const extra of [[], ["--no-thread"]] as const) {
  Deno.test(`vde plug DIR slirp://${extra.map((f) => ` ${f}`).join("")} prints the gateway, DNS and lease line vde slirp prints`, async () => {
    const dir = await Deno.makeTempDir({ prefix: `vde-plug-slirp-${Deno.pid}-` });
    const sw = await startOurSwitch(`${dir}/sw`);
    const started = /^vde (?:plug|slirp): on (\S+): (gateway [^\n]+ first lease [^\n]+)$/m;
    const plugged = spawnManaged([...ourCli(), "plug", ...extra, `${dir}/sw`, "slirp://"], {
      name: "vde plug",
    });
    const slirp = spawnManaged([...ourCli(), "slirp", ...extra, "--sock", `${dir}/sw`], {
      name: "vde slirp",
    });
    try {
      const p = await plugged.waitForOutput(started, 20_000, "stderr");
      const s = await slirp.waitForOutput(started, 20_000, "stderr");
      assert.equal(p[0], `vde plug: on ${dir}/sw: ${s[2]}`);
      assert.match(p[2]!, /^gateway 10\.0\.2\.2\/24 dns 10\.0\.2\.3 first lease 10\.0\.2\.15/);
    } finally {
      await plugged.stop();
      await slirp.stop();
      await sw.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("vde plug asking for a port past the last says so with the switch's port count; vde_switch's silence is guessed at", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-plug-range-${Deno.pid}-` });
  try {
    for (const kind of ["ours", "c"] as const) {
      const sw = await startSwitchOf(kind, `${dir}/${kind}`, { ports: 4 });
      try {
        for (const args of [[`vde://${dir}/${kind}[5000]`], ["--port", "5000", `${dir}/${kind}`]]) {
          const r = await run([...ourCli(), "plug", ...args, "null://"], { check: false, timeoutMs: 30_000 });
          assert.equal(r.code, 1, r.stderr);
          const why = kind === "ours"
            ? "port 5000 is out of range: the switch has 4 ports, 0 to 3"
            : "port busy, out of range, or none free";
          assert.match(
            r.stderr,
            new RegExp(
              `^vde: the switch at ${dir}/${kind} refused the connection for port 5000: ${
                why.replace(/[()]/g, "\\$&")
              }\\n$`,
            ),
            `${kind} ${args.join(" ")}`,
          );
        }
      } finally {
        await sw.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde plug without a VNL (as vde_plug alone) plugs into the default switch of ~/.vde2/default.switch, and names it '' when it cannot", async () => {
  const home = await Deno.makeTempDir({ prefix: "vde-plug-default-" });
  const sw = await startOurSwitch(`${home}/net`);
  try {
    await Deno.mkdir(`${home}/.vde2`);
    await Deno.symlink(`${home}/net`, `${home}/.vde2/default.switch`);
    // stdin ends at once: the plug joined the switch, then leaves with status 0.
    const ok = await run([...ourCli(), "plug"], { check: false, timeoutMs: 30_000, env: { HOME: home } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, "");
    await Deno.remove(`${home}/.vde2/default.switch`);
    await Deno.writeTextFile(`${home}/.vde2/default.switch`, "vxvde://239.1.2.3\n");
    const refused = await run([...ourCli(), "plug", "", "null://"], {
      check: false,
      timeoutMs: 30_000,
      env: { HOME: home },
    });
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `vde: cannot open '' (the default switch): ${home}/.vde2/default.switch names "vxvde://239.1.2.3", ` +
        "which is no vde:// switch: give the VNL itself\n",
    );
  } finally {
    await sw.stop();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("vde plug carrying a tcp:// cable names its switch port and the far one in its cable lines, whichever end listens", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-plug-cable-port-${Deno.pid}-` });
  const a = await startOurSwitch(`${dir}/a`);
  const b = await startOurSwitch(`${dir}/b`);
  // The listening end given first (it waits for its cable), on port 3; the connecting end on port 5.
  const listener = spawnManaged(
    [...ourCli(), "plug", "tcp://127.0.0.1:0/listen/insecure", `vde://${dir}/a[3]`],
    { name: "listening plug" },
  );
  let connector: ReturnType<typeof spawnManaged> | undefined;
  try {
    const [, port] = await listener.waitForOutput(/listening on 127\.0\.0\.1:(\d+)/, 20_000, "stderr");
    connector = spawnManaged(
      [...ourCli(), "plug", `vde://${dir}/b[5]`, `tcp://127.0.0.1:${port}/insecure`],
      { name: "connecting plug" },
    );
    await connector.waitForOutput(/cable open .* port 5 \(far 3\) session /, 20_000, "stderr");
    await listener.waitForOutput(/cable open .* port 3 session /, 20_000, "stderr");
  } finally {
    await connector?.stop();
    await listener.stop();
    await a.stop();
    await b.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vde plug whose listening tcp:// end still waits for its cable ends on SIGTERM, exit 0, its switch port given back", async () => {
  const dir = await Deno.makeTempDir({ prefix: `vde-plug-listen-stop-${Deno.pid}-` });
  const sw = await startOurSwitch(`${dir}/sw`);
  try {
    for (
      const ends of [["tcp://127.0.0.1:0/listen/insecure", `${dir}/sw`], [
        `${dir}/sw`,
        "tcp://127.0.0.1:0/listen/insecure",
      ]]
    ) {
      const plugged = spawnManaged([...ourCli(), "plug", ...ends], { name: "listening plug" });
      await plugged.waitForOutput(/listening on 127\.0\.0\.1:\d+/, 20_000, "stderr");
      const status = await plugged.stop({ timeoutMs: 10_000 });
      assert.deepEqual([status.code, status.signal], [0, null], `${ends.join(" ")}: ${plugged.stderr}`);
    }
    const ports = await run([...ourCli(), "term", `${dir}/sw`, "-c", "port/print"], { timeoutMs: 30_000 });
    assert.doesNotMatch(ports.stdout, /^Port /m, "no port left taken");
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
