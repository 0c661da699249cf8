/**
 * A lab's switches serve captures as `vde switch` does: `vde capture` of a
 * lab switch's socket directory records its hosts' frames, each port's
 * interface named `LAB/SWITCH port N`.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { labDir } from "../../src/lab/names.ts";
import { captureWhilePinging, TWO_HOSTS, withLabUp } from "./_helpers.ts";

Deno.test("vde capture of a lab's switch records its hosts' frames", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withLabUp({ text: TWO_HOSTS }, async (name, file) => {
    const out = `${file}.pcapng`;
    const { said, read } = await captureWhilePinging(name, [`${labDir(name)}/sw1`], out, { count: 4 });
    assert.match(said, /^4 frames captured, 0 dropped/m);
    const bytes = await Deno.readFile(out);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng file");
    // Each interface names the lab's switch, as `vde capture` takes it: merged with another switch's, still told apart.
    const seen = new Set(read.map((row) => row.split("\t")[0]!));
    assert.ok(
      seen.size > 0 && [...seen].every((n) => /^[^ ]+\/sw1 port [12]$/.test(n) && n.startsWith(`${name}/`)),
      [...seen].join(","),
    );
  });
});
