/**
 * The switch's interactive console in a real pseudo-terminal (tmux): the
 * prompt, Tab completion, history across sessions, Ctrl-C clearing the line,
 * a second Ctrl-C stopping the switch, and the terminal closing under it.
 */
import assert from "node:assert/strict";
import { pathExists, skipUnless, waitFor } from "../../helpers/processes.ts";
import { VDE_CLI } from "../../helpers/switches.ts";
import { switchAtTerminal, tmuxMissing, TmuxSession } from "../_tmux.ts";

Deno.test("the switch console at a terminal completes, recalls, clears with Ctrl-C and stops on a second Ctrl-C", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const { dir, prompt, tmux } = await switchAtTerminal("vde-tty-");
  try {
    // Tab completes a command name.
    await tmux.keys("port/pr", "Tab");
    await tmux.waitFor((s) => s.endsWith(`${prompt}port/print`), "port/pr to complete to port/print");
    await tmux.keys("Enter");
    await tmux.keys("port/showinfo", "Enter");
    await tmux.waitFor((s) => s.includes("Numports=32\nHUB=false\ncounters=true"), "port/showinfo output");
    // Up recalls the previous command, and again the one before.
    await tmux.keys("Up");
    await tmux.waitFor((s) => s.endsWith(`${prompt}port/showinfo`), "Up to recall port/showinfo");
    await tmux.keys("Up");
    await tmux.waitFor((s) => s.endsWith(`${prompt}port/print`), "a second Up to recall port/print");
    // Ctrl-C clears the line instead of running it.
    await tmux.keys("C-c");
    await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "Ctrl-C to give an empty prompt");
    await tmux.keys("hub", "Enter");
    const screen = await tmux.waitFor((s) => s.includes("hub mode is off"), "hub output");
    assert.ok(!screen.includes("1038"), "the cleared text did not run");
    // Arguments complete too: debug categories.
    await tmux.keys("debug/add port/e", "Tab");
    await tmux.waitFor((s) => s.endsWith(`${prompt}debug/add port/ep/`), "debug category completion");
    await tmux.keys("C-u");
    // History is kept in the home directory.
    const history = await Deno.readTextFile(`${dir}/home/.vde_history`);
    assert.deepEqual(history.trim().split("\n"), ["port/print", "port/showinfo", "hub"]);
    // Two Ctrl-C on an empty line stop the switch.
    await tmux.keys("C-c");
    await tmux.keys("C-c");
    const end = await tmux.waitFor((s) => s.includes("[exit "), "the switch to exit");
    // The last line stands alone: no prompt drawn again under it, before the shell's output.
    assert.match(end, /Ctrl-C on the console, cleaning up and exiting\n\[exit 0\]/);
    assert.equal(
      await Deno.lstat(`${dir}/sw`).then(() => true, () => false),
      false,
      "socket directory removed",
    );
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a switch whose terminal closes (window or ssh gone) removes its sockets and exits 0, not on an EPIPE", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-hup-" });
  // The shell ignores the hang-up so that it outlives the terminal and records how the switch ended.
  await Deno.writeTextFile(
    `${dir}/run.sh`,
    `trap '' HUP\n${VDE_CLI.join(" ")} switch --sock ${dir}/sw 2>${dir}/err\n` +
      `echo $? > ${dir}/exit\n`,
  );
  const tmux = await TmuxSession.start(`${dir}/tmux.sock`, `sh ${dir}/run.sh`, { NO_COLOR: "1" });
  try {
    await tmux.waitFor((s) => s.endsWith(`vde[${dir}/sw]$`), "the prompt", 30_000);
    await tmux.kill();
    // The shell's `> exit` makes the file before `echo` writes the status: wait for the status itself.
    const status = await waitFor(
      async () => (await Deno.readTextFile(`${dir}/exit`).catch(() => "")).trim() || null,
      { timeoutMs: 20_000, what: "the switch to end" },
    );
    const err = await Deno.readTextFile(`${dir}/err`);
    assert.doesNotMatch(err, /Uncaught|EPIPE/, err);
    assert.equal(status, "0", err);
    assert.equal(await pathExists(`${dir}/sw`), false, "its socket directory is removed");
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
