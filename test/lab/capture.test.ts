/**
 * A lab's switches serve captures as `vde switch` does: `vde capture` of a
 * lab switch's socket directory records its hosts' frames, each port's
 * interface named `LAB/SWITCH port N`.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { pingCount, TWO_HOSTS, vdeCommand, withLabUp } from "./_helpers.ts";

Deno.test("vde capture of a lab's switch records its hosts' frames", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const out = `${file}.pcapng`;
    const capture = new Deno.Command(vdeCommand()[0]!, {
      args: [...vdeCommand().slice(1), "capture", `${labDir(name)}/sw1`, "-c", "4", "-w", out],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Bounded: a capture that never gets its frames is stopped, and the counts below fail.
    const bound = setTimeout(() => capture.kill(), 30_000);
    try {
      // Until the capture has its 4 frames (it may start after the first pings).
      for (let i = 0; i < 20; i++) {
        await pingCount(name, "h1", "10.9.0.2", 1);
        const done = await Promise.race([capture.status, new Promise((r) => setTimeout(() => r(null), 200))]);
        if (done !== null) break;
      }
      const { code, stderr } = await capture.output();
      const said = new TextDecoder().decode(stderr);
      assert.equal(code, 0, said);
      assert.match(said, /^4 frames captured, 0 dropped/m);
      const bytes = await Deno.readFile(out);
      assert.deepEqual([...bytes.subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng file");
      // Each interface names the lab's switch, as `vde capture` takes it: merged with another switch's, still told apart.
      const names = await run(["tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name"]);
      const seen = new Set(names.stdout.trim().split("\n"));
      assert.ok(
        seen.size > 0 && [...seen].every((n) => /^[^ ]+\/sw1 port [12]$/.test(n) && n.startsWith(`${name}/`)),
        [...seen].join(","),
      );
    } finally {
      clearTimeout(bound);
      try {
        capture.kill();
      } catch { /* ended */ }
    }
  });
});
