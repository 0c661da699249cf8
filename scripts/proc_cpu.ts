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
