/** A lab's undo steps: every one runs, and one out of descriptors runs again once the others freed theirs. */
import assert from "node:assert/strict";
import { runUndos } from "../../src/lab/undo_steps.ts";

Deno.test("an undo step out of descriptors runs again after the later steps, which free theirs; others are logged once", async () => {
  const order: string[] = [];
  const logged: string[] = [];
  let slirpRuns = true;
  await runUndos([
    () => {
      order.push("delete netns h1");
      // As `ip` fails to spawn while the slirp holds every descriptor.
      if (slirpRuns) throw new Error("Failed to spawn '/usr/sbin/ip': Too many open files (os error 24)");
    },
    () => {
      order.push("bad step");
      throw new Error("ip link del x: Cannot find device");
    },
    () => {
      order.push("stop slirp");
      slirpRuns = false;
    },
  ], (m) => logged.push(m));
  assert.deepEqual(order, ["delete netns h1", "bad step", "stop slirp", "delete netns h1"]);
  assert.deepEqual(logged, ["cleanup: ip link del x: Cannot find device"]);
});

Deno.test("an undo step still out of descriptors on its second run is logged", async () => {
  const logged: string[] = [];
  await runUndos([() => {
    throw new Error("Failed to spawn 'ip': Too many open files (os error 24)");
  }], (m) => logged.push(m));
  assert.deepEqual(logged, ["cleanup: Failed to spawn 'ip': Too many open files (os error 24)"]);
});

Deno.test("a part's step out of descriptors waits for the whole lab's later steps, given their list", async () => {
  const order: string[] = [];
  const logged: string[] = [];
  let slirpRuns = true;
  const later: (() => void)[] = [];
  const part = () =>
    runUndos([() => {
      order.push("delete netns h1");
      if (slirpRuns) throw new Error("Failed to spawn 'ip': Too many open files (os error 24)");
    }], (m) =>
      logged.push(m), later);
  await runUndos(
    [part, () => {
      order.push("stop slirp");
      slirpRuns = false;
    }],
    (m) => logged.push(m),
    later,
  );
  assert.deepEqual(order, ["delete netns h1", "stop slirp"], "nothing run again before the lab's steps end");
  await runUndos(later, (m) => logged.push(m));
  assert.deepEqual(order, ["delete netns h1", "stop slirp", "delete netns h1"]);
  assert.deepEqual(logged, []);
});
