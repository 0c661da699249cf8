/**
 * `vde switch --sock DIR &` from an interactive shell (bash with job
 * control, in tmux): the switch must not stop on terminal output
 * ("Stopped (tty output)"), must serve, and must end on SIGTERM.
 */
import assert from "node:assert/strict";
import { pathExists, skipUnless, waitFor } from "../../helpers/processes.ts";
import { VDE_CLI } from "../../helpers/switches.ts";
import { foreground, tmuxMissing, TmuxSession } from "../_tmux.ts";

/** An interactive bash in tmux (job control on) that has just run `vde switch --sock DIR/sw &`. */
async function switchInBackground(): Promise<{ dir: string; tmux: TmuxSession }> {
  const dir = await Deno.makeTempDir({ prefix: "vde-bg-" });
  await Deno.mkdir(`${dir}/home`);
  const tmux = await TmuxSession.start(`${dir}/tmux.sock`, "bash --norc --noprofile -i", {
    HOME: `${dir}/home`,
    PS1: "sh$ ",
    NO_COLOR: "1",
    // No history file: bash wrote it as tmux killed it, after the clean-up, which left DIR behind.
    HISTFILE: "",
  });
  await tmux.waitFor((s) => s.endsWith("sh$"), "the shell prompt", 20_000);
  await tmux.keys(`${VDE_CLI.join(" ")} switch --sock ${dir}/sw &`, "Enter");
  await tmux.waitFor(
    (s) => s.includes("in the background: no console on the terminal until `fg`"),
    "the switch to say it runs without a console",
    30_000,
  );
  return { dir, tmux };
}

Deno.test("a switch started with & at an interactive shell keeps running, serves and ends on SIGTERM", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const { dir, tmux } = await switchInBackground();
  try {
    await waitFor(() => pathExists(`${dir}/sw/mgmt`, true), { timeoutMs: 20_000, what: "DIR/mgmt" });
    await tmux.keys("jobs", "Enter");
    // The job's line may wrap at the terminal's width (tmux's 150 columns) before the prompt.
    const jobs = await tmux.waitFor((s) => /\[1\]\+\s+(Running|Stopped)/.test(s), "the job's state");
    assert.match(jobs, /\[1\]\+\s+Running/);
    assert.doesNotMatch(jobs, /Stopped/);
    await tmux.keys("kill -TERM %1", "Enter");
    await tmux.waitFor(
      (s) => s.includes("SIGTERM, cleaning up and exiting"),
      "the switch to stop on SIGTERM",
    );
    await waitFor(() => pathExists(`${dir}/sw`).then((e) => !e), {
      timeoutMs: 20_000,
      what: "the socket directory to be removed",
    });
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a switch started with & gets its console on the terminal when brought back with fg", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const { dir, tmux } = await switchInBackground();
  try {
    await foreground(tmux, `vde[${dir}/sw]$`, "the switch's prompt after fg");
    await tmux.keys("hub", "Enter");
    await tmux.waitFor((s) => s.includes("hub mode is off"), "a command at the console");
    await tmux.keys("C-d");
    await tmux.waitFor(
      (s) => s.includes("end of input on the console, cleaning up and exiting"),
      "Ctrl-D to stop it",
    );
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a switch stopped with Ctrl-Z and continued with bg serves without a console; fg gives it back", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const { dir, tmux } = await switchInBackground();
  try {
    await foreground(tmux, `vde[${dir}/sw]$`, "the switch's prompt after fg");
    await tmux.keys("C-z");
    await tmux.waitFor((s) => /\[1\]\+\s+Stopped/.test(s) && s.endsWith("sh$"), "Ctrl-Z to stop the job");
    await tmux.keys("bg", "Enter");
    // It must not stop again reading the terminal it no longer owns (SIGTTIN): it answers its socket.
    await tmux.keys(`${VDE_CLI.join(" ")} term ${dir}/sw -c hub`, "Enter");
    await tmux.waitFor((s) => s.includes("hub mode is off"), "the switch to answer after bg", 30_000);
    await tmux.keys("jobs", "Enter");
    const jobs = await tmux.waitFor(
      (s) => /\[1\]\+\s+(Running|Stopped)\s+\S+ run -A .*--quiet \S+ switch[^$]*\nsh\$$/.test(s),
      "the job's state",
    );
    assert.match(jobs.slice(jobs.lastIndexOf("jobs")), /\[1\]\+\s+Running/);
    await foreground(tmux, `vde[${dir}/sw]$`, "the prompt after the second fg");
    await tmux.keys("shutdown", "Enter");
    await tmux.waitFor(
      (s) => s.includes("shutdown from the console, cleaning up and exiting"),
      "shutdown at the console given back",
    );
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
