/** `vde tap list` shows the taps that exist, as `ip tuntap list` would, with whose they are and who holds them. */
import assert from "node:assert/strict";
import { ROOT_IF_PREFIX, run, skipUnlessRoot, spawnManaged, waitFor } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";
import { tapListLines } from "../../src/cli/tap.ts";

Deno.test("vde tap list shows a tap vde tap create made, its owner, and the vde plug that holds it, whom a busy delete names", async (t) => {
  if (skipUnlessRoot(t)) return;
  const name = `${ROOT_IF_PREFIX}tl`;
  const rowOf = async () => {
    const r = await run([...ourCli(), "tap", "list"], { timeoutMs: 30_000 });
    assert.match(r.stdout, /^NAME +OWNER +GROUP +LIFETIME +STATE +HELD BY\n/);
    return r.stdout.split("\n").find((l) => l.startsWith(`${name} `));
  };
  let plug: ReturnType<typeof spawnManaged> | undefined;
  try {
    await run([...ourCli(), "tap", "create", name, "--user", "nobody"], { timeoutMs: 30_000 });
    assert.match((await rowOf()) ?? "", new RegExp(`^${name} +nobody +- +persistent +down +-$`));
    plug = spawnManaged([...ourCli(), "plug", `tap://${name}`, "null://"], { name: "vde plug" });
    const pid = plug.pid;
    await waitFor(async () => ((await rowOf()) ?? "").includes(`${pid} (`), {
      timeoutMs: 30_000,
      what: "the plug to hold the tap",
    });
    assert.match(
      (await rowOf()) ?? "",
      new RegExp(`^${name} +nobody +- +persistent +\\w+ +${pid} \\(vde plug\\)$`),
    );
    // Deleting it while held names the holder, so the user knows what to stop.
    const busy = await run([...ourCli(), "tap", "delete", name], { check: false, timeoutMs: 30_000 });
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, `vde: tap ${name} is busy: held by ${pid} (vde plug)\n`);
    await plug.stop();
    await run([...ourCli(), "tap", "delete", name], { timeoutMs: 30_000 });
    assert.equal(await rowOf().catch(() => undefined), undefined, "a deleted tap is not listed");
  } finally {
    await plug?.stop();
    await run([...ourCli(), "tap", "delete", name], { check: false, timeoutMs: 30_000 });
  }
});

Deno.test("vde tap list with no taps says so instead of printing a bare header", () => {
  assert.deepEqual(tapListLines([]), ["no tap interfaces"]);
});
