/**
 * The switch's console speaks to a person at a terminal (tmux): failures in
 * words with the usage line or the nearest command names, `exit` explained,
 * log lines printed above the prompt with the typed line redrawn, Ctrl-R
 * searching the history and Ctrl-C keeping the cleared text in it. The
 * management socket still gets the bare codes, byte for byte.
 */
import assert from "node:assert/strict";
import { MgmtClient } from "../../../src/console/client.ts";
import { skipUnless } from "../../helpers/processes.ts";
import { switchAtTerminal, tmuxMissing } from "../_tmux.ts";

Deno.test("the switch console answers in words, keeps log lines above the typed line, searches and keeps history", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const { dir, prompt, tmux } = await switchAtTerminal("vde-words-");
  try {
    await tmux.keys("hub maybe", "Enter");
    await tmux.waitFor(
      (s) => s.includes("hub: Invalid argument (1022)\nusage: hub [on|off]"),
      "the usage of hub",
    );
    await tmux.keys("prot/print", "Enter");
    await tmux.waitFor(
      (s) => s.includes("prot/print: no such command; did you mean port/print?"),
      "a suggestion for a typo",
    );
    await tmux.keys("exit", "Enter");
    await tmux.waitFor(
      (s) => s.includes("this console belongs to the switch: `shutdown` or Ctrl-D stops it."),
      "exit explained",
    );
    await tmux.keys("? port/sethub", "Enter");
    await tmux.waitFor((s) => /\nport\/sethub +0\/1 +/.test(s), "? as help");
    // A log line while a command is half typed: above the prompt, the line redrawn after it.
    await tmux.keys("port/pri");
    await tmux.waitFor((s) => s.endsWith(`${prompt}port/pri`), "the half-typed line");
    const ctl = await Deno.connect({ transport: "unix", path: `${dir}/sw/ctl` });
    await ctl.write(new TextEncoder().encode("not a request"));
    ctl.close();
    const screen = await tmux.waitFor(
      (s) => /vde switch: refused a client.*\n/.test(s) && s.endsWith(`${prompt}port/pri`),
      "the log line above the redrawn prompt",
    );
    assert.doesNotMatch(screen, /\$ port\/privde switch/, "the log line did not break the typed line");
    // Ctrl-C clears the line, but Up brings it back.
    await tmux.keys("C-c");
    await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "an empty prompt after Ctrl-C");
    await tmux.keys("Up");
    await tmux.waitFor((s) => s.endsWith(`${prompt}port/pri`), "Up to recall the cleared text");
    await tmux.keys("C-u");
    // Ctrl-R finds an earlier command; Enter runs it.
    await tmux.keys("C-r", "hub m");
    await tmux.waitFor(
      (s) => s.endsWith("(reverse-i-search)'hub m': hub maybe"),
      "the search to find hub maybe",
    );
    await tmux.keys("Enter");
    await tmux.waitFor(
      (s) => s.split("hub: Invalid argument (1022)").length === 3,
      "the found command to run again",
    );
    // `watch` shows rates besides the totals; a key stops it.
    await tmux.keys("watch", "Enter");
    await tmux.waitFor((s) => /IN FR\/S +IN BIT\/S +OUT FR\/S +OUT BIT\/S/.test(s), "watch's rate columns");
    await tmux.keys("q");
    await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "the prompt after watch");
    // The protocol on the management socket is unchanged.
    const client = await MgmtClient.connect(`${dir}/sw/mgmt`);
    try {
      const reply = await client.command("hub maybe");
      assert.equal(reply.result, "1022 Invalid argument");
      assert.equal((await client.command("exit")).result, "1038 Function not implemented");
    } finally {
      client.close();
    }
    // `shutdown` typed at the prompt: the switch's last line stands alone, no prompt drawn again under it.
    await tmux.keys("shutdown", "Enter");
    const end = await tmux.waitFor((s) => s.includes("[exit "), "the switch to exit");
    assert.match(end, /shutdown from the console, cleaning up and exiting\n\[exit 0\]/);
  } finally {
    await tmux.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
