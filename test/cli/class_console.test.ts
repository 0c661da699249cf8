/**
 * A teacher's switch shared with a class (`vde switch --mode 660 --group G --mgmtmode 660`), and a
 * student (a real second user, in G) at its console: they run its commands, but cannot stop it, which
 * would have stopped every other student's plugs with it. The teacher (root) still can.
 */
import assert from "node:assert/strict";
import { run, skipUnlessRoot } from "../helpers/processes.ts";
import { startOurSwitch, VDE_CLI } from "../helpers/switches.ts";
import { withStudent } from "../helpers/student.ts";

Deno.test("a student at a shared console cannot shut the teacher's switch down: told who may, the switch serves on; the teacher can", async (t) => {
  if (skipUnlessRoot(t)) return;
  await withStudent([], async (s) => {
    const user = (await run(["id", "-un", String(s.uid)])).stdout.trim();
    const dir = `${s.tmp}/class`;
    const sw = await startOurSwitch(dir, {
      extraArgs: ["--mode", "660", "--group", user, "--mgmtmode", "660"],
    });
    try {
      const stop = await s.as(["vde", "term", dir, "-c", "shutdown"]);
      assert.equal(stop.code, 1, stop.stderr);
      assert.equal(
        stop.stderr,
        `vde: shutdown: this console's client is ${user}, and only root may shut this program down: ` +
          "a shared console lets others run its commands, not stop it\n",
      );
      // What the console is shared for still works, for them, and the switch is there.
      const ports = await s.as(["vde", "term", dir, "-c", "port/print"]);
      assert.equal(ports.code, 0, ports.stderr);
      assert.equal(sw.process.exitStatus, null, "the switch was stopped");
      const teacher = await run([...VDE_CLI, "term", dir, "-c", "shutdown"], {
        check: false,
        timeoutMs: 30_000,
      });
      assert.equal(teacher.code, 0, teacher.stderr);
      assert.equal((await sw.process.status).code, 0);
    } finally {
      await sw.stop();
    }
  });
});
