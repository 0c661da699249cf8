/**
 * A switch console answers at once while the data-plane thread has read no
 * frame yet (it warms up, a second or more on a loaded machine), a change
 * as well as a read: the thread applies every command posted before it
 * reads its first frame. Once it serves frames, a change waits for the
 * thread to apply it. The threads here are stand-ins that take their start
 * and never answer (one of them saying it serves), so the test does not
 * depend on how loaded the machine is (test/interop/mgmt_unixcmd_at_start.test.ts
 * is the same with Debian's unixcmd against real switches).
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { ConsoleContext } from "../../src/console/switch/context.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { settledAfter } from "../helpers/settled.ts";

/** A threaded switch whose thread is the stand-in `file` (in test/dataplane). */
function standIn(file: string): Switch {
  return new Switch({
    numPorts: 4,
    dataplane: "thread",
    threadFile: new URL(`../dataplane/${file}`, import.meta.url),
  });
}

Deno.test("while the switch thread has read no frame, reads and changes answer at once", async () => {
  const sw = standIn("_deaf_worker.ts");
  try {
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    // Something is posted and not applied, as on every switch just started (its port 0, its settings).
    sw.engine.expireSeconds = 30;
    const lines = [
      "port/print",
      "showinfo",
      "hash/print",
      "port/showinfo",
      "vlan/create 10",
      "port/resetcounter",
    ];
    const answered = await Promise.all(
      lines.map((line) => settledAfter(commands.execute(line, session), 1000)),
    );
    assert.deepEqual(answered, lines.map(() => true), `${lines.join(", ")} answered at once`);
    assert.ok(sw.engine.vlanExists(10), "vlan/create made VLAN 10 on the console's copy");
  } finally {
    // The stand-in answers no stop: the switch gives up on it after its bound (2 s).
    await sw.close();
  }
});

Deno.test("once the switch thread serves frames, a read answers at once and port/resetcounter waits for it", async () => {
  const sw = standIn("_serving_deaf_worker.ts");
  try {
    assert.equal(await sw.warmed, 0, "the stand-in says it serves");
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    sw.engine.expireSeconds = 30;
    assert.equal(
      await settledAfter(commands.execute("port/print", session), 1000),
      true,
      "port/print at once",
    );
    assert.equal(
      await settledAfter(commands.execute("port/resetcounter", session), 500),
      false,
      "a reset is answered only once the thread applied it",
    );
  } finally {
    await sw.close();
  }
});
