/** The slirp's console commands (`vde switch --slirp`): what `slirp/forward del` takes. */
import assert from "node:assert/strict";
import { openSlirpLink } from "../../src/link/slirp_link.ts";
import { formatForward, parseSlirpOptions } from "../../src/slirp/config.ts";
import { parseForwardKey } from "../../src/slirp/console.ts";

Deno.test("slirp/forward del takes QEMU's hostfwd_remove form, tcp::2222 (no host address), as add takes tcp::2222-:22", async () => {
  const link = await openSlirpLink(parseSlirpOptions("/restricted"), { log: () => {} });
  try {
    const key = (text: string) => formatForward(parseForwardKey(text, link), link.stack.config);
    assert.equal(key("tcp::2222"), key("tcp:2222"));
    assert.equal(key("tcp::2222"), key("tcp:0.0.0.0:2222"));
    assert.match(key("tcp::2222"), /^tcp:0\.0\.0\.0:2222:/);
    assert.match(key("udp::5353"), /^udp:0\.0\.0\.0:5353:/);
    assert.throws(() => parseForwardKey("tcp::", link));
  } finally {
    link.close();
  }
});
