/**
 * A switch console's command that changes nothing answers while the
 * data-plane thread has taken no command yet (it warms up, a second or more
 * on a loaded machine), and one that changes something still waits for the
 * thread to apply it. The thread here is a stand-in that takes its start and
 * never answers: a warm-up that never ends, so the test does not depend on
 * how loaded the machine is (test/interop/mgmt_unixcmd_at_start.test.ts is
 * the same with Debian's unixcmd against real switches).
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { ConsoleContext } from "../../src/console/switch/context.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { settledAfter } from "../helpers/settled.ts";

Deno.test("while the switch thread takes no command, port/print and showinfo answer at once and port/resetcounter waits for it", async () => {
  const sw = new Switch({
    numPorts: 4,
    dataplane: "thread",
    threadFile: new URL("../dataplane/_deaf_worker.ts", import.meta.url),
  });
  try {
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    // Something is posted and not applied, as on every switch just started (its port 0, its settings).
    sw.engine.expireSeconds = 30;
    const reads = ["port/print", "showinfo", "hash/print", "port/showinfo"];
    const answered = await Promise.all(
      reads.map((line) => settledAfter(commands.execute(line, session), 1000)),
    );
    assert.deepEqual(answered, reads.map(() => true), `${reads.join(", ")} answered at once`);
    assert.equal(
      await settledAfter(commands.execute("port/resetcounter", session), 500),
      false,
      "a reset is answered only once the thread applied it",
    );
  } finally {
    // The stand-in answers no stop: the switch gives up on it after its bound (2 s).
    await sw.close();
  }
});
