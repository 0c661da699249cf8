/**
 * The data-plane workers load no npm package: in the bundle (scripts/bundle.ts) each worker runs from a blob
 * URL, where an npm package's CommonJS shim (createRequire(import.meta.url)) throws at start; `vde slirp` from
 * dist/vde.js died so ("slirp thread failed: ... Received 'blob:null/...'") while the slirp worker reached the
 * command line's parser through the metrics server's UsageError.
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { WORKER_NAMES } from "../../src/dataplane/worker_url.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

for (const name of WORKER_NAMES) {
  Deno.test(`the ${name}'s module graph holds no npm package (a bundled worker starts from a blob URL)`, async () => {
    const info = await run([Deno.execPath(), "info", "--json", `${ROOT}src/dataplane/${name}.ts`], {
      cwd: ROOT,
      timeoutMs: 60_000,
    });
    const modules: { specifier: string }[] = JSON.parse(info.stdout).modules;
    assert.ok(modules.length > 1, "deno info listed the worker's modules");
    assert.deepEqual(modules.map((m) => m.specifier).filter((s) => s.startsWith("npm:")), []);
  });
}
