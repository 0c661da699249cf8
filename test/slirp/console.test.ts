/**
 * The slirp's console commands (`vde switch --slirp`): what `slirp/forward del` takes, and which forwards
 * another user's client may add.
 */
import assert from "node:assert/strict";
import { openSlirpLink } from "../../src/link/slirp_link.ts";
import {
  formatForward,
  parseForward,
  parseSlirpOptions,
  unprivilegedPortStart,
} from "../../src/slirp/config.ts";
import { addSlirpCommands, othersPrivilegedForward, parseForwardKey } from "../../src/slirp/console.ts";
import { CommandRegistry } from "../../src/console/registry.ts";
import { Errno } from "../../src/console/reply_format.ts";
import { FakeSession } from "../helpers/fake_session.ts";

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

Deno.test("slirp/forward add from another user's client (a console shared by its mode and group) is refused a host port only root may listen on, and takes one from the unprivileged start up", async () => {
  const link = await openSlirpLink(parseSlirpOptions("/restricted"), { log: () => {} });
  const commands = new CommandRegistry();
  addSlirpCommands(commands, () => [{ port: 1, link }]);
  const first = unprivilegedPortStart();
  // Root's switch, a group member's console: root would listen on the port for them.
  const self = Deno.uid() ?? 0;
  const other = self === 54321 ? 54322 : 54321;
  try {
    const session = new FakeSession(commands, "mgmt", other);
    const refused = await commands.execute(`slirp/forward add tcp:127.0.0.1:${first - 1}:22`, session);
    assert.equal(refused?.code, Errno.EPERM);
    assert.match(session.render(refused!), new RegExp(`host port ${first - 1} is below ${first}`));
    assert.deepEqual(link.stack.forwards(), []);
    const spec = parseForward("tcp:127.0.0.1:80:22", link.stack.config);
    assert.equal(
      othersPrivilegedForward(spec, new FakeSession(commands, "mgmt", other), self, 1024)?.code,
      Errno.EPERM,
    );
    // Our own user, root, and a console with no socket peer may; so may another user above the start.
    for (const peer of [self, 0, undefined]) {
      assert.equal(
        othersPrivilegedForward(spec, new FakeSession(commands, "mgmt", peer), self, 1024),
        undefined,
      );
    }
    const high = parseForward("tcp:127.0.0.1:1024:22", link.stack.config);
    assert.equal(
      othersPrivilegedForward(high, new FakeSession(commands, "mgmt", other), self, 1024),
      undefined,
    );
  } finally {
    link.close();
  }
});
