/**
 * The multicast menu's arguments, checked as vde_switch checks a port in
 * its own port commands: out of range is EINVAL, in range but not there is
 * ENXIO, and nothing changes either way.
 */
import assert from "node:assert/strict";
import { makeConsole } from "../_helpers.ts";

const OK = "1000 Success\n";

Deno.test("mcast/router refuses a port that is not there with 1006, as vde_switch's port commands do", async () => {
  const tc = makeConsole(8);
  try {
    assert.equal(await tc.run("mcast/snooping 1"), OK);
    assert.equal(await tc.run("mcast/router 5 1"), "1006 No such device or address\n");
    assert.equal(await tc.run("mcast/router 8 1"), "1022 Invalid argument\n");
    assert.doesNotMatch(await tc.run("mcast/print"), /router port/, "no router port was made");
    assert.equal(await tc.run("port/create 5"), OK);
    assert.equal(await tc.run("mcast/router 5 1"), OK);
    assert.match(await tc.run("mcast/print"), /\nrouter port 5 permanent\n/);
  } finally {
    tc.close();
  }
});
