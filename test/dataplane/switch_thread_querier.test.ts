/**
 * The console's copy of a threaded switch's snooping machine follows where
 * the thread's machine runs our querier even when the record that says where
 * it started it was lost (ringOut full, a flood of IGMP copies towards a slow
 * main thread): each tick of the thread's machine says whether our querier
 * runs there. The thread is a stand-in that sends such ticks only.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { ConsoleContext } from "../../src/console/switch/context.ts";
import { switchCommands } from "../../src/console/switch/switch_commands.ts";
import { formatReply } from "../../src/console/reply_format.ts";
import { FakeSession } from "../helpers/fake_session.ts";
import { until } from "../helpers/vde_clients.ts";

/**
 * How long each state may take to show: the stand-in thread's first load, and its ticks through a main
 * thread that 2 busy cores serve late (5 s ran out at load 25). A copy that never follows waits it out.
 */
const SHOWS_WITHIN_MS = 60_000;

Deno.test("mcast/print follows the thread's ticks on our querier when the record of its start was lost", async () => {
  const sw = new Switch({
    numPorts: 4,
    dataplane: "thread",
    threadFile: new URL("./_lost_querier_worker.ts", import.meta.url),
  });
  try {
    const commands = switchCommands(new ConsoleContext(sw));
    const session = new FakeSession(commands);
    const print = async () => formatReply((await commands.execute("mcast/print", session))!);
    await commands.execute("mcast/snooping 1", session);
    await commands.execute("mcast/querier 1", session);
    await until(
      "the console's copy starts our querier",
      async () => /querier ipv4 0\.0\.0\.0 ours/.test(await print()),
      SHOWS_WITHIN_MS,
    );
    // At the tick that said so (1 s), not the one before (0, the copy's clock as it was made): a response
    // interval (10 s) from there has not passed at 10.5 s, the tick after.
    assert.match(await print(), /querier active: ipv4 no/, "not active earlier than on the thread");
    // Said again: the stand-in's next tick (20 s) is past the interval.
    await commands.execute("mcast/querier 1", session);
    await until(
      "mcast/print says our querier is active",
      async () => /querier active: ipv4 yes/.test(await print()),
      SHOWS_WITHIN_MS,
    );
    await commands.execute("mcast/querier 0", session);
    await until("and no longer once the thread's ticks say it stopped", async () => {
      const text = await print();
      return /our querier off/.test(text) && /querier active: ipv4 no/.test(text);
    }, SHOWS_WITHIN_MS);
  } finally {
    // The stand-in answers no stop: the switch gives up on it after its bound (2 s).
    await sw.close();
  }
});
