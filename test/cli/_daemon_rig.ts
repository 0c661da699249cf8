/**
 * A program for daemon.test.ts: it starts itself in the background through
 * `daemonize`, and its copy plays the part its first argument names:
 * `interrupted-at-ready` has its parent interrupted (Ctrl-C) before it
 * writes the ready mark, then stops as a copy that got the signal does;
 * `interrupt-lost` has it interrupted too, but loses that SIGINT (as
 * a process that inherits it ignored does until it listens) and serves until a second one;
 * `stubborn` ignores SIGTERM and never serves; `slow` never serves but ends
 * on SIGTERM; `flags` serves at once and reports the runtime flags it got
 * (whether --v8-flags=--expose-gc gave it `gc`, and --location's URL); `env`
 * serves at once and reports whether a command it runs inherits the mark
 * that makes a process the copy; `ended-as-told` and `ended` say a line
 * and exit 0 without serving, the first marking its end as one it was told
 * to make (reportEndedAsTold); `stopped-logging` and `stopped` are told
 * SIGTERM by someone else than their parent before they serve, mark it
 * (reportStoppedBeforeServing) and exit 0, the first keeping its stop line in
 * a log file, the second saying it on stderr (`stopped-odd-log`: a log
 * file whose name holds a tab and a newline; `stopped-at-ready` marks it and
 * reports ready all the same, and ends at the next SIGTERM). The parent prints what
 * `daemonize` ended with.
 */
import {
  daemonize,
  isDaemonChild,
  reportEndedAsTold,
  reportReady,
  reportStoppedBeforeServing,
  StartTimeout,
} from "../../src/cli/daemon.ts";
import { ExitStatus } from "../../src/cli/main.ts";

const [mode = ""] = Deno.args;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (isDaemonChild()) {
  if (mode === "interrupted-at-ready") {
    let stopped = false;
    Deno.addSignalListener("SIGINT", () => stopped = true);
    Deno.kill(Deno.ppid, "SIGINT");
    // The parent passes the signal on; only then is the mark written, so the parent reads it interrupted.
    for (let i = 0; i < 500 && !stopped; i++) await sleep(20);
    reportReady();
    Deno.exit(stopped ? 0 : 3);
  }
  if (mode === "interrupt-lost") {
    // As a process that inherits SIGINT ignored does until it listens: the first is lost, and the copy comes up.
    let got = 0;
    Deno.addSignalListener("SIGINT", () => got++);
    Deno.kill(Deno.ppid, "SIGINT");
    for (let i = 0; i < 500 && got === 0; i++) await sleep(20);
    reportReady();
    // Serving now: only a stop signal passed on after the mark ends it.
    for (let i = 0; i < 1000 && got < 2; i++) await sleep(20);
    Deno.exit(got < 2 ? 3 : 0);
  }
  if (mode === "env") {
    // What the copy runs must not take itself for a copy (a vde switch -d there would not detach).
    const child = new Deno.Command("sh", { args: ["-c", "echo ${VDE_DAEMON_CHILD:-unset}"] }).outputSync();
    reportReady(`copy: its children see the mark ${new TextDecoder().decode(child.stdout).trim()}\n`);
    Deno.exit(0);
  }
  if (mode === "flags") {
    const gc = typeof (globalThis as { gc?: unknown }).gc;
    reportReady(`copy: gc is a ${gc}, location ${globalThis.location?.href}\n`);
    Deno.exit(0);
  }
  if (mode === "ended-as-told" || mode === "ended") {
    console.error("copy: ends before serving");
    if (mode === "ended-as-told") reportEndedAsTold();
    Deno.exit(0);
  }
  if (mode === "stopped-logging" || mode === "stopped" || mode === "stopped-odd-log") {
    const { promise, resolve } = Promise.withResolvers<void>();
    Deno.addSignalListener("SIGTERM", () => resolve());
    Deno.kill(Deno.pid, "SIGTERM");
    await promise;
    if (mode === "stopped") console.error("copy: SIGTERM while joining: stopped before serving");
    const logfile = mode === "stopped-logging"
      ? "/tmp/rig.log"
      : mode === "stopped-odd-log"
      ? "/tmp/rig\tnew\nline.log"
      : undefined;
    reportStoppedBeforeServing("SIGTERM", logfile);
    Deno.exit(0);
  }
  if (mode === "stopped-at-ready") {
    // A stop signal from another that reached the copy as it came up: marked, then ready said all the same.
    Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
    console.error("copy: starting");
    reportStoppedBeforeServing("SIGTERM");
    reportReady("copy: serving\n");
    await sleep(60_000);
    Deno.exit(3);
  }
  if (mode === "stubborn") Deno.addSignalListener("SIGTERM", () => {});
  await sleep(60_000);
  Deno.exit(0);
}
try {
  // Only the modes that test the start timeout get a short one: a copy that reports at once still takes
  // Deno's start-up, over a second on a loaded machine. `stubborn` must have its SIGTERM listener in place
  // when the timeout's SIGTERM comes, or it ends as `slow` does (killed: false): 10 s covers that start-up.
  const startTimeoutMs = mode === "slow" ? 1000 : mode === "stubborn" ? 10_000 : 30_000;
  await daemonize("rig", startTimeoutMs, 1000);
  console.log("up in the background");
} catch (err) {
  if (err instanceof StartTimeout) console.log(`timed out, killed: ${err.killed}`);
  if (!(err instanceof ExitStatus)) throw err;
  if (err.message !== "") console.error(err.message);
  console.log(`exit ${err.code}`);
  Deno.exit(err.code);
}
