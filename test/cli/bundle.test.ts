/**
 * The one file to carry: `deno task bundle` writes dist/vde.js alone, which
 * runs without the checkout or anything beside it: its data-plane workers
 * (the receive thread of a vde:// link, `vde plug --thread`) start from code
 * inside the file, and Debian's vde_plug clients work through its switch (the
 * switch interop test, run against the bundle); `vde slirp` starts its worker, and the receive thread that
 * worker starts in turn. Copied to a bin directory it is a command (`vde`, by its #! line), whose --daemon
 * copy runs the file again, it carries the example labs, and at a terminal it writes only its own words
 * (as does `deno task install`'s command). `deno task compile` (the release's binaries)
 * includes the same workers.
 */
import assert from "node:assert/strict";
import { framed, FrameTap, reap, spawn, tagOf, testFrame, within, writeTo } from "../helpers/framed_peers.ts";
import { pathExists, run, skipWithout, waitFor } from "../helpers/processes.ts";
import { WORKER_NAMES } from "../../src/dataplane/worker_url.ts";
import { compileArgs } from "../../scripts/compile.ts";
import { V8_FLAGS } from "../../src/cli/v8_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task bundle runs the bundle script that writes dist/vde.js", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  assert.equal(tasks.bundle.command, "deno run -A scripts/bundle.ts");
  assert.match(Deno.readTextFileSync(`${ROOT}scripts/bundle.ts`), /"dist\/vde\.js"/);
  assert.match(Deno.readTextFileSync(`${ROOT}.gitignore`), /^\/dist\/$/m);
});

Deno.test("deno task bundle --help prints its usage and writes no file named --help; another option is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-bundle-help-" });
  try {
    const script = `${ROOT}scripts/bundle.ts`;
    const help = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, "--help"], cwd: dir })
      .output();
    assert.equal(help.code, 0);
    assert.match(new TextDecoder().decode(help.stdout), /^usage: deno task bundle \[FILE\]/);
    const bad = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", script, "--out"], cwd: dir })
      .output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /^usage: deno task bundle/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every data-plane worker is in the bundle's list and in deno compile's --include, for the task and the release workflow", () => {
  const files = [...Deno.readDirSync(`${ROOT}src/dataplane`)].map((e) => e.name)
    .filter((n) => n.endsWith("_worker.ts")).map((n) => n.slice(0, -3)).sort();
  assert.deepEqual([...WORKER_NAMES].sort(), files);
  const args = compileArgs(["--target", "x86_64-unknown-linux-gnu", "--output", "dist/vde-x"]);
  for (const name of files) {
    assert.ok(
      args.includes(`${ROOT}src/dataplane/${name}.ts`),
      `${name} is not --include'd: ${args.join(" ")}`,
    );
  }
  assert.deepEqual(args.slice(-5), [
    "--target",
    "x86_64-unknown-linux-gnu",
    "--output",
    "dist/vde-x",
    `${ROOT}src/cli/vde.ts`,
  ]);
  assert.deepEqual(compileArgs([]).slice(-3), ["--output", "vde", `${ROOT}src/cli/vde.ts`]);
  assert.equal(
    JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.compile.command,
    "deno run -A scripts/compile.ts",
  );
  // The release built its binaries with a list of its own, which lacked the switch and slirp workers.
  const release = Deno.readTextFileSync(`${ROOT}.github/workflows/release.yml`);
  assert.match(release, /deno task compile --target "\$target" --output "dist\/vde-\$target"/);
  assert.doesNotMatch(release, /^\s*deno compile |--include/m);
});

/**
 * `deno task bundle`'s script, writing where parallel runs cannot collide; the file alone is then copied to
 * an empty directory `${tmp}/run`, so nothing of the checkout (no worker file) is beside it. Returns the
 * copy's path.
 */
async function bundleAlone(tmp: string): Promise<string> {
  const built = await run(
    [Deno.execPath(), "run", "-A", `${ROOT}scripts/bundle.ts`, `${tmp}/build/vde.js`],
    { timeoutMs: 180_000 },
  );
  assert.match(built.stderr, /^wrote .*\/build\/vde\.js \(\d+\.\d MB\); run it with: deno run -A /);
  // Run as a command, the file runs with vde's V8 flags (src/cli/v8_flags.ts).
  const first = (await Deno.readTextFile(`${tmp}/build/vde.js`)).split("\n", 1)[0];
  assert.equal(first, `#!/usr/bin/env -S deno run -A --v8-flags=${V8_FLAGS} --quiet`);
  await Deno.mkdir(`${tmp}/run`);
  await Deno.copyFile(`${tmp}/build/vde.js`, `${tmp}/run/vde.js`);
  await Deno.remove(`${tmp}/build`, { recursive: true });
  return `${tmp}/run/vde.js`;
}

/**
 * `command` run by sh at a terminal of 120 columns (script(1)), what the terminal shows. Deno without
 * --quiet first clears the line there for a progress bar (ESC[0G ESC[2K ESC[J), which erased the shell's
 * prompt when a `vde plug ... &` started after the prompt was drawn.
 */
function atTerminal(command: string, o: { cwd?: string; env?: Record<string, string> }) {
  return run(["script", "-qec", `stty cols 120 rows 40; ${command}`, "/dev/null"], {
    ...o,
    timeoutMs: 60_000,
  });
}

Deno.test("deno task install's vde writes only its own words at a terminal (deno run --quiet)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-install-" });
  try {
    const task: string = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.install.command;
    const [deno, ...args] = task.split(" ");
    assert.equal(deno, "deno");
    // The task as the user runs it, into a root of its own rather than ~/.deno.
    await run([Deno.execPath(), ...args.slice(0, 2), "--root", tmp, ...args.slice(2)], {
      cwd: ROOT,
      timeoutMs: 120_000,
    });
    const env = { PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}` };
    assert.match((await atTerminal(`${tmp}/bin/vde --version`, { env })).stdout, /^vde \d+\.\d+\.\d+\r\n$/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("installed as a command, the bundle runs by its name: a --daemon switch, its console, the example labs it carries", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-bundle-" });
  const env = { PATH: `${tmp}/bin:${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}` };
  const shutdown = () => run(["vde", "term", `${tmp}/s0`, "-c", "shutdown"], { env, check: false });
  try {
    // As a user drops it on a lab machine: run by its name from elsewhere (its #! line finds deno on the
    // PATH), and a --daemon copy of itself starts from that file again.
    await Deno.mkdir(`${tmp}/bin`);
    await Deno.copyFile(await bundleAlone(tmp), `${tmp}/bin/vde`);
    const asCommand = {
      cwd: tmp,
      timeoutMs: 60_000,
      env,
    };
    const daemon = await run(["vde", "switch", "--sock", `${tmp}/s0`, "--daemon"], asCommand);
    assert.match(
      daemon.stderr,
      /^vde switch: serving .*\/s0 with 32 ports, forwarding on a data-plane thread;/,
    );
    assert.equal((await shutdown()).code, 0);
    await waitFor(async () => !(await pathExists(`${tmp}/s0/ctl`, true)), {
      timeoutMs: 30_000,
      what: "the background switch to stop",
    });
    assert.match((await atTerminal("vde --version", asCommand)).stdout, /^vde \d+\.\d+\.\d+\r\n$/);
    // The example labs are inside it: there is no examples/ beside it, and the README's command says so.
    const example = await run(["vde", "example", "lan-nat"], asCommand);
    assert.equal(
      example.stdout,
      Deno.readTextFileSync(`${ROOT}examples/lan-nat.yaml`).replace(/^# yaml-language-server: .*\n/, ""),
    );
    const up = await run(["vde", "up", "examples/lan-nat.yaml"], { ...asCommand, check: false });
    assert.equal(up.code, 1);
    assert.match(up.stderr, /no such file \(vde carries that example: vde example lan-nat > lan-nat\.yaml;/);
  } finally {
    if (await pathExists(`${tmp}/s0/ctl`, true)) await shutdown();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the bundled vde.js alone runs offline: its worker threads forward and the switch passes interop with Debian's vde_plug", async (t) => {
  if (await skipWithout(t, { vde_plug: "vdeplug" })) return;
  const tmp = await Deno.makeTempDir({ prefix: "vde-bundle-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const vde = [Deno.execPath(), "run", "-A", "--no-remote", "--no-npm", await bundleAlone(tmp)];
    const version = await run([...vde, "--version"], { cwd: `${tmp}/run`, timeoutMs: 30_000 });
    assert.match(version.stdout, /^vde \d+\.\d+\.\d+/);

    // A frame from Debian's vde_plug on s1 crosses `vde plug --thread` (the plug worker) to s2, where
    // `vde plug vde://s2` (its receive thread) writes it to stdout.
    const bg = (args: string[]) => {
      const child = spawn(vde[0]!, [...vde.slice(1), ...args], {
        stdin: "null",
        stdout: "null",
        stderr: "null",
      });
      children.push(child);
      return child;
    };
    for (const sw of ["s1", "s2"]) {
      bg(["switch", "--sock", `${tmp}/${sw}`]);
      await waitFor(async () => await pathExists(`${tmp}/${sw}/ctl`, true), {
        timeoutMs: 30_000,
        what: `switch ${sw}`,
      });
    }
    bg(["plug", "--thread", `vde://${tmp}/s1`, `vde://${tmp}/s2`]);
    const reader = spawn(vde[0]!, [...vde.slice(1), "plug", `vde://${tmp}/s2`], { stderr: "piped" });
    children.push(reader);
    const tap = new FrameTap(reader.stdout);
    const sender = spawn("vde_plug", [`vde://${tmp}/s1`], { stdout: "null", stderr: "null" });
    children.push(sender);
    // Both plugs need a moment to join their switches; resend until the frame arrives.
    const deadline = Date.now() + 60_000;
    for (let tag = 1; !tap.frames.some((f) => tagOf(f) > 0); tag++) {
      assert.ok(Date.now() < deadline, "no frame crossed both bundled workers within 60 s");
      await writeTo(sender, framed(testFrame(tag)));
      await new Promise((r) => setTimeout(r, 500));
    }
    const stderr = new Response(reader.stderr).text();
    await reader.stdin.close();
    const status = await within("vde plug to exit", 10_000, reader.status);
    assert.doesNotMatch(await stderr, /Module not found|Uncaught/, await stderr);
    assert.equal(status.code, 0, await stderr);

    // `vde slirp` runs its stack on the slirp worker, which starts a vde:// receive thread of its own
    // (a worker inside a worker: its code from the bundle's prelude too).
    const slirp = spawn(vde[0]!, [...vde.slice(1), "slirp", "--sock", `${tmp}/s2`], {
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    });
    children.push(slirp);
    let said = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of slirp.stderr) said += decoder.decode(chunk, { stream: true });
    })();
    // Its line that it serves comes once its thread runs; signalled before, it ends at once without it
    // (a stop waits for no thread still loading), which proves nothing about the bundle's workers.
    const serving = /^vde slirp: on .*\/s2: gateway 10\.0\.2\.2\/24/m;
    await waitFor(() => serving.test(said), {
      timeoutMs: 30_000,
      what: "the bundled vde slirp to say it serves s2",
    });
    slirp.kill("SIGTERM");
    await within("vde slirp to exit", 10_000, slirp.status);
    await reading;
    assert.match(said, serving, said);
    assert.doesNotMatch(said, /failed|Uncaught/, said);

    const interop = await run(
      [Deno.execPath(), "test", "-A", "--no-check", `${ROOT}test/interop/switch_with_vde_plug.test.ts`],
      {
        cwd: ROOT,
        timeoutMs: 300_000,
        check: false,
        env: { VDE_OURS_CMD: `${vde.join(" ")} switch`, NO_COLOR: "1" },
      },
    );
    assert.equal(interop.code, 0, `${interop.stdout}\n${interop.stderr}`);
    assert.match(interop.stdout, /ok \| [1-9]\d* passed \| 0 failed/);
  } finally {
    for (const child of children) await reap(child);
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("every deno task says what it is for, so `deno task` alone is the list of what to run", () => {
  const tasks: Record<string, { description?: string; command?: string }> =
    JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  for (const [name, task] of Object.entries(tasks)) {
    assert.ok((task.description ?? "").length > 10, `${name} has no description`);
    assert.ok((task.command ?? "").startsWith("deno "), `${name}: ${task.command}`);
  }
  assert.equal(tasks.vde?.command, "deno run -A --v8-flags=--no-maglev src/cli/vde.ts");
  assert.match(tasks.test?.command ?? "", /^deno test -A .* mod\.ts src\/ test\/$/);
});
