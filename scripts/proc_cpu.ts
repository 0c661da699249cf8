/**
 * CPU time of a process from /proc, for the bench's per-byte and
 * per-frame rows: the kernel's own accounting, which a loaded machine
 * disturbs less than a rate.
 */

/** User plus system CPU time of process `pid` (all its threads), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (clock ticks, 100/s).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/**
 * Waits (up to 10 s) until process `pid` has taken no CPU for 200 ms. Our switch warms its
 * forwarding path on its thread after DIR/ctl appears (about 0.3 s of CPU here), and the first flow
 * measured after a start counted that work as forwarding and ran beside it. Debian's switch is idle
 * at once.
 */
export async function settle(pid: number): Promise<void> {
  const until = Date.now() + 10_000;
  let last = await cpuSeconds(pid);
  let quietSince = Date.now();
  while (Date.now() < until) {
    await new Promise((res) => setTimeout(res, 50));
    const now = await cpuSeconds(pid);
    if (now !== last) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= 200) {
      return;
    }
  }
}

/**
 * User plus system CPU time of process `pid` and of the children it has waited for (fields 14-17 of
 * /proc/PID/stat), in seconds: a shell loop's commands, or the bench's own short-lived tools
 * (`ip netns exec ... ping`), are counted there once they have ended.
 */
export async function cpuWithChildrenSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14])) / 100;
}

/**
 * The cores the rest of the machine kept busy between two readings, while a row's own processes
 * took `ownSeconds` of CPU: the machine's busy time less the row's, over the wall time the readings
 * span (the machine's total time over its `cores`). Other users' processes, and the kernel's work no
 * process is charged for (interrupts): what a latency row on a shared machine competed with. Never
 * below 0 (the clock-tick accounting of the two sources differs by a tick or two).
 */
export function othersCores(
  before: MachineCpu,
  after: MachineCpu,
  ownSeconds: number,
  cores: number,
): number {
  const wall = (after.total - before.total) / cores;
  if (!(wall > 0)) return 0;
  return Math.max(0, (after.busy - before.busy - ownSeconds) / wall);
}

/** The whole machine's CPU time from /proc/stat (all cores, every process and the kernel), in seconds. */
export interface MachineCpu {
  /** Time not idle: user, nice, system, irq, softirq, steal. */
  busy: number;
  /** busy plus idle and iowait. */
  total: number;
}

/** Reads the machine's CPU time (the `cpu` line of /proc/stat; clock ticks, 100/s). */
export async function machineCpu(): Promise<MachineCpu> {
  const stat = await Deno.readTextFile("/proc/stat");
  const line = stat.slice(0, stat.indexOf("\n"));
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const f = line.split(/\s+/).slice(1, 9).map(Number);
  const idle = f[3]! + f[4]!;
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

/**
 * Context switches of process `pid`, summed over its threads: voluntary (it slept: a wait for input) and
 * involuntary (preempted), from /proc/PID/task/TID/status. Who sleeps how often per MB says where a
 * pipeline of processes waits for one another.
 */
export async function contextSwitches(pid: number): Promise<{ voluntary: number; involuntary: number }> {
  let voluntary = 0;
  let involuntary = 0;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const status = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/status`).catch(() => "");
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}
