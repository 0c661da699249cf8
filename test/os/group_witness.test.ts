import assert from "node:assert/strict";
import { ignores, struck } from "../../src/os/group_witness.ts";
import { spawnManaged } from "../helpers/processes.ts";

const RIG = new URL("./_witness_rig.ts", import.meta.url).pathname;
const SLEEPING = "4242 (cat) S 4241 4241 4241 0 -1 4194304";
const status = (pending: string, shared: string, ignored = "0000000000000000") =>
  `Name:\tcat\nState:\tS (sleeping)\nSigPnd:\t${pending}\nShdPnd:\t${shared}\nSigBlk:\t0000000000000000\nSigIgn:\t${ignored}\n`;

Deno.test("a witness is struck when it is gone, a zombie, or has INT, QUIT or KILL pending; not by another signal", () => {
  const none = "0000000000000000";
  assert.equal(struck(SLEEPING, status(none, none)), false);
  assert.equal(struck(null, null), true, "gone (reaped)");
  assert.equal(
    struck("4242 (c a)t) Z 4241 4241", status(none, none)),
    true,
    "a zombie, its name with ') ' in it",
  );
  assert.equal(
    struck(SLEEPING, status("0000000000000100", none)),
    true,
    "SIGKILL: a fatal signal's group exit",
  );
  assert.equal(struck(SLEEPING, status(none, "0000000000000002")), true, "SIGINT on the process");
  assert.equal(struck(SLEEPING, status(none, "0000000000000004")), true, "SIGQUIT");
  assert.equal(struck(SLEEPING, status(none, "0000000000004000")), false, "SIGTERM is no witness's business");
  assert.equal(ignores(status(none, none, "0000000000000002"), "SIGINT"), true);
  assert.equal(ignores(status(none, none, "0000000000000002"), "SIGQUIT"), false);
});

Deno.test("a witness tells an INT or QUIT sent to the process alone from one sent to its whole group, again after each", async () => {
  // setsid execs in place: the rig leads a group of its own, its witness in it.
  const rig = spawnManaged(["setsid", Deno.execPath(), "run", "-A", RIG], {
    name: "witness rig",
    stdin: "piped",
  });
  try {
    await rig.waitForOutput(/^ready$/m, 20_000);
    const steps: [string, string][] = [
      ["-INT", "SIGINT alone"],
      ["-INT", "SIGINT group"],
      ["-QUIT", "SIGQUIT group"],
      ["-QUIT", "SIGQUIT alone"],
      ["-INT", "SIGINT alone"],
    ];
    for (const [i, [signal, said]] of steps.entries()) {
      const target = said.endsWith("group") ? `-${rig.pid}` : String(rig.pid);
      await new Deno.Command("kill", { args: [signal, "--", target] }).output();
      const lines = new RegExp(`(?:^SIG\\w+ \\w+\\n){${i + 1}}`, "m");
      await rig.waitForOutput(lines, 10_000);
      assert.equal(rig.stdout.trim().split("\n").at(-1), said, rig.stdout);
    }
    await rig.closeStdin();
    await rig.waitForOutput(/^closed$/m, 10_000);
  } finally {
    await rig.stop();
  }
});
