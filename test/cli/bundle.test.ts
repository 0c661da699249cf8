/**
 * The one file to carry: `deno task bundle`'s dist/vde.js runs without the
 * checkout, and Debian's vde_plug clients work through its switch (the
 * switch interop test, run against the bundle).
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("deno task bundle writes dist/vde.js from the CLI entry", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks;
  assert.equal(tasks.bundle, "deno bundle -o dist/vde.js src/cli/vde.ts");
  assert.match(Deno.readTextFileSync(`${ROOT}.gitignore`), /^\/dist\/$/m);
});

Deno.test("the bundled vde.js runs offline and passes the switch interop test with Debian's vde_plug", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-bundle-" });
  try {
    // The same bundle as the task's, written where parallel runs cannot collide.
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
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
