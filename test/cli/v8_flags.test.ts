/**
 * vde runs with its V8 flags (src/cli/v8_flags.ts) however it is started, and with them the switch
 * thread's wait loop is TurboFan code, whose FFI calls take Deno's fast path, never Maglev's.
 */
import assert from "node:assert/strict";
import { DENO_RUN, V8_FLAGS } from "../../src/cli/v8_flags.ts";
import { compileArgs } from "../../scripts/compile.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
import { waitFor } from "../helpers/processes.ts";

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
  try {
    // The loop is entered after warm-up; `run` is compiled while warming, before the first real frame.
    const compiled = (fn: string) =>
      new RegExp(`completed compiling .*<JSFunction ${fn} .*\\(target TURBOFAN_JS\\)`).test(trace);
    await waitFor(() => compiled("run") && compiled("#serveFds"), {
      timeoutMs: 30_000,
      what: "the switch thread's run loop compiled by TurboFan",
    });
    assert.doesNotMatch(trace, /target MAGLEV/);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});
