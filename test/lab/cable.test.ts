/**
 * Two labs on one machine joined by a keyed cable: one lab's cable node
 * listens on loopback (on a port the kernel picks, which `vde status`
 * shows), the other's connects, and hosts ping across.
 */
import assert from "node:assert/strict";
import { skipUnlessRoot } from "../helpers/processes.ts";
import { leftovers, pingCount, vde, withLabFile } from "./_helpers.ts";

Deno.test("cable nodes join two labs: hosts on either side ping each other over a keyed cable", async (t) => {
  if (skipUnlessRoot(t)) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-labcable-" });
  const key = `${dir}/lab.key`;
  try {
    assert.equal((await vde(["cable", "keygen", key])).code, 0);
    const side = (address: string, cable: string) =>
      `name: x
topology:
  nodes:
    sw: { kind: switch, ports: 4 }
    h: { kind: host, address: ${address} }
    wan: { kind: cable, ${cable}, key: ${key} }
  links:
    - endpoints: [h, sw]
    - endpoints: [wan, sw]
`;
    // Port 0: the kernel picks one, and `vde status` says which.
    await withLabFile({ text: side("10.66.0.1/24", `listen: "127.0.0.1:0"`) }, async (a, fileA) => {
      assert.equal((await vde(["up", "-d", fileA])).code, 0);
      const status = await vde(["status", a]);
      const port = Number(/^wan +cable +listening on 127\.0\.0\.1:(\d+)$/m.exec(status.stdout)?.[1]);
      assert.ok(port > 0, status.stdout);
      await withLabFile({ text: side("10.66.0.2/24", `connect: "127.0.0.1:${port}"`) }, async (b, fileB) => {
        const up = await vde(["up", "-d", fileB]);
        assert.equal(up.code, 0, up.stderr);
        let received = 0;
        for (let i = 0; i < 10 && received === 0; i++) received = await pingCount(b, "h", "10.66.0.1", 2);
        assert.ok(received > 0, "no ping crossed the cable");
        assert.equal((await vde(["down", b])).code, 0);
        assert.equal((await vde(["down", a])).code, 0);
        assert.deepEqual([...await leftovers(a), ...await leftovers(b)], []);
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
