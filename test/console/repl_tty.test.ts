/**
 * The console's prompt at a real terminal (tmux) against what else writes
 * there: Deno erases the terminal's line while it loads a Worker, and the
 * prompt comes back by itself.
 */
import assert from "node:assert/strict";
import { skipUnless, waitFor, waitForPath } from "../helpers/processes.ts";
import { REPO_ROOT } from "../helpers/switches.ts";
import { tmuxMissing, TmuxSession } from "./_tmux.ts";

/** What Deno's progress-bar draw thread writes to stderr as a module load starts and ends. */
const ERASE_LINE = "\x1b[0G\x1b[2K\x1b[J";

Deno.test("a prompt that Deno's load of a worker erased is drawn again once the worker has loaded", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-repl-tty-" });
  const marker = `${dir}/loaded`;
  const raw = `${dir}/pty.raw`;
  // Not --quiet: that is how `deno run` draws its (here empty) progress line, which erases.
  const tmux = await TmuxSession.start(
    `${dir}/tmux.sock`,
    `${Deno.execPath()} run -A ${REPO_ROOT}/test/console/_worker_load_at_prompt.ts ${marker}`,
    { HOME: dir, NO_COLOR: "1" },
  );
  try {
    await tmux.waitFor((s) => s.endsWith("rig$"), "the prompt", 30_000);
    await new Deno.Command("tmux", { args: ["-S", `${dir}/tmux.sock`, "pipe-pane", "-o", `cat > ${raw}`] })
      .output();
    await tmux.keys("-l", "worker");
    await tmux.keys("Enter");
    await waitForPath(marker, 30_000);
    const screen = await tmux.waitFor(
      (s) => s.endsWith("starting a worker\nrig$"),
      "the prompt after the worker's load",
    );
    assert.match(screen, /rig\$ worker\nstarting a worker\nrig\$$/);
    // The cause, in the terminal's bytes: after the reply's prompt, the line erased, then the prompt again.
    await waitFor(async () => {
      const bytes = await Deno.readTextFile(raw).catch(() => "");
      const reply = bytes.indexOf("starting a worker");
      if (reply < 0) return false;
      const after = bytes.slice(reply);
      const erased = after.lastIndexOf(ERASE_LINE);
      return erased > after.indexOf("rig$") && after.indexOf("rig$", erased) > erased;
    }, {
      timeoutMs: 10_000,
      what: "Deno's erasure after the prompt, then the prompt again, in the terminal's bytes",
    });
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
