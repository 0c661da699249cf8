/**
 * The one file to carry: `deno task bundle`'s dist/vde.js runs without the
 * checkout, and Debian's vde_plug clients work through its switch (the
 * switch interop test, run against the bundle).
 */
import assert from "node:assert/strict";
import { pathExists, run, waitFor } from "../helpers/processes.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task bundle writes dist/vde.js from the CLI entry", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  assert.match(tasks.bundle, /^deno bundle -q -o dist\/vde\.js src\/cli\/vde\.ts && /);
  assert.match(Deno.readTextFileSync(`${ROOT}.gitignore`), /^\/dist\/$/m);
});

Deno.test("the bundled vde.js runs offline and passes the switch interop test with Debian's vde_plug", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-bundle-" });
  try {
    // The same bundle as the task's (the CLI and the data-plane workers beside it, where the
    // CLI's `new URL("./rx_worker.ts", import.meta.url)` finds them), where parallel runs cannot collide.
    for (const worker of ["rx_worker", "plug_worker"]) {
      await run([
        Deno.execPath(),
        "bundle",
        "-q",
        "--config",
        `${ROOT}deno.json`,
        "-o",
        `${tmp}/${worker}.ts`,
        `${ROOT}src/dataplane/${worker}.ts`,
      ], { timeoutMs: 120_000 });
    }
    await run([
      Deno.execPath(),
      "bundle",
      "-q",
      "--config",
      `${ROOT}deno.json`,
      "-o",
      `${tmp}/vde.js`,
      `${ROOT}src/cli/vde.ts`,
    ], {
      timeoutMs: 120_000,
    });
    // No network, no npm: everything it needs is inside the file.
    const version = await run(
      [Deno.execPath(), "run", "-A", "--no-remote", "--no-npm", `${tmp}/vde.js`, "--version"],
      { cwd: tmp, timeoutMs: 30_000 },
    );
    assert.match(version.stdout, /^vde \d+\.\d+\.\d+/);
    const interop = await run(
      [Deno.execPath(), "test", "-A", "--no-check", `${ROOT}test/interop/switch_with_vde_plug.test.ts`],
      {
        cwd: ROOT,
        timeoutMs: 300_000,
        check: false,
        env: {
          VDE_OURS_CMD: `${Deno.execPath()} run -A --no-remote --no-npm ${tmp}/vde.js switch`,
          NO_COLOR: "1",
        },
      },
    );
    assert.equal(interop.code, 0, `${interop.stdout}\n${interop.stderr}`);
    assert.match(interop.stdout, /ok \| [1-9]\d* passed \| 0 failed/);
    // `vde plug` starts its receive thread from the worker file beside the bundle.
    const sw = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${tmp}/vde.js`, "switch", "--sock", `${tmp}/sw`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(async () => await pathExists(`${tmp}/sw/ctl`, true), {
        timeoutMs: 30_000,
        what: "the switch",
      });
      const plug = await run([Deno.execPath(), "run", "-A", `${tmp}/vde.js`, "plug", `${tmp}/sw`], {
        timeoutMs: 30_000,
        check: false,
      });
      assert.doesNotMatch(plug.stderr, /Module not found|Uncaught/, plug.stderr);
      assert.equal(plug.code, 0, plug.stderr);
    } finally {
      sw.kill();
      await sw.status;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
