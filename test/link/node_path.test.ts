/**
 * A node VNL that names no path serves at vdeplug4's /tmp/vdenode_USER: a
 * plug's start line says where, so others can be told what to join.
 */
import assert from "node:assert/strict";
import { defaultNodePath, withNodePath } from "../../src/link/node_path.ts";

Deno.test("a node VNL with no path is named with where it serves; one with a path, or another scheme, as it is", () => {
  assert.equal(withNodePath("bonding://", 0), "bonding:// (at /tmp/vdenode_root)");
  assert.equal(withNodePath("hub://[mode=660]", 0), "hub://[mode=660] (at /tmp/vdenode_root)");
  assert.equal(withNodePath("switch://"), `switch:// (at ${defaultNodePath()})`);
  for (
    const vnl of ["hub:///tmp/h", "multi:///tmp/m[mode=660]", "null://", "/tmp/net", "tap://t0", "slirp://"]
  ) {
    assert.equal(withNodePath(vnl, 0), vnl);
  }
});
