/**
 * `vde term` at a terminal (tmux) against our switch and Debian's: the
 * command set learnt from the remote `help` drives Tab completion, Up
 * recalls, Ctrl-C clears, `exit` leaves; SIGHUP and SIGTERM leave the same way.
 */
import assert from "node:assert/strict";
import { hasCommand, run, skipUnless } from "../helpers/processes.ts";
import { startCSwitch, startOurSwitch, VDE_CLI } from "../helpers/switches.ts";
import { waitUntilAccepting } from "../helpers/vde_clients.ts";
import { tmuxMissing, TmuxSession } from "../console/_tmux.ts";
import { processAlive } from "../../src/os/processes.ts";

for (const kind of ["ours", "c"] as const) {
  Deno.test(`vde term at a terminal completes from ${kind === "c" ? "vde_switch's" : "our"} help, recalls and clears`, async (t) => {
    if (skipUnless(t, await tmuxMissing())) return;
    if (kind === "c" && skipUnless(t, (await hasCommand("vde_switch")) ? null : "needs vde_switch")) return;
    const dir = await Deno.makeTempDir({ prefix: "vde-term-tty-" });
    await Deno.mkdir(`${dir}/home`);
    const mgmt = `${dir}/mgmt`;
    const sw = kind === "c"
      ? await startCSwitch(`${dir}/sw`, { extraArgs: ["-M", mgmt] })
      : await startOurSwitch(`${dir}/sw`, { extraArgs: ["-M", mgmt] });
    let tmux: TmuxSession | undefined;
    try {
      if (kind === "ours") await waitUntilAccepting(`${dir}/sw`);
      const prompt = `vde[${mgmt}]$ `;
      tmux = await TmuxSession.start(
        `${dir}/tmux.sock`,
        `${VDE_CLI.join(" ")} term ${mgmt}`,
        { HOME: `${dir}/home` },
      );
      await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "the prompt", 30_000);
      assert.match(await tmux.screen(), /(^|\n)VDE switch V\.2\.3\.2\n/);
      await tmux.keys("port/pr", "Tab");
      await tmux.waitFor((s) => s.endsWith(`${prompt}port/print`), "port/pr to complete");
      await tmux.keys(" 99", "Enter");
      // In words at a terminal, with the usage from the remote help.
      await tmux.waitFor(
        (s) => s.includes("port/print: Invalid argument (1022)\nport 99 is past the last port"),
        "the error of port/print 99",
      );
      await tmux.keys("prot/print", "Enter");
      await tmux.waitFor(
        (s) => s.includes("prot/print: no such command; did you mean port/print?"),
        "a suggestion for a typo",
      );
      await tmux.keys("hub on", "Enter");
      await tmux.waitFor((s) => s.includes("hub mode is on"), "hub on");
      await tmux.keys("Up");
      await tmux.waitFor((s) => s.endsWith(`${prompt}hub on`), "Up to recall hub on");
      await tmux.keys("C-c");
      await tmux.waitFor((s) => s.endsWith(prompt.trimEnd()), "Ctrl-C to clear the line");
      if (kind === "c") {
        // Only the C switch has fstp: completion really comes from its help.
        await tmux.keys("fstp/pr", "Tab");
        await tmux.waitFor(
          (s) => s.endsWith(`${prompt}fstp/print`),
          "fstp/pr to complete from the remote help",
        );
        await tmux.keys("C-u");
      }
      await tmux.keys("exit", "Enter");
      await tmux.waitFor((s) => s.includes("[exit 0]"), "vde term to exit");
      const history = await Deno.readTextFile(`${dir}/home/.vde_history`);
      assert.deepEqual(history.trim().split("\n"), ["port/print 99", "prot/print", "hub on", "exit"]);
    } finally {
      await tmux?.kill();
      await sw.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("vde term at a terminal leaves on SIGHUP and SIGTERM like exit, with status 0", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-term-hup-" });
  await Deno.mkdir(`${dir}/home`);
  const mgmt = `${dir}/mgmt`;
  const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["-M", mgmt] });
  try {
    await waitUntilAccepting(`${dir}/sw`);
    for (const signal of ["SIGHUP", "SIGTERM"] as const) {
      const tmux = await TmuxSession.start(
        `${dir}/tmux-${signal}.sock`,
        `${VDE_CLI.join(" ")} term ${mgmt}`,
        { HOME: `${dir}/home` },
      );
      try {
        await tmux.waitFor((s) => s.endsWith(`vde[${mgmt}]$`), "the prompt", 30_000);
        // The only process whose command line names this management socket is the one just started.
        const found = await run(["pgrep", "-f", `vde.ts term ${mgmt}$`]);
        const pids = found.stdout.trim().split("\n").filter((l) => l !== "");
        assert.equal(pids.length, 1, `one vde term process: ${found.stdout}`);
        Deno.kill(Number(pids[0]), signal);
        await tmux.waitFor((s) => s.includes("[exit 0]"), `vde term to exit on ${signal}`);
      } finally {
        await tmux.kill();
      }
    }
  } finally {
    await sw.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde term at a terminal says so when the switch stops under it; after the user's shutdown, leaves once it has exited; exit and quit leave without a word", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-term-gone-" });
  await Deno.mkdir(`${dir}/home`);
  const mgmt = `${dir}/mgmt`;
  const closed = `vde term: ${mgmt} closed the connection (the switch or lab stopped)`;
  try {
    for (const how of ["killed", "shutdown", "exit", "quit"] as const) {
      const sw = await startOurSwitch(`${dir}/sw`, { extraArgs: ["-M", mgmt] });
      const tmux = await TmuxSession.start(
        `${dir}/tmux-${how}.sock`,
        `${VDE_CLI.join(" ")} term ${mgmt}`,
        { HOME: `${dir}/home` },
      );
      try {
        await waitUntilAccepting(`${dir}/sw`);
        await tmux.waitFor((s) => s.endsWith(`vde[${mgmt}]$`), "the prompt", 30_000);
        if (how === "killed") await sw.stop();
        else await tmux.keys(how, "Enter");
        await tmux.waitFor((s) => s.includes("[exit 0]"), `vde term to leave after the switch was ${how}`);
        assert.equal((await tmux.screen()).includes(closed), how === "killed", await tmux.screen());
        // The shell's next command (the same tap, the pid file) needs it gone, as a script's does.
        if (how === "shutdown") assert.equal(processAlive(sw.pid), false, "the switch has exited");
        // exit and quit log out: the switch serves on, and its going is no news of it.
        if (how === "exit" || how === "quit") {
          assert.equal(processAlive(sw.pid), true, "the switch serves on");
        }
      } finally {
        await tmux.kill();
        await sw.stop();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("vde term at a terminal still says so when the switch stops after refusing the user's shutdown", async (t) => {
  if (skipUnless(t, await tmuxMissing())) return;
  const dir = await Deno.makeTempDir({ prefix: "vde-term-refused-" });
  await Deno.mkdir(`${dir}/home`);
  const mgmt = `${dir}/mgmt`;
  // A console that refuses everything, `shutdown` included, and hangs up when the test says so.
  const listener = Deno.listen({ transport: "unix", path: mgmt });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const say = (s: string) => conn.write(new TextEncoder().encode(s));
        await say("VDE refusing console\n\nvde$ ");
        const buf = new Uint8Array(1024);
        let n: number | null;
        while ((n = await conn.read(buf)) !== null) {
          for (const _ of new TextDecoder().decode(buf.subarray(0, n)).matchAll(/\n/g)) {
            await say("1095 Operation not supported\n\nvde$ ");
          }
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  const tmux = await TmuxSession.start(
    `${dir}/tmux.sock`,
    `${VDE_CLI.join(" ")} term ${mgmt}`,
    { HOME: `${dir}/home` },
  );
  try {
    const prompts = (s: string) => s.split(`vde[${mgmt}]$`).length - 1;
    await tmux.waitFor((s) => prompts(s) === 1, "the prompt", 30_000);
    await tmux.keys("shutdown", "Enter");
    await tmux.waitFor((s) => prompts(s) === 2, "the refusal and the next prompt");
    for (const conn of conns) conn.close();
    await tmux.waitFor((s) => s.includes("[exit 0]"), "vde term to leave after the hang-up");
    const screen = await tmux.screen();
    assert.ok(screen.includes(`vde term: ${mgmt} closed the connection (the switch or lab stopped)`), screen);
  } finally {
    await tmux.kill();
    listener.close();
    await serving;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
