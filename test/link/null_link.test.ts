import assert from "node:assert/strict";
import { NullLink } from "../../src/link/null_link.ts";
import { openLink } from "../../src/link/registry.ts";

Deno.test("null link swallows frames, counts them and never delivers", async () => {
  const link = await openLink("null://");
  assert.ok(link instanceof NullLink);
  let delivered = 0;
  link.onFrame = () => delivered++;
  link.send(new Uint8Array(60));
  link.send(new Uint8Array(1514));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(delivered, 0);
  assert.equal(link.stats.framesOut, 2);
  assert.equal(link.stats.bytesOut, 1574);
  link.close("done");
  assert.equal(await link.closed, "done");
  link.send(new Uint8Array(60));
  assert.equal(link.stats.dropsOut, 1);
});
