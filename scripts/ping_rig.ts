/**
 * A/B rig for the bench's ping rows (bench_dataplane.ts, interleavedPings):
 * three chains side by side between two namespaces, each on its own tap pair
 * and /24, pinged in turns (10 ms apart, the order reversed every turn):
 * Debian's switch as the reference (t0), and two of our switches, A (t1) and
 * B (t2), each from a checkout of its own. With Debian's `vde_plug tap://`
 * ends (`taps`, the row "switch with vde_plug taps") or, on our chains, our
 * own `vde plug` (`plugs`, the row "own switch and own tap:// plugs").
 * Run as root:
 *   deno run -A scripts/ping_rig.ts TURNS PINGS taps|plugs A_REPO B_REPO
 *
 * RIG_B_ENV="K=V K2=V2" is added to the environment of B's vde processes
 * (a flag under test; RIG_A_ENV to A's); RIG_B_HOOK="CMD" runs CMD PID for
 * each of B's vde processes once every chain answers (an outside action on
 * a warmed process), or of A's with RIG_HOOK_ON=A (the same code in both slots, the
 * hook moved from one to the other between runs cancels what the slot
 * itself adds). Prints each turn's medians, then per chain the median of the
 * turn medians with their range, and B/A per turn (its median and range).
 * RIG_TRACE=1 also records A's and B's data-plane threads (the switch's,
 * or with `plugs` b's plug thread: the one that answers) during the turns
 * with wake_trace.ts's events and prints, per thread, the medians over its
 * cold wake-ups not preempted of the user time from the wait's return to the
 * first call and to the next wait: a figure the machine's load moves less
 * than a ping's round trip.
 * Names (namespaces, /tmp directory) carry `ping2rig`; all is removed at the
 * end, and on SIGINT.
 */

import { median } from "./rig_args.ts";
import { envOf, sh, spawnKept, waitFor } from "./rig_process.ts";
import { parseTrace, summarize, wakes } from "./wake_trace.ts";

const [turnsArg, pingsArg, variant, aRepo, bRepo] = Deno.args;
if (!aRepo || !bRepo || (variant !== "taps" && variant !== "plugs")) {
  console.error("usage: ping_rig.ts TURNS PINGS taps|plugs A_REPO B_REPO");
  Deno.exit(2);
}
const TURNS = Number(turnsArg);
const PINGS = Number(pingsArg);
const NS = ["ping2rig-a", "ping2rig-b"];
const DIR = Deno.makeTempDirSync({ prefix: "ping2rig-" });
const children: Deno.ChildProcess[] = [];

const spawn = (cmd: string[], env: Record<string, string> = {}) => spawnKept(children, cmd, env);

function vde(repo: string): string[] {
  return ["deno", "run", "-A", "--v8-flags=--no-maglev", `${repo}/src/cli/vde.ts`];
}

async function pingTimes(to: string, count: number): Promise<number[]> {
  const out = await sh([
    "ip",
    "netns",
    "exec",
    NS[0]!,
    "ping",
    "-c",
    String(count),
    "-i",
    "0.01",
    "-w",
    "10",
    to,
  ], false);
  return [...out.matchAll(/time=([\d.]+) ?ms/g)].map((m) => Number(m[1]));
}

async function cleanup(): Promise<void> {
  for (const p of children) {
    try {
      p.kill("SIGTERM");
    } catch { /* already gone */ }
  }
  await Promise.allSettled(children.map((p) => p.status));
  for (const ns of NS) await sh(["ip", "netns", "del", ns], false);
  Deno.removeSync(DIR, { recursive: true });
}
Deno.addSignalListener("SIGINT", () => cleanup().then(() => Deno.exit(130)));

interface Chain {
  name: string;
  dev: string;
  net: string;
  /** Pids of the chain's vde processes (switch and plugs), for RIG_B_HOOK. */
  pids: number[];
}

/** The data-plane thread of `pid`: its `worker-N` thread that has used the most CPU (the warm-up's). */
async function dataThread(pid: number): Promise<number> {
  let best = -1;
  let bestCpu = -1;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const comm = (await Deno.readTextFile(`/proc/${pid}/task/${t.name}/comm`)).trim();
    const stat = (await Deno.readTextFile(`/proc/${pid}/task/${t.name}/stat`)).split(") ")[1]!.split(" ");
    const cpu = Number(stat[11]) + Number(stat[12]);
    if (comm.startsWith("worker-") && cpu > bestCpu) [best, bestCpu] = [Number(t.name), cpu];
  }
  if (best < 0) throw new Error(`no worker thread in ${pid}`);
  return best;
}

/** Starts perf on A's and B's data-plane threads; the function returned stops it and prints. */
async function startTrace(chains: Chain[]): Promise<() => Promise<void>> {
  // The switch is the first pid; with `plugs`, b's plug (the last) answers each request.
  const tids = await Promise.all([chains[1]!, chains[2]!].map((c) => dataThread(c.pids.at(-1)!)));
  const data = `${DIR}/trace.data`;
  const events = "raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch";
  const perf = new Deno.Command("perf", {
    args: ["record", "-q", "-e", events, "-t", tids.join(","), "-o", data],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await new Promise((r) => setTimeout(r, 500));
  return async () => {
    perf.kill("SIGINT");
    await perf.status;
    const text = await sh(["perf", "script", "-i", data, "-F", "tid,time,event,trace"], false);
    for (const [i, tid] of tids.entries()) {
      const lines = text.split("\n").filter((l) => l.trimStart().startsWith(`${tid} `));
      const all = wakes(parseTrace(lines.join("\n")));
      const cold = all.filter((w) => w.cold && !w.preempted && w.gaps.length > 1);
      const first = cold.map((w) => w.gaps[0]!);
      const total = cold.map((w) => w.gaps.reduce((a, b) => a + b, 0));
      console.log(
        `${i ? "B" : "A"} thread ${tid}: ${cold.length} cold wake-ups, user µs to the first call ${
          median(first).toFixed(1)
        }, to the next wait ${median(total).toFixed(1)}`,
      );
      // wake_trace's own summary: the commonest call sequences, cold and warm.
      for (const line of summarize(all).slice(0, 3)) console.log(`  ${line}`);
    }
  };
}

try {
  for (const ns of NS) {
    await sh(["ip", "netns", "add", ns]);
    await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }
  const chains: Chain[] = [];
  const specs: [string, string | null, Record<string, string>][] = [
    ["C", null, {}],
    ["A", aRepo, envOf(Deno.env.get("RIG_A_ENV"))],
    ["B", bRepo, envOf(Deno.env.get("RIG_B_ENV"))],
  ];
  for (const [i, [name, repo, env]] of specs.entries()) {
    const dev = `t${i}`;
    const net = `10.198.${i + 1}`;
    const sock = `${DIR}/sw${name}`;
    const pids: number[] = [];
    const sw = repo === null
      ? spawn(["vde_switch", "-s", sock])
      : spawn([...vde(repo), "switch", "--sock", sock], env);
    if (repo !== null) pids.push(sw.pid);
    await waitFor(`switch ${name}`, async () => {
      try {
        await Deno.stat(`${sock}/ctl`);
        return true;
      } catch {
        return false;
      }
    });
    for (const [j, ns] of NS.entries()) {
      await sh(["ip", "-n", ns, "tuntap", "add", "dev", dev, "mode", "tap"]);
      await sh(["ip", "-n", ns, "addr", "add", `${net}.${j + 1}/24`, "dev", dev]);
      await sh(["ip", "-n", ns, "link", "set", dev, "up"]);
      const plug = repo !== null && variant === "plugs"
        ? [...vde(repo), "plug", `vde://${sock}`, `tap://${dev}`]
        : ["vde_plug", `vde://${sock}`, `tap://${dev}`];
      const p = spawn(["ip", "netns", "exec", ns, ...plug], env);
      if (repo !== null && variant === "plugs") pids.push(p.pid);
    }
    chains.push({ name, dev, net, pids });
  }
  for (const c of chains) {
    await waitFor(
      `ping through ${c.name}`,
      async () => (await pingTimes(`${c.net}.2`, 1)).length === 1,
      60_000,
    );
  }
  // Past every thread's warm-up (a switch or plug thread warms for up to a second of CPU).
  await new Promise((r) => setTimeout(r, 3000));
  const hook = Deno.env.get("RIG_B_HOOK");
  if (hook) {
    // `ip netns exec` execs the command: each pid is deno's own.
    for (const pid of chains[Deno.env.get("RIG_HOOK_ON") === "A" ? 1 : 2]!.pids) {
      console.log(`hook ${pid}: ${(await sh([...hook.split(" "), String(pid)], false)).trim()}`);
    }
  }
  const trace = Deno.env.get("RIG_TRACE") === "1" ? await startTrace(chains) : null;
  const turns: number[][] = chains.map(() => []);
  // Turn 0 is thrown away: the first pings after the start meet threads still settling.
  for (let t = -1; t < TURNS; t++) {
    const order = t % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
    const meds: number[] = [0, 0, 0];
    for (const i of order) {
      const times = await pingTimes(`${chains[i]!.net}.2`, PINGS);
      meds[i] = times.length ? median(times) : NaN;
    }
    if (t < 0) continue;
    meds.forEach((m, i) => turns[i]!.push(m));
    console.log(`turn ${t + 1}: C ${meds[0]} A ${meds[1]} B ${meds[2]} ms`);
  }
  for (const [i, c] of chains.entries()) {
    const xs = turns[i]!;
    console.log(
      `${c.name}: median ${median(xs).toFixed(3)} ms (${Math.min(...xs).toFixed(3)}-${
        Math.max(...xs).toFixed(3)
      })`,
    );
  }
  const ratio = turns[2]!.map((b, t) => b / turns[1]![t]!);
  const ac = turns[1]!.map((a, t) => a / turns[0]![t]!);
  const bc = turns[2]!.map((b, t) => b / turns[0]![t]!);
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
  console.log(`B/A per turn: ${fmt(ratio)}; A/C ${fmt(ac)}; B/C ${fmt(bc)}`);
  if (trace !== null) await trace();
} finally {
  await cleanup();
}
