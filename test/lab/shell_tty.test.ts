/**
 * The lab shell at a real terminal (tmux): completion of commands and node
 * names, `watch`, `help` at the terminal's width, `exec` (stopped by a Ctrl-C, also one sent with its Enter), a live
 * `link ... loss` seen as ping loss, `add`, `save`,
 * `del` of the switch in use, and `vde up` of the saved file giving the same lab; the terminal closing
 * under `vde up` takes the lab down.
 */
import assert from "node:assert/strict";
import { processesMentioning, skipUnless, skipUnlessRoot, waitFor } from "../helpers/processes.ts";
import { foreground, tmuxMissing, TmuxSession } from "../console/_tmux.ts";
import {
  doubleTab,
  leftovers,
  ONE_SWITCH,
  pingCount,
  vde,
  vdeAtTerminal,
  vdeCommand,
  withLabFile,
} from "./_helpers.ts";

const LAB = `# two switches, one host on each
name: x
topology:
  nodes:
    sw1: { kind: switch, ports: 8 } # the first switch
    sw2: { kind: switch, ports: 8 }
    h1: { kind: host, address: 10.7.0.1/24 }
    h2: { kind: host, address: 10.7.0.2/24 }
  links:
    - endpoints: [sw1, sw2]
    - endpoints: [h1, sw1]
    - endpoints: [h2, sw2]
`;

Deno.test("the lab shell completes, runs exec, impairs, grows and shrinks the lab live, and saves it", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: LAB }, async (name, file) => {
    await shellSession(name, file);
  });
});

async function shellSession(name: string, file: string): Promise<void> {
  const tmux = await vdeAtTerminal(file, ["up", file]);
  // tmux drops trailing blanks, so the prompt is matched without its space.
  const prompt = `lab[${name}]$`;
  // Runs a line; resolves with what follows its echo once a fresh prompt follows
  // that echo. (Counting prompts raced: a prompt still due from the previous
  // command, as after Ctrl-C, counted as this one's.)
  const line = async (text: string, timeoutMs = 20_000) => {
    const echo = `${prompt} ${text}`;
    const before = (await tmux.screen()).split(echo).length;
    await tmux.keys("-l", text);
    await tmux.keys("Enter");
    const after = (s: string) => {
      const at = s.lastIndexOf(echo);
      return s.split(echo).length > before ? s.slice(at + echo.length) : null;
    };
    const screen = await tmux.waitFor(
      (s) => (after(s)?.includes(prompt) ?? false) || s.includes("[exit"),
      `the output of "${text}"`,
      timeoutMs,
    );
    return after(screen) ?? screen;
  };
  try {
    await tmux.waitFor((s) => s.includes(prompt), "the lab shell", 60_000);

    await tmux.keys("-l", "ex");
    await tmux.keys("Tab");
    await tmux.waitFor((s) => s.endsWith(`${prompt} exec`), "exec completed");
    await tmux.keys("-l", " h");
    await doubleTab(tmux);
    await tmux.waitFor((s) => /h1\s+h2/.test(s), "host names listed");
    await tmux.keys("C-u");
    await tmux.keys("-l", "sw1 port/pr");
    await tmux.keys("Tab");
    await tmux.waitFor((s) => s.endsWith(`${prompt} sw1 port/print`), "a switch command completed");
    await tmux.keys("C-u");

    // watch: every switch's port counters, or one switch's, until a key is pressed.
    await tmux.keys("-l", "sw2 wat");
    await tmux.keys("Tab");
    await tmux.waitFor((s) => s.endsWith(`${prompt} sw2 watch`), "sw2's watch completed");
    await tmux.keys("Enter");
    await tmux.waitFor(
      (s) => /Port counters of sw2, every 1s[^]*\n +2 +active .*lab link h2:eth0-sw2:2/.test(s),
      "sw2 watch",
    );
    await tmux.keys("q");
    await tmux.waitFor((s) => s.endsWith(prompt), "a key to stop watch");
    await tmux.keys("-l", "watch");
    await tmux.keys("Enter");
    await tmux.waitFor((s) => /every 1s[^]*^sw1:\nPORT [^]*^sw2:\nPORT /m.test(s), "watch of both switches");
    await tmux.keys("q");
    await tmux.waitFor((s) => s.endsWith(prompt), "a key to stop watch");

    // help at the terminal's width (160): a long command's help under it, at the column.
    let out = await line("help");
    assert.match(
      out,
      /^link A-B down\|up\|clear\|KEY VALUE\.\.\.\n {20,}down pulls the cable/m,
      out,
    );
    assert.match(out, /^watch \[secs\] +every switch's port counters .* SWITCH watch: one switch's$/m, out);

    out = await line("exec h1 ping -c 2 -W 2 10.7.0.2");
    assert.match(out, /2 received/, out);

    // A command that runs on is stopped by Ctrl-C, and the lab stays up.
    const endless = `${prompt} exec h1 ping -i 0.2 10.7.0.2`;
    await tmux.keys("-l", endless.slice(prompt.length + 1));
    await tmux.keys("Enter");
    // This ping's own lines: the ping -c 2 above left an icmp_seq=2 on the screen, and a Ctrl-C sent on
    // that one (before this exec held the keyboard, which a loaded machine made late) met the prompt.
    await tmux.waitFor(
      (s) => s.includes(endless) && /icmp_seq=2 /.test(s.slice(s.lastIndexOf(endless))),
      "the ping to run",
    );
    await tmux.keys("C-c");
    await tmux.waitFor((s) => s.includes("(stopped)"), "Ctrl-C to stop the ping");
    out = await line("exec h1 ping -c 1 -W 2 10.7.0.2");
    assert.match(out, /1 received/, out);

    // Ctrl-C in the same write as Enter comes before exec holds the keyboard (it first waits for the lab
    // to settle): it is the ping's all the same, not the prompt's, which would have left the ping running.
    const sent = `${prompt} exec h1 ping -i 0.2 10.7.0.2`;
    const stops = (s: string) => s.split("(stopped)").length;
    const stopped = stops(await tmux.screen());
    await tmux.keys("-l", `${sent.slice(prompt.length + 1)}\r\x03`);
    const screen = await tmux.waitFor(
      (s) => stops(s) > stopped && s.endsWith(prompt),
      "Ctrl-C sent with its Enter to stop the ping",
    );
    assert.doesNotMatch(screen.slice(screen.lastIndexOf(sent)), /Ctrl-C again/, screen);

    await line("link sw1-sw2 loss 100%");
    out = await line("exec h1 ping -c 3 -i 0.2 -W 1 10.7.0.2");
    assert.match(out, /0 received/, out);
    out = await line("links");
    assert.match(out, /sw1:1-sw2:1 +up .*loss 100%/, out);
    await line("link sw1-sw2 clear");
    out = await line("exec h1 ping -c 2 -W 2 10.7.0.2");
    assert.match(out, /2 received/, out);

    await line("add switch sw3 ports 4");
    await line("add host h3 address 10.7.0.3/24");
    out = await line("add link h3 sw3");
    assert.match(out, /added link h3:eth0-sw3:1/, out);
    await line("add link sw3 sw1");
    out = await line("exec h3 ping -c 2 -W 2 10.7.0.2");
    assert.match(out, /2 received/, out);

    out = await line("save");
    assert.match(out, new RegExp(`saved ${file}`), out);
    const saved = await Deno.readTextFile(file);
    assert.match(saved, /# the first switch/);
    assert.match(saved, /h3: \{ kind: host, address: 10\.7\.0\.3\/24 \}/);

    // del at the terminal, live: the switch in use goes with its links, and lines go to the lab again.
    await tmux.keys("-l", "use sw3");
    await tmux.keys("Enter");
    await tmux.waitFor((s) => s.endsWith(`lab[${name}:sw3]$`), "the prompt of sw3 in use");
    await tmux.keys("-l", "del sw3");
    await tmux.keys("Enter");
    await tmux.waitFor(
      (s) => /removed switch sw3 and 2 links h3:eth0-sw3:1, sw3:2-sw1:3\n/.test(s) && s.endsWith(prompt),
      "sw3 removed, and the lab's own prompt",
    );
    out = await line("exec h3 ping -c 1 -W 1 10.7.0.2");
    assert.match(out, /Network is unreachable/, out);

    await tmux.keys("-l", "down");
    await tmux.keys("Enter");
    await tmux.waitFor((s) => s.includes("[exit 0]"), "vde up to end after down", 30_000);
    assert.deepEqual(await leftovers(name), []);

    // The saved file brings the grown lab back.
    const up = await vde(["up", "-d", file]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await pingCount(name, "h3", "10.7.0.2", 2), 2);
    const status = await vde(["status", name]);
    assert.match(status.stdout, /^sw3 +switch/m);
    assert.match(status.stdout, /^h3:eth0-sw3:1 +up/m);
    assert.equal((await vde(["down", name])).code, 0);
    assert.deepEqual(await leftovers(name), []);
  } finally {
    await tmux.kill();
  }
}

Deno.test("closing the terminal of vde up (window or ssh gone) takes the lab down, leaving nothing", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: LAB }, async (name, file) => {
    const tmux = await vdeAtTerminal(file, ["up", file]);
    try {
      await tmux.waitFor((s) => s.includes(`lab[${name}]$`), "the lab shell", 60_000);
    } finally {
      await tmux.kill();
    }
    // Its log lines and the shell's last newline had nowhere to go: the take-down must finish anyway.
    await waitFor(async () => (await vde(["status", name])).stderr.includes(`no lab ${name} is up`), {
      timeoutMs: 30_000,
      what: "the lab to be taken down",
    });
    assert.deepEqual(await leftovers(name), []);
  });
});

/** An interactive bash (job control, prompt `sh$`) at a terminal of its own, beside lab file `file`. */
function interactiveShell(file: string): Promise<TmuxSession> {
  const dir = file.slice(0, file.lastIndexOf("/"));
  return TmuxSession.start(`${dir}/tmux.sock`, "bash --norc --noprofile -i", {
    PS1: "sh$ ",
    NO_COLOR: "1",
    VDE_HISTORY: `${dir}/history`,
    HISTFILE: "", // bash keeps no history file: none in root's home, none written after the clean-up
  });
}

Deno.test("vde up LAB & at an interactive shell serves the lab; fg gives the shell, Ctrl-Z and bg leave it serving", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const tmux = await interactiveShell(file);
    const term = `${vdeCommand().join(" ")} term ${name} -c nodes`;
    try {
      await tmux.waitFor((s) => s.endsWith("sh$"), "the shell prompt", 20_000);
      await tmux.keys(`${vdeCommand().join(" ")} up ${file} &`, "Enter");
      await tmux.waitFor(
        (s) => s.includes(`lab ${name} runs in the background: the lab shell comes back with fg`),
        "the lab to say it runs without its shell",
        60_000,
      );
      // Not stopped at the terminal (SIGTTOU): the lab answers.
      await tmux.keys(term, "Enter");
      await tmux.waitFor((s) => /^sw1 +switch /m.test(s), "the lab to answer in the background", 30_000);
      await foreground(tmux, `lab[${name}]$`, "the lab shell after fg");
      await tmux.keys("C-z");
      await tmux.waitFor((s) => /\[1\]\+\s+Stopped/.test(s) && s.endsWith("sh$"), "Ctrl-Z to stop the job");
      await tmux.keys("clear", "Enter");
      await tmux.keys("bg", "Enter");
      await tmux.keys(term, "Enter");
      await tmux.waitFor((s) => /^sw1 +switch /m.test(s), "the lab to answer after bg (no SIGTTIN)", 30_000);
      await foreground(tmux, `lab[${name}]$`, "the lab shell after the second fg");
      await tmux.keys("-l", "down");
      await tmux.keys("Enter");
      await tmux.waitFor(
        (s) => s.includes("`down` in the shell, taking it down"),
        "down at the shell given back",
      );
    } finally {
      await tmux.kill();
    }
  });
});

Deno.test("vde down of a lab whose vde up was stopped with Ctrl-Z stops it at once: in the background it ends without touching the terminal", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const tmux = await interactiveShell(file);
    try {
      await tmux.waitFor((s) => s.endsWith("sh$"), "the shell prompt", 20_000);
      await tmux.keys(`${vdeCommand().join(" ")} up ${file}`, "Enter");
      await tmux.waitFor((s) => s.includes(`lab[${name}]$`), "the lab shell", 60_000);
      await tmux.keys("C-z");
      await tmux.waitFor((s) => /\[1\]\+\s+Stopped/.test(s) && s.endsWith("sh$"), "Ctrl-Z to stop the job");
      // Continued in the background by vde down's SIGCONT, it took itself down, and Deno's restoring of the
      // terminal's mode as it exited stopped it again (SIGTTOU) until the grace ran out and it was killed.
      const down = await vde(["down", name]);
      assert.match(
        down.stdout,
        new RegExp(`^stopped vde up \\(pid \\d+\\)\nremoved lab ${name}\n$`),
        down.stdout,
      );
    } finally {
      await tmux.kill();
    }
    assert.deepEqual(await leftovers(name), []);
  });
});

Deno.test("exec HOST CMD & in the lab shell gives the prompt back once the shell ends, not when CMD does", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  const mark = `700.${Deno.pid}`;
  await withLabFile({ text: LAB }, async (name, file) => {
    const tmux = await vdeAtTerminal(file, ["up", file]);
    const prompt = `lab[${name}]$`;
    try {
      await tmux.waitFor((s) => s.endsWith(prompt), "the lab shell", 60_000);
      // A writer: it keeps writing to the output it was given, long after the shell's grace for output.
      await tmux.keys("-l", `exec h1 sh -c 'while :; do echo t; sleep 0.1; done' ${mark} & echo started`);
      await tmux.keys("Enter");
      // It keeps running; the shell does not wait for it.
      await tmux.waitFor((s) => s.includes("started") && s.endsWith(prompt), "the prompt after exec", 20_000);
      await tmux.keys("-l", "nodes");
      await tmux.keys("Enter");
      await tmux.waitFor((s) => /^h1 +host /m.test(s), "the next command to run", 20_000);
      // Its output is no longer shown, yet still read: a closed pipe would have killed it with SIGPIPE.
      await new Promise((r) => setTimeout(r, 1000));
      // At least one: the writer's shell, forking a `sleep`, has for a moment a child that still bears its
      // command line (before exec), so exactly one flaked.
      assert.ok(processesMentioning(mark).length >= 1, "the background writer still runs");
    } finally {
      await tmux.kill();
    }
    await waitFor(async () => (await vde(["status", name])).stderr.includes(`no lab ${name} is up`), {
      timeoutMs: 30_000,
      what: "the lab to be taken down",
    });
    assert.deepEqual(processesMentioning(mark), [], "taking the lab down ends it");
  });
});

Deno.test("Ctrl-C that clears a typed line in the lab shell does not arm the take-down: the next one warns first", async (t) => {
  if (skipUnlessRoot(t) || skipUnless(t, await tmuxMissing())) return;
  await withLabFile({ text: ONE_SWITCH }, async (name, file) => {
    const tmux = await vdeAtTerminal(file, ["up", file]);
    const prompt = `lab[${name}]$`;
    try {
      await tmux.waitFor((s) => s.endsWith(prompt), "the lab shell", 60_000);
      await tmux.keys("-l", "nod");
      await tmux.keys("C-c");
      // Cleared without the warning (the typed text is wiped before ^C is echoed).
      await tmux.waitFor((s) => s.endsWith(`${prompt} ^C\n${prompt}`), "the line cleared");
      assert.equal((await vde(["status", name])).code, 0, "the lab is still up");
      await tmux.keys("C-c");
      await tmux.waitFor(
        (s) => /\^C \(Ctrl-C again or `down` takes the lab down\)\n\S+\$$/.test(s),
        "the warning",
      );
      // At once: the warning holds for a few seconds only.
      await tmux.keys("C-c");
      await waitFor(async () => (await vde(["status", name])).stderr.includes(`no lab ${name} is up`), {
        timeoutMs: 30_000,
        what: "the lab to be taken down by the warned Ctrl-C",
      });
    } finally {
      await tmux.kill();
    }
    assert.deepEqual(await leftovers(name), []);
  });
});
