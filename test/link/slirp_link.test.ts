/**
 * The slirp link's flow control wiring: while the link its frames feed is
 * congested, the stack's TCP holds new data; the peer's drain resumes it.
 * (The TCP side of this is pinned in test/slirp/tcp_engine.test.ts.)
 */
import assert from "node:assert/strict";
import { openSlirpLink } from "../../src/link/slirp_link.ts";
import { parseSlirpOptions } from "../../src/slirp/config.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { poller } from "../../src/io/poller.ts";

Deno.test("a slirp link follows the congestion of the link it feeds and unhooks on close", async () => {
  const link = await openSlirpLink(parseSlirpOptions("/restricted"), { log: () => {} });
  try {
    const peer = new MemoryLink("flow peer");
    assert.equal(link.stack.congested(), false);
    link.feeds(peer);
    assert.ok(peer.onDrain !== null, "the slirp waits for the peer's drain");
    peer.congested = true;
    assert.equal(link.stack.congested(), true);
    peer.congested = false;
    assert.equal(link.stack.congested(), false);
    peer.onDrain!();
    link.feeds(null);
    assert.equal(peer.onDrain, null);
    peer.congested = true;
    assert.equal(link.stack.congested(), false, "an unplugged slirp is never held back");
    link.feeds(peer);
    link.close();
    assert.equal(peer.onDrain, null, "closing unhooks the slirp from its peer");
  } finally {
    link.close();
    await poller().stop();
  }
});
