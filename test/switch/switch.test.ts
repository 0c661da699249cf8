/**
 * The Switch around the engine on the main thread: its clock. Frames and ports are tested through
 * the console, the links and the data-plane thread's tests.
 */
import assert from "node:assert/strict";
import { Switch } from "../../src/switch/switch.ts";
import { MemoryLink } from "../helpers/memory_link.ts";
import { BROADCAST, ethFrame, mac, until } from "../helpers/vde_clients.ts";

Deno.test("a switch on the main thread ticks again within milliseconds while an aging pass is in progress, else once a second", async () => {
  const sw = new Switch({ numPorts: 4 });
  try {
    const link = new MemoryLink("hosts");
    sw.attach(link, { port: 1 });
    sw.engine.gcIntervalSeconds = 1;
    sw.engine.expireSeconds = 1;
    // 20,000 MACs: a table of 65,536 slots, 4 ticks a pass.
    for (let i = 0; i < 20000; i++) link.receive(ethFrame(BROADCAST, mac(0x1000 + i), 0));
    assert.equal(sw.engine.macTable.size, 20000);
    const ticks: { at: number; aging: boolean }[] = [];
    const t0 = performance.now();
    const tick = sw.engine.tick.bind(sw.engine);
    sw.engine.tick = (nowMs) => {
      const removed = tick(nowMs);
      ticks.push({ at: performance.now(), aging: sw.engine.aging });
      return removed;
    };
    await until("every MAC aged out", () => sw.engine.macTable.size === 0, 30_000);
    const slices = ticks.filter((t) => t.aging).length;
    assert.ok(slices >= 3, `${slices} ticks left a pass in progress`);
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(
      ticks.length - slices <= seconds + 1,
      `${ticks.length - slices} ticks that did not age in ${seconds} s`,
    );
    for (let i = 0; i + 1 < ticks.length; i++) {
      // A slice is due a millisecond later: far less than the second between idle ticks, even on a loaded machine.
      if (ticks[i]!.aging) {
        assert.ok(ticks[i + 1]!.at - ticks[i]!.at < 500, `tick ${i} was followed only a second later`);
      }
    }
  } finally {
    await sw.close();
  }
});
