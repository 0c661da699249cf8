/**
 * Who held the cores while a slow ping was in flight. Run as root:
 *   deno run -A scripts/ping_stall_trace.ts [--over MS] [--peer COMM] -- ip netns exec a ping -c 100 -i 0.01 10.0.0.2
 *
 * Theory of operation: a ping through a switch is carried by a chain of
 * threads (the tap's plug, the switch's data-plane thread, the far plug and
 * back), each woken by the one before. On a busy machine a woken thread can
 * wait, runnable, for a core another thread holds: up to the scheduler's
 * next tick (4 ms at HZ=250), even with the other core idle. `perf sched
 * record` of the whole machine while the command runs gives every switch
 * and wake-up; a ping is the wake-up ping makes (its request into the tap)
 * up to the next wake-up of ping by the peer (`--peer`, the comm of the
 * thread that writes the reply into ping's tap: Debian's `vde_plug` by
 * default; the command's own pid is ping's, so other users' pings are not
 * taken). For each ping slower than `--over` ms (2 by default) it prints
 * what ran on the cores meanwhile (ms per thread name and process id) and
 * the threads that waited for a core during it (runnable, not running, for
 * 0.3 ms or more), so a stall is told apart from a slow hop, and its
 * holder named: a product's thread, another user's build, a GC helper.
 */
import { run } from "../test/helpers/processes.ts";

/** One stretch a thread ran on a core, from timehist's line at its end. */
export interface RunSpan {
  start: number;
  end: number;
  cpu: number;
  comm: string;
  tid: number;
  pid: number;
  /** ms it waited runnable before this stretch (timehist's "sch delay"). */
  schDelayMs: number;
}

/** A wake-up: `waker` (whoever was running: a timer's is whatever ran) made `wakee` runnable at `at`. */
export interface Wake {
  at: number;
  waker: string;
  wakerTid: number;
  wakee: string;
  wakeeTid: number;
}

const RUN_LINE = /^\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\[(\d+)(?:\/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/;
const WAKE_LINE = /^\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\[(\d+)[\d/]*\]\s+awakened: (.+?)\[(\d+)[\d/]*\]\s*$/;
// The idle task has no [tid] in timehist's lines: "<idle>" (a run) and "swapper" (a waker).
const IDLE_RUN = /^\s*[\d.]+\s+\[\d+\]\s+<idle>/;

/** Parses `perf sched timehist -w` output; lines of any other shape are skipped. */
export function parseTimehist(text: string): { runs: RunSpan[]; wakes: Wake[] } {
  const runs: RunSpan[] = [];
  const wakes: Wake[] = [];
  for (const line of text.split("\n")) {
    if (IDLE_RUN.test(line)) continue;
    const w = WAKE_LINE.exec(line);
    if (w) {
      wakes.push({
        at: Number(w[1]),
        waker: w[3]!.trim(),
        wakerTid: Number(w[4]),
        wakee: w[5]!.trim(),
        wakeeTid: Number(w[6]),
      });
      continue;
    }
    const r = RUN_LINE.exec(line);
    if (!r) continue;
    const end = Number(r[1]);
    const tid = Number(r[4]);
    runs.push({
      start: end - Number(r[8]) / 1000,
      end,
      cpu: Number(r[2]),
      comm: r[3]!.trim(),
      tid,
      pid: r[5] === undefined ? tid : Number(r[5]),
      schDelayMs: Number(r[7]),
    });
  }
  return { runs, wakes };
}

/** A ping's flight: from ping's wake-up of the chain to the peer's wake-up of ping. */
export interface Flight {
  sent: number;
  answered: number;
  ms: number;
}

/**
 * The pings of process `ping` in `wakes`, in order: each request (ping wakes another thread) paired
 * with the next reply (a thread named `peer` wakes ping) before another request.
 */
export function flights(wakes: readonly Wake[], peer: string, ping: number): Flight[] {
  const out: Flight[] = [];
  let sent = -1;
  for (const w of wakes) {
    if (w.wakerTid === ping && w.wakeeTid !== ping) sent = w.at;
    else if (w.wakeeTid === ping && w.waker === peer && sent >= 0) {
      out.push({ sent, answered: w.at, ms: (w.at - sent) * 1000 });
      sent = -1;
    }
  }
  return out;
}

/**
 * What ran during `f`, in ms per thread name and process ("V8 DefaultWorke/812": a process's threads
 * of one name summed), so a switch's data-plane thread, its main thread and its GC helpers show apart.
 */
export function heldDuring(runs: readonly RunSpan[], f: Flight): Map<string, number> {
  const held = new Map<string, number>();
  for (const r of runs) {
    const overlap = Math.min(r.end, f.answered) - Math.max(r.start, f.sent);
    if (overlap <= 0) continue;
    const key = `${r.comm}/${r.pid}`;
    held.set(key, (held.get(key) ?? 0) + overlap * 1000);
  }
  return held;
}

/** The chain's waits for a core during `f` (stretches that began within it after waiting `minMs` or more). */
export function chainDelays(runs: readonly RunSpan[], f: Flight, minMs: number): RunSpan[] {
  return runs.filter((r) => r.start >= f.sent && r.start <= f.answered && r.schDelayMs >= minMs);
}

async function main(args: string[]): Promise<void> {
  const dash = args.indexOf("--");
  const opts = dash < 0 ? args : args.slice(0, dash);
  const cmd = dash < 0 ? [] : args.slice(dash + 1);
  const over = Number(opts[opts.indexOf("--over") + 1] ?? 2);
  const peer = opts.includes("--peer") ? opts[opts.indexOf("--peer") + 1]! : "vde_plug";
  if (cmd.length === 0 || !(over >= 0)) {
    console.error("usage: ping_stall_trace.ts [--over MS] [--peer COMM] -- PING COMMAND...");
    Deno.exit(2);
  }
  const dir = await Deno.makeTempDir({ prefix: "ping-stall-" });
  try {
    const data = `${dir}/perf.data`;
    // The command's pid is ping's (ip netns exec and the shell exec it): other users' pings are not ours.
    const pidFile = `${dir}/pid`;
    const recorded = [
      "perf",
      "sched",
      "record",
      "-o",
      data,
      "--",
      "sh",
      "-c",
      'echo $$ > "$0"; exec "$@"',
      pidFile,
    ];
    const rec = await run([...recorded, ...cmd], { check: false, timeoutMs: 600_000 });
    const ping = Number((await Deno.readTextFile(pidFile)).trim());
    const th = await run(["perf", "sched", "timehist", "-w", "-i", data], {
      check: false,
      timeoutMs: 120_000,
    });
    const { runs, wakes } = parseTimehist(th.stdout);
    const all = flights(wakes, peer, ping);
    const slow = all.filter((f) => f.ms > over).sort((a, b) => b.ms - a.ms);
    console.log(
      `${all.length} pings traced (the command said ${
        /time=/.test(rec.stdout) ? "" : "no "
      }time=), ${slow.length} over ${over} ms`,
    );
    for (const f of slow) {
      const held = [...heldDuring(runs, f)].sort((a, b) => b[1] - a[1]).slice(0, 6);
      const waits = chainDelays(runs, f, 0.3).map((r) => `${r.comm}/${r.pid} ${r.schDelayMs.toFixed(2)}`);
      console.log(
        `${f.ms.toFixed(2)} ms at ${f.sent.toFixed(6)}: ran ${
          held.map(([k, ms]) => `${k} ${ms.toFixed(2)}`).join(", ")
        }` +
          ` | waited for a core (ms): ${waits.join(", ") || "none over 0.3"}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main(Deno.args);
