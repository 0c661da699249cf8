/**
 * vde runs with its V8 flags (src/cli/v8_flags.ts) however it is started, and with them the switch
 * thread's wait loop is TurboFan code, whose FFI calls take Deno's fast path, never Maglev's.
 */
import assert from "node:assert/strict";
import { DENO_RUN, V8_FLAGS } from "../../src/cli/v8_flags.ts";
import { compileArgs } from "../../scripts/compile.ts";
import { REPO_ROOT, VDE_CLI } from "../helpers/switches.ts";
import { TEST_CLI } from "../helpers/framed_peers.ts";
import { vdeCommand } from "../lab/_helpers.ts";
import { run, waitFor } from "../helpers/processes.ts";

Deno.test("deno task vde, deno task install and deno task compile's binary carry vde's V8 flags", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}/deno.json`)).tasks;
  for (const name of ["vde", "install"]) {
    assert.ok(
      tasks[name].command.split(" ").includes(`--v8-flags=${V8_FLAGS}`),
      `${name}: ${tasks[name].command}`,
    );
  }
  assert.ok(compileArgs([]).includes(`--v8-flags=${V8_FLAGS}`));
  assert.deepEqual(DENO_RUN, ["run", "-A", "--v8-flags=--no-maglev"]);
});

Deno.test("the tests run vde as a user's vde runs, with its V8 flags (switches, plugs, labs, the bundle under test)", () => {
  const flag = `--v8-flags=${V8_FLAGS}`;
  assert.ok(VDE_CLI.includes(flag), VDE_CLI.join(" "));
  assert.ok(TEST_CLI.includes(flag), TEST_CLI.join(" "));
  assert.ok(vdeCommand().includes(flag), vdeCommand().join(" "));
  const entry = Deno.env.get("VDE_ENTRY");
  Deno.env.set("VDE_ENTRY", "/tmp/bundle/vde.js");
  try {
    assert.deepEqual(vdeCommand(), [Deno.execPath(), ...DENO_RUN, "/tmp/bundle/vde.js"]);
  } finally {
    if (entry === undefined) Deno.env.delete("VDE_ENTRY");
    else Deno.env.set("VDE_ENTRY", entry);
  }
});

Deno.test("run with vde's V8 flags, the switch thread's wait loop is compiled by TurboFan and nothing by Maglev", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vde-v8-flags-" });
  const child = new Deno.Command(Deno.execPath(), {
    // A second --v8-flags adds to the first, as a user's own (a heap size) does.
    args: [
      ...DENO_RUN,
      "--v8-flags=--trace-opt",
      `${REPO_ROOT}/src/cli/vde.ts`,
      "switch",
      "--sock",
      `${dir}/s`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let trace = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) trace += decoder.decode(chunk, { stream: true });
  })();
  const compiled = (fn: string) =>
    new RegExp(`completed compiling .*<JSFunction ${fn} .*\\(target TURBOFAN_JS\\)`).test(trace);
  try {
    // V8 writes its trace through a buffered stdout, which reaches a pipe in 4 KiB blocks and whole only
    // at exit: so the switch is asked when its thread has warmed (the loop is entered then, `run` compiled
    // while warming), then stopped, and the whole trace is read.
    await waitFor(async () => {
      const info = await run([...VDE_CLI, "term", `${dir}/s/mgmt`, "-c", "showinfo"], { check: false });
      return /switch thread warmed up in \d+ ms/.test(info.stdout);
    }, { timeoutMs: 30_000, what: "the switch thread to warm up" });
    child.kill("SIGTERM");
    await child.status;
    await reading;
    assert.ok(compiled("run") && compiled("#serveFds"), "the switch thread's run loop compiled by TurboFan");
    assert.doesNotMatch(trace, /target MAGLEV/);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* stopped above */ }
    await child.status;
    await reading;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
