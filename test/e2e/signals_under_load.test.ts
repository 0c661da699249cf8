/**
 * SIGTERM, SIGINT and SIGHUP in the middle of full-speed traffic, to every
 * long-running command whose data plane has a thread or an FFI call in
 * flight: `vde switch`, `vde plug` (vde:// to vde://, tap://, slirp://, and
 * with `--no-thread` to tap://) and `vde slirp`. Each must exit 0, print no
 * crash, and leave nothing behind: no socket file, no tap, no port held on
 * the switch it was plugged into.
 *
 * The traffic: Debian's `vde_plug` on a switch fed by this test with
 * full-size broadcast frames as fast as it takes them, so every port of that
 * switch (the command under test among them) receives a flood.
 *
 * Rounds: VDE_SIGNAL_ROUNDS per signal and command (default 1, so the suite
 * stays under a minute: each round starts a Deno process; the target
 * of 50 each is `VDE_SIGNAL_ROUNDS=50`, about 25 minutes). Root only.
 */
import assert from "node:assert/strict";
import { canNetns, type Netns, withNetns } from "../helpers/netns.ts";
import { hasCommand, type ManagedProcess, skipUnless, sleep } from "../helpers/processes.ts";
import { REPO_ROOT, startCSwitch, startOurSwitch, type SwitchHandle } from "../helpers/switches.ts";
import { listDir, portFiles, waitForPortFiles } from "../helpers/vde_clients.ts";

const VDE = [Deno.execPath(), "run", "-A", `${REPO_ROOT}/mod.ts`];
const ROUNDS = Math.max(1, Number(Deno.env.get("VDE_SIGNAL_ROUNDS") ?? "1"));
const SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGINT", "SIGHUP"];
/** How long traffic flows through a command before the signal. */
const LOAD_MS = 400;
/** The tap `vde switch --tap` makes in the host's namespace: unique per test process. */
const SWITCH_TAP = `sigsw${Deno.pid % 100000}`;

async function missing(): Promise<string | null> {
  const netns = await canNetns();
  if (netns !== null) return netns;
  for (const tool of ["vde_switch", "vde_plug"]) {
    if (!(await hasCommand(tool))) return `${tool} is not installed`;
  }
  return null;
}

/** Length-prefixed (vde_plug's stdio framing) full-size broadcast frames, 1 MiB of them. */
function floodChunk(): Uint8Array {
  const frame = new Uint8Array(1514);
  frame.fill(0xff, 0, 6);
  frame.set([0x02, 0, 0, 0, 0x5f, 0x01], 6);
  frame.set([0x88, 0xb5], 12); // local experimental ethertype: no stack answers it
  const count = Math.floor((1 << 20) / (frame.length + 2));
  const out = new Uint8Array(count * (frame.length + 2));
  for (let i = 0; i < count; i++) {
    const at = i * (frame.length + 2);
    out[at] = frame.length >> 8;
    out[at + 1] = frame.length & 0xff;
    out.set(frame, at + 2);
  }
  return out;
}

/** A Debian vde_plug on `dir` fed with broadcasts as fast as it takes them, until `stop`. */
function startFlood(dir: string): { stop(): Promise<void> } {
  const child = new Deno.Command("vde_plug", {
    args: [`vde://${dir}`],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const chunk = floodChunk();
  const writer = child.stdin.getWriter();
  let running = true;
  const pump = (async () => {
    try {
      while (running) await writer.write(chunk);
    } catch { /* vde_plug is gone */ }
  })();
  return {
    async stop() {
      running = false;
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      await pump;
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

/** Sends `signal` and checks the exit: status 0 and no crash on stderr. */
async function signalAndCheck(p: ManagedProcess, signal: Deno.Signal): Promise<void> {
  p.kill(signal);
  const exited = await Promise.race([p.status.then(() => true), sleep(15_000).then(() => false)]);
  const status = await p.stop({ timeoutMs: 1000 });
  assert.ok(exited, `${p.name} did not exit within 15 s of ${signal}`);
  assert.equal(status.code, 0, `${p.name} after ${signal}: ${JSON.stringify(status)}\n${p.stderr}`);
  assert.doesNotMatch(p.stderr, /panicked|Uncaught|Segmentation|core dumped/, `${p.name}: ${p.stderr}`);
}

/** Our client sockets (`.PID-NNNNN`) and port sockets left in a switch directory. */
async function leftovers(dir: string, pid: number): Promise<string[]> {
  return (await listDir(dir)).filter((n) => n.startsWith(`.${String(pid).padStart(5, "0")}-`));
}

Deno.test("signals during full-speed traffic: vde plug, vde slirp and vde switch exit 0 and leave nothing behind", async (t) => {
  if (skipUnless(t, await missing())) return;
  const switches: SwitchHandle[] = [];
  await withNetns(async (lab) => {
    lab.defer(async () => {
      for (const sw of switches) await sw.stop();
    });
    const tmp = await lab.tempDir();
    const a = `${tmp}/a`;
    const b = `${tmp}/b`;
    switches.push(await startCSwitch(a), await startCSwitch(b));
    const ns: Netns = await lab.namespace("plug");
    const flood = startFlood(a);
    lab.defer(() => flood.stop());
    await waitForPortFiles(a, 1);

    /** Runs one command on switch A under load, signals it, checks that its port and files are gone. */
    const roundOn = async (
      name: string,
      cmd: string[],
      signal: Deno.Signal,
      extra: { ready?: RegExp; otherDir?: string; tap?: string } = {},
    ) => {
      const p = ns.spawn(cmd, { name });
      await waitForPortFiles(a, 2, 20_000).catch((err) => {
        throw new Error(`${name} did not attach: ${err.message}\n${p.stderr}`);
      });
      if (extra.otherDir !== undefined) await waitForPortFiles(extra.otherDir, 1, 20_000);
      if (extra.ready !== undefined) await p.waitForOutput(extra.ready, 20_000, "stderr");
      await sleep(LOAD_MS);
      await signalAndCheck(p, signal);
      // Its port on the C switch is freed and its own socket files are gone.
      await waitForPortFiles(a, 1, 5000);
      assert.deepEqual(await leftovers(a, p.pid), [], `${name} left files in the switch directory`);
      if (extra.otherDir !== undefined) {
        await waitForPortFiles(extra.otherDir, 0, 5000);
        assert.deepEqual(await leftovers(extra.otherDir, p.pid), []);
      }
      if (extra.tap !== undefined) {
        const r = await ns.run(["ip", "link", "show", extra.tap], { check: false });
        assert.equal(r.success, false, `${name} left tap ${extra.tap}`);
      }
    };

    /** Our switch under its own flood, forwarded to a second client, signalled; nothing may remain. */
    const switchRound = async (signal: Deno.Signal, extraArgs: string[], tap?: string) => {
      const dir = `${tmp}/ours`;
      const sw = (await startOurSwitch(dir, { extraArgs })).process;
      const ownFlood = startFlood(dir);
      try {
        await waitForPortFiles(dir, 1, 20_000);
        // A second client, so the flood is forwarded, not only received.
        const sink = spawnSink(dir, ns);
        await waitForPortFiles(dir, 2, 10_000);
        await sleep(LOAD_MS);
        await signalAndCheck(sw, signal);
        await sink.stop({ timeoutMs: 2000 });
      } finally {
        await ownFlood.stop();
      }
      const left = (await listDir(dir)).filter((n) => n === "ctl" || n.startsWith(".") || /^\d/.test(n));
      assert.deepEqual(left, [], "vde switch left sockets behind");
      assert.deepEqual(await portFiles(dir), []);
      if (tap !== undefined) {
        const r = await new Deno.Command("ip", {
          args: ["link", "show", tap],
          stderr: "null",
          stdout: "null",
        })
          .output();
        assert.equal(r.success, false, `vde switch left tap ${tap}`);
      }
    };

    for (let round = 0; round < ROUNDS; round++) {
      for (const signal of SIGNALS) {
        await t.step(
          `round ${round + 1}, ${signal}: vde plug vde:// vde://`,
          () =>
            roundOn("vde plug vde vde", [...VDE, "plug", `vde://${a}`, `vde://${b}`], signal, {
              otherDir: b,
            }),
        );
        await t.step(
          `round ${round + 1}, ${signal}: vde plug vde:// tap://`,
          () =>
            roundOn("vde plug vde tap", [...VDE, "plug", `vde://${a}`, "tap://sigt0"], signal, {
              tap: "sigt0",
            }),
        );
        await t.step(
          `round ${round + 1}, ${signal}: vde plug --no-thread vde:// tap://`,
          () =>
            roundOn(
              "vde plug main thread",
              [...VDE, "plug", "--no-thread", `vde://${a}`, "tap://sigt1"],
              signal,
              {
                tap: "sigt1",
              },
            ),
        );
        await t.step(
          `round ${round + 1}, ${signal}: vde plug vde:// slirp://`,
          () => roundOn("vde plug vde slirp", [...VDE, "plug", `vde://${a}`, "slirp://"], signal),
        );
        await t.step(
          `round ${round + 1}, ${signal}: vde slirp`,
          () => roundOn("vde slirp", [...VDE, "slirp", "--sock", a], signal, { ready: /vde slirp: on / }),
        );
        await t.step(
          `round ${round + 1}, ${signal}: vde switch --dataplane main`,
          () => switchRound(signal, ["--dataplane", "main"]),
        );
        // The switch's data-plane thread (the default) holds the port sockets and the tap when the signal comes.
        await t.step(
          `round ${round + 1}, ${signal}: vde switch --tap`,
          () => switchRound(signal, ["--tap", SWITCH_TAP], SWITCH_TAP),
        );
      }
    }
  });
});

function spawnSink(dir: string, ns: Netns): ManagedProcess {
  return ns.spawn(["vde_plug", `vde://${dir}`, "null://"], { name: "vde_plug sink" });
}
