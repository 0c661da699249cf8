/**
 * Our switch whose socket directory's filesystem is full (no inode left for
 * a port's socket): the client is told so in the few bytes a refusal holds,
 * and the log has the whole line with what to do.
 *
 * Switch and plug run in a mount namespace of their own, where the
 * directory is a tmpfs of 6 inodes: the directories, ctl, mgmt, capture
 * and the plug's own socket take them all.
 */
import assert from "node:assert/strict";
import { run } from "../helpers/processes.ts";
import { ourCli } from "../helpers/vde_clients.ts";

Deno.test("a port refused for a full filesystem tells the client so, and the switch's log what to do", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "vde-switch-full-dir-" });
  const vde = ourCli().map((w) => `'${w}'`).join(" ");
  const script = `mount -t tmpfs -o size=64k,nr_inodes=6 vde-test-full "$0" || exit 9
${vde} switch --sock "$0/sw" --daemon --logfile "$0.log" --pidfile "$0.pid" >/dev/null 2>&1 || exit 8
echo | ${vde} plug "$0/sw"
pid=$(cat "$0.pid"); kill "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done`;
  try {
    await Deno.mkdir(`${tmp}/d`);
    const r = await run(["unshare", "--mount", "sh", "-c", script, `${tmp}/d`], {
      check: false,
      timeoutMs: 60_000,
    });
    assert.equal(
      r.stderr,
      `vde: the switch at ${tmp}/d/sw refused the connection: port 1: the switch's directory has no space left ` +
        "(its filesystem is full)\n",
    );
    assert.match(
      await Deno.readTextFile(`${tmp}/d.log`),
      /refused a client: cannot set up port 1: No space left on device \(os error 28\): .*: the filesystem is full: free some space there, or write elsewhere\n/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
