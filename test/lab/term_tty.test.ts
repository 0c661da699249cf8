/**
 * `vde term LAB` at a terminal (tmux), on a lab in the background: Tab
 * completes a switch's name, then that switch's commands and ports after
 * it, as against one switch; a switch's failure is explained with its
 * commands; `use SW` sends it the lines that are no lab command; `watch`
 * redraws every switch's port counters, `SW watch` one switch's.
 */
import assert from "node:assert/strict";
import { skipUnless, skipUnlessRoot } from "../helpers/processes.ts";
import { tmuxMissing } from "../console/_tmux.ts";
import { labDir } from "../../src/lab/names.ts";
import { doubleTab, TWO_SWITCHES, vdeAtTerminal, withLabUp } from "./_helpers.ts";

Deno.test("vde term LAB completes a switch's commands after its name and watches the lab's switches", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabUp({ text: TWO_SWITCHES }, async (name, file) => {
    const tmux = await vdeAtTerminal(file, ["term", name]);
    const prompt = `vde[${labDir(name)}/ctl]$`;
    try {
      await tmux.waitFor((s) => s.endsWith(prompt), "the prompt", 30_000);
      await tmux.keys("-l", "sw");
      await doubleTab(tmux);
      await tmux.waitFor((s) => /sw1\s+sw2/.test(s), "the switch names listed");
      await tmux.keys("-l", "1 port/pr");
      await tmux.keys("Tab");
      await tmux.waitFor((s) => s.endsWith(`${prompt} sw1 port/print`), "sw1's command completed");
      await tmux.keys("-l", " ");
      await tmux.keys("Tab");
      await tmux.waitFor((s) => s.endsWith(`${prompt} sw1 port/print 1`), "sw1's only port completed");
      await tmux.keys("C-u");

      await tmux.keys("-l", "watch");
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => /every 1s/.test(s) && /^sw1:\nPORT .*IN FR\/S/m.test(s) && /^sw2:\nPORT /m.test(s),
        "watch to draw both switches' ports",
      );
      await tmux.keys("q");
      await tmux.waitFor((s) => s.endsWith(prompt), "a key to stop watch");
      await tmux.keys("-l", "sw2 watch 2");
      await tmux.keys("Enter");
      const sw2 = (s: string) => s.slice(s.lastIndexOf("Port counters of sw2, every 2s"));
      const screen = await tmux.waitFor(
        (s) => /^ +1 +active .*lab link sw1:1-sw2:1/m.test(sw2(s)),
        "sw2 watch to draw sw2's ports",
      );
      assert.doesNotMatch(sw2(screen), /^sw1:/m);
      await tmux.keys("q");
      await tmux.waitFor((s) => s.endsWith(prompt), "a key to stop sw2 watch");
      // A switch's failure is explained with that switch's commands, as in the lab shell.
      await tmux.keys("-l", "sw1 prot/print");
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.includes("prot/print: no such command; did you mean port/print?"),
        "a typo in sw1's command explained",
      );
      await tmux.keys("-l", "sw3 port/print");
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.includes("sw3: no such command; did you mean sw1, sw2?"),
        "a typo in a switch's name explained with the lab's switches",
      );
      // `use sw1`: lines that are no lab command go to sw1, and Tab completes sw1's commands alone.
      await tmux.keys("-l", "use sw1");
      await tmux.keys("Enter");
      const using = `vde[${labDir(name)}/ctl:sw1]$`;
      await tmux.waitFor((s) => s.endsWith(using), "the prompt of use sw1");
      await tmux.keys("-l", "port/sh");
      await tmux.keys("Tab");
      await tmux.waitFor((s) => s.endsWith(`${using} port/showinfo`), "sw1's command completed after use");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => /Numports=4/.test(s), "port/showinfo run on sw1");
      await tmux.keys("-l", "use");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => s.endsWith(prompt), "use alone to end it");
      await tmux.keys("-l", "exit");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => s.includes("[exit 0]"), "vde term to exit");
    } finally {
      await tmux.kill();
    }
  });
});
